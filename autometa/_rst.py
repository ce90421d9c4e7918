"""Module docstrings (reST) as plain text for ``--help``."""

from __future__ import annotations

import re

__all__ = ["plain_text"]

_ROLE = re.compile(
    r":(?:py:)?(?:class|func|meth|mod|attr|data|obj|exc|ref|doc):`~?([^`<]*?)(?:\s*<[^>]*>)?`"
)
_LITERAL = re.compile(r"``([^`]+)``")


def plain_text(text: str | None) -> str | None:
    """Strip reST markup a terminal shows raw: roles (``:class:`~a.B``` -> ``B``) and
    double-backtick literals (````x```` -> ```x```, the way plain-text help quotes code)."""
    if text is None:
        return None

    def role(m: re.Match[str]) -> str:
        target = m.group(1).strip()
        return target.rsplit(".", 1)[-1] if m.group(0).split("`", 1)[1].startswith("~") else target

    return _LITERAL.sub(r"`\1`", _ROLE.sub(role, text))

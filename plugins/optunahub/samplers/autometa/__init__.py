"""OptunaHub package ``samplers/autometa``: re-exports :class:`autometa.optuna.MetaSampler`."""

from __future__ import annotations

from autometa.optuna import MetaKnowledge, MetaSampler

__all__ = ["MetaKnowledge", "MetaSampler"]

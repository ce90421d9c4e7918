"""``autometa info``: what this installation has and where it writes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from autometa._version import __version__
from autometa.tracking import default_tracking_uri

DESCRIPTION = "Print the version, the compute device, the default MLflow tracking URI, the shipped checkpoints and the registered task pools."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the information as JSON")


def _card_files(data: dict[str, Any]) -> list[str]:
    """The shipped files a model card describes (``file``, or the keys of ``files``/``sha256``)."""
    if isinstance(data.get("file"), str):
        return [data["file"]]
    for key in ("files", "sha256", "size_bytes"):
        if isinstance(data.get(key), dict):
            return sorted(data[key])
    return []


def _what(data: dict[str, Any], card: str) -> str:
    for key in ("name", "algo"):
        if isinstance(data.get(key), str):
            return data[key]
    return card.removesuffix(".json")


def shipped_checkpoints() -> list[dict[str, object]]:
    """One entry per file shipped inside the package (``autometa/checkpoints``), from the model cards.

    A file named by several cards (the classifier's card lists its members) is described by its
    own card. Each entry: ``file``, ``what`` (the card's name or algorithm), ``size_bytes`` (on disk),
    ``sha256`` (as the card records it) and ``card``.
    """
    root = Path(__file__).resolve().parent.parent / "checkpoints"
    out: dict[str, dict[str, object]] = {}
    errors: list[dict[str, object]] = []
    for card in sorted(root.glob("*model_card*.json")):
        try:
            data = json.loads(card.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            errors.append({"card": card.name, "error": f"unreadable model card: {exc}"})
            continue
        hashes = data.get("sha256")
        for name in _card_files(data):
            if name in out and data.get("file") != name:
                continue  # a file with a card of its own is described by that card
            path = root / name
            sha = hashes.get(name) if isinstance(hashes, dict) else hashes
            out[name] = ({
                "file": name,
                "what": _what(data, card.name),
                "size_bytes": path.stat().st_size if path.is_file() else None,
                "sha256": sha,
                "card": card.name,
            })  # fmt: skip
    return [out[name] for name in sorted(out)] + errors


def _size(n: object) -> str:
    if not isinstance(n, int):
        return "missing"
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def checkpoint_table(entries: list[dict[str, object]]) -> list[str]:
    """The shipped files as aligned text rows: file, size, short SHA-256, what it is."""
    rows = [("file", "size", "sha256", "what")]
    for e in entries:
        if "error" in e:
            rows.append((str(e["card"]), "", "", str(e["error"])))
            continue
        rows.append(
            (
                str(e["file"]),
                _size(e["size_bytes"]),
                str(e["sha256"] or "")[:12],
                _clip(str(e["what"]), 60),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3]
        for r in rows
    ]


def registered_pools() -> dict[str, str]:
    try:
        from autometa.tasks import list_pools
    except ImportError:
        return {}
    return dict(list_pools())


def gather() -> dict[str, object]:
    import torch

    from autometa._utils import resolve_device

    dev = resolve_device("auto")
    info: dict[str, object] = {
        "version": __version__,
        "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU",
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "tracking_uri": default_tracking_uri(),
        "checkpoints": shipped_checkpoints(),
        "pools": registered_pools(),
    }
    try:
        from autometa.meta import LEARNERS

        info["algorithms"] = sorted(LEARNERS)
    except ImportError:  # pragma: no cover
        info["algorithms"] = []
    return info


def run(args: argparse.Namespace) -> int:
    info = gather()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"autometa {info['version']}  (torch {info['torch']}, {info['torch_threads']} threads)")
    print(f"device (auto):   {info['device']}  [{info['device_name']}]")
    print(f"tracking URI:    {info['tracking_uri']}")
    print("algorithms:      " + (", ".join(info["algorithms"]) or "(none)"))
    print("shipped checkpoints (autometa/checkpoints; `autometa info --json` for the full hashes):")
    for line in checkpoint_table(info["checkpoints"]):
        print(line)
    print("task pools:")
    pools = info["pools"] or {"(none)": ""}
    width = max(len(name) for name in pools if len(name) <= 20)
    for name, desc in pools.items():
        if len(name) > width:  # a long pattern on its own line, its description below it
            print(f"  {name}\n  {'':<{width}}  {desc}")
        else:
            print(f"  {name:<{width}}  {desc}")
    return 0

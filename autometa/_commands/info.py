"""``autometa info``: what this installation has and where it writes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from autometa._version import __version__
from autometa.tracking import default_tracking_uri

DESCRIPTION = "Print the version, the compute device, the default MLflow tracking URI, the shipped checkpoints and the registered task pools."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the information as JSON")


def shipped_checkpoints() -> list[dict[str, object]]:
    """Model cards of the weights shipped inside the package (``autometa/checkpoints``)."""
    root = Path(__file__).resolve().parent.parent / "checkpoints"
    out = []
    for card in sorted(root.glob("*model_card*.json")):
        try:
            data = json.loads(card.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            data = {"error": f"unreadable model card: {exc}"}
        entry = {"card": card.name}
        for key in ("name", "algorithm", "file", "sha256", "size_bytes"):
            if key in data:
                entry[key] = data[key]
        out.append(entry)
    return out


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
    print("shipped checkpoints:")
    for c in info["checkpoints"] or [{"card": "(none)"}]:
        print("  - " + ", ".join(f"{k}={v}" for k, v in c.items()))
    print("task pools:")
    for name, desc in (info["pools"] or {"(none)": ""}).items():
        print(f"  - {name}: {desc}")
    return 0

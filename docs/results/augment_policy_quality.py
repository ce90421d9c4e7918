"""The shipped augmentation policy against its untrained self and against no augmentation.

Run from the repository root: ``OMP_NUM_THREADS=1 python docs/results/augment_policy_quality.py``
(about a minute). The companion learner (``augment_learner.pt``) adapts on support sets of
tasks drawn from the validation tables :data:`autometa.tasks.roles.AUGMENT_VALIDATION` (never
in the policy's meta-training, never evaluation tables) augmented by (a) nothing, (b) the policy
as its training command builds it before any step (same config, same torch seed), (c) the
shipped policy; the same tasks and the same augmentation seeds for (b) and (c). Writes the
mean query loss/accuracy and the per-batch loss differences to
``augment_policy_quality.json``; ``tests/checkpoints/test_augment_quality.py`` runs a smaller
copy of the comparison, and ``docs/data.md`` and ``docs/augment.md`` quote the JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # this checkout's autometa, not another installed copy
CHECKPOINTS = ROOT / "autometa" / "checkpoints"
OUT = ROOT / "docs" / "results" / "augment_policy_quality.json"
TASKS_PER_BATCH = 8


def policies() -> tuple[Any, Any, Any]:
    """(companion learner, untrained policy, shipped policy)."""
    import torch

    from autometa.augment import AugmentationPolicy, load_policy
    from autometa.augment.train import load_companion_learner

    card = json.loads((CHECKPOINTS / "augment_model_card.json").read_text())
    command = card["command"]
    seed = int(command.split("--seed ")[1].split()[0]) if "--seed " in command else 0
    learner = load_companion_learner(CHECKPOINTS / "augment_learner.pt")
    torch.manual_seed(seed)  # the training command's seed: the policy before its first step
    config = {k: v for k, v in card["policy"]["config"].items() if k != "kind"}
    return learner, AugmentationPolicy(**config), load_policy(CHECKPOINTS / "augment_policy.pt")[0]


def batch_losses(n_batches: int, seed: int = 10_000) -> dict[str, np.ndarray]:
    """Query loss per batch of :data:`TASKS_PER_BATCH` validation tasks: none, untrained, shipped."""
    import torch

    from autometa.augment._data import KeelTaskSource
    from autometa.augment.train import _batch, _evaluate
    from autometa.tasks import roles

    torch.set_num_threads(1)
    learner, untrained, shipped = policies()
    names = [n.split("/", 1)[1] for n in roles.AUGMENT_VALIDATION]
    pool = KeelTaskSource(names, 16, 10, (16, 128), name="augment-validation")
    rng = np.random.default_rng(seed)
    batches = [_batch(pool, rng, TASKS_PER_BATCH) for _ in range(n_batches)]
    out: dict[str, list[float]] = {"none": [], "untrained": [], "shipped": []}
    for i, batch in enumerate(batches):
        for key, policy in (("none", None), ("untrained", untrained), ("shipped", shipped)):
            out[key].append(_evaluate(learner, policy, [batch], seed=i)["loss"])
    return {k: np.asarray(v) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    from autometa.tasks import roles

    n_batches = 32
    losses = batch_losses(n_batches)
    gain = losses["untrained"] - losses["shipped"]
    payload = {
        "name": "augment_policy_quality",
        "command": "OMP_NUM_THREADS=1 python docs/results/augment_policy_quality.py",
        "tables": list(roles.AUGMENT_VALIDATION),
        "tasks": n_batches * TASKS_PER_BATCH,
        "mean_query_loss": {k: round(float(v.mean()), 4) for k, v in losses.items()},
        "shipped_minus_untrained": round(float(-gain.mean()), 4),
        "shipped_minus_none": round(float((losses["shipped"] - losses["none"]).mean()), 4) + 0.0,
        "batches_shipped_beats_untrained": int((gain > 0).sum()),
        "batches_shipped_beats_none": int((losses["shipped"] < losses["none"]).sum()),
        "batches": n_batches,
    }
    OUT.write_text(json.dumps(payload, indent=1) + "\n")
    print(json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Meta-train the shipped default augmentation policy (and its companion meta-learner).

Run as a module::

    python -m autometa.augment.train --out autometa/checkpoints/augment_policy.pt \\
        --learner-steps 1500 --policy-steps 1500 --time-budget-min 25

Two phases, both on the dev pool only (random-MLP/SCM/GMM synthetic tasks mixed 50/50 with
the KEEL dev sets in :data:`autometa.tasks.roles.AUGMENT_TRAIN`, meta-validated on
:data:`autometa.tasks.roles.AUGMENT_VALIDATION`; no set of any evaluation list in
:mod:`autometa.tasks.roles` and no reserved set is used):

1. a second-order MAML learner (masked MLP, 5 inner SGD steps) is meta-trained without
   augmentation; it is saved next to the policy as the companion learner
   (``augment_learner.pt``);
2. the policy is meta-trained alone for that frozen learner (:func:`train_policy`): each
   episode's support sets are augmented by the policy, MAML adapts on them, and Adam steps
   the policy to lower the query loss after adaptation.

The model card (``augment_model_card.json``) records the data sets, the exact command,
meta-validation metrics (query loss/accuracy on tasks from held-out meta-validation sets
with no augmentation, the uniform random policy and the learned policy), the SHA-256 of the
policy file and the code version.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autometa._provenance import file_facts, git_commit, recipe_command, write_card
from autometa._version import __version__
from autometa.augment._data import RESERVED_SETS, KeelTaskSource
from autometa.augment._learner import AugmentedLearner, train_policy
from autometa.augment._policy import AugmentationPolicy, UniformPolicy, save_module, save_policy
from autometa.meta._base import build_learner
from autometa.meta._integrity import verify_payload, verify_shipped
from autometa.tasks import roles
from autometa.tasks._pools import MixturePool
from autometa.tasks._synthetic import SyntheticPrior
from autometa.tasks._task import collate_tasks
from autometa.tracking import start_run

__all__ = ["load_companion_learner", "main", "save_companion_learner"]

#: KEEL dev sets of each role (bare names), from the one registry of data-set roles
META_TRAIN_SETS: tuple[str, ...] = tuple(n.split("/", 1)[1] for n in roles.AUGMENT_TRAIN)
META_VAL_SETS: tuple[str, ...] = tuple(n.split("/", 1)[1] for n in roles.AUGMENT_VALIDATION)
LEARNER_FORMAT = "autometa.augment_learner/1"


def _batch(pool: Any, rng: np.random.Generator, n_tasks: int) -> Any:
    """``n_tasks`` tasks of ``pool`` collated into one batch."""
    return collate_tasks([pool.sample(rng) for _ in range(n_tasks)], c_max=pool.c_max)


def save_companion_learner(
    learner: Any, path: str | Path, metadata: dict[str, Any] | None = None
) -> Path:
    """Save a meta-learner as ``{format, algo, config, state_dict, metadata}``."""
    return save_module(
        path, LEARNER_FORMAT, learner, metadata, algo=learner.algo, config=learner.get_config()
    )


def load_companion_learner(path: str | Path) -> Any:
    """Load a learner saved by :func:`save_companion_learner`."""

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"No learner checkpoint at {str(path)!r}.")
    verify_shipped(path)  # the shipped learner must match the SHA-256 its model card records
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(payload, dict):
        verify_payload(payload, path)
    if not isinstance(payload, dict) or payload.get("format") != LEARNER_FORMAT:
        raise ValueError(f"{str(path)!r} is not an autometa augmentation companion learner.")
    learner = build_learner(payload["algo"], **payload["config"])
    learner.load_state_dict(payload["state_dict"])
    return learner


def _evaluate(learner: Any, policy: Any, batches: list, seed: int) -> dict[str, float]:
    """Mean query loss/accuracy after adapting on (augmented) supports."""
    losses, accs = [], []
    for i, batch in enumerate(batches):
        if policy is None:
            m = learner.evaluate(batch)
        else:
            m = AugmentedLearner(learner, policy, seed=seed + i).evaluate(batch)
        losses.append(m["loss"])
        accs.append(m["accuracy"])
    return {"loss": float(np.mean(losses)), "accuracy": float(np.mean(accs))}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m autometa.augment.train",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--out", default="autometa/checkpoints/augment_policy.pt", help="policy checkpoint path"
    )
    p.add_argument(
        "--learner-out", default=None, help="companion learner path (default: next to --out)"
    )
    p.add_argument("--card", default=None, help="model card path (default: next to --out)")
    p.add_argument(
        "--learner-steps", type=int, default=1500, help="MAML meta-training steps (phase 1)"
    )
    p.add_argument(
        "--learner",
        default=None,
        help="start from this companion learner checkpoint and skip phase 1",
    )
    p.add_argument(
        "--adapt-steps",
        type=int,
        default=None,
        help="inner steps the policy is trained for and the saved learner adapts with (default: --inner-steps)",
    )
    p.add_argument(
        "--policy-steps", type=int, default=1500, help="policy meta-training steps (phase 2)"
    )
    p.add_argument("--tasks-per-batch", type=int, default=8)
    p.add_argument("--learner-lr", type=float, default=1e-3)
    p.add_argument("--policy-lr", type=float, default=0.02)
    p.add_argument("--n-augment", type=int, default=2, help="augmented rows per real row")
    p.add_argument("--inner-steps", type=int, default=5)
    p.add_argument("--inner-lr", type=float, default=0.4)
    p.add_argument("--d-max", type=int, default=16)
    p.add_argument("--c-max", type=int, default=10)
    p.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    p.add_argument("--n-range", type=int, nargs=2, default=[16, 128], help="support rows per task")
    p.add_argument(
        "--time-budget-min",
        type=float,
        default=None,
        help="split evenly between the phases (all of it for phase 2 with --learner)",
    )
    p.add_argument("--val-batches", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--no-mlflow", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run both phases and write the policy, companion learner and model card."""
    args = _parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    command = recipe_command("autometa.augment.train", argv)
    out = Path(args.out)
    learner_out = (
        Path(args.learner_out) if args.learner_out else out.with_name("augment_learner.pt")
    )
    card_out = Path(args.card) if args.card else out.with_name("augment_model_card.json")

    torch.manual_seed(args.seed)
    commit = git_commit()  # the code version that runs (recorded before training)
    train_sets = META_TRAIN_SETS
    synth_kwargs = {
        "d_max": args.d_max,
        "c_max": args.c_max,
        "n_range": tuple(args.n_range),
        "n_query": 128,
    }
    keel = KeelTaskSource(train_sets, args.d_max, args.c_max, tuple(args.n_range))
    pool = MixturePool(
        [SyntheticPrior(**synth_kwargs), keel], weights=[0.5, 0.5], name="synthetic+keel-dev"
    )
    val_pool = KeelTaskSource(
        META_VAL_SETS, args.d_max, args.c_max, tuple(args.n_range), name="keel-dev-val"
    )
    val_rng = np.random.default_rng(10_000 + args.seed)
    val_batches = [_batch(val_pool, val_rng, args.tasks_per_batch) for _ in range(args.val_batches)]

    net = {"kind": "mlp", "d_max": args.d_max, "c_max": args.c_max, "hidden": list(args.hidden)}
    learner = build_learner("maml", net=net, inner_steps=args.inner_steps, inner_lr=args.inner_lr)
    budget = (
        None
        if args.time_budget_min is None
        else args.time_budget_min * 60.0 / (1 if args.learner else 2)
    )
    params = {k: v for k, v in vars(args).items() if k not in ("no_mlflow",)}
    history: dict[str, list] = {"learner": [], "policy": []}

    with start_run(
        "autometa-augment", run_name="augment-policy", params=params, enabled=not args.no_mlflow
    ) as run:
        # ---- phase 1: MAML without augmentation (or a given learner)
        t0 = time.monotonic()
        if args.learner:
            learner = load_companion_learner(args.learner)
            learner_steps_done = int(
                torch.load(args.learner, map_location="cpu", weights_only=True)["metadata"].get(
                    "steps", 0
                )
            )
            print(
                f"[learner] loaded {args.learner} ({learner_steps_done} steps); phase 1 skipped",
                flush=True,
            )
        else:
            opt = torch.optim.Adam(learner.parameters(), lr=args.learner_lr)
            rng = np.random.default_rng(args.seed)
            ema = None
            for step in range(args.learner_steps):
                loss, metrics = learner.meta_loss(_batch(pool, rng, args.tasks_per_batch))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                ema = metrics["loss"] if ema is None else 0.98 * ema + 0.02 * metrics["loss"]
                if step % 50 == 0:
                    history["learner"].append((step, ema))
                    run.log_metrics({"learner/loss_ema": ema}, step=step)
                    print(
                        f"[learner] step {step} loss(ema) {ema:.4f} {time.monotonic() - t0:.0f}s",
                        flush=True,
                    )
                if budget is not None and time.monotonic() - t0 > budget:
                    break
            learner_steps_done = step + 1
        learner_time = time.monotonic() - t0
        if args.adapt_steps is not None:
            learner.inner_steps = int(args.adapt_steps)
        save_companion_learner(
            learner, learner_out, {"steps": learner_steps_done, "command": command}
        )

        # ---- phase 2: the policy alone, learner frozen
        policy = AugmentationPolicy(n_augment=args.n_augment)
        t1 = time.monotonic()
        state = {"ema": None, "step": 0}

        def log(step: int, m: dict[str, float]) -> None:
            state["ema"] = (
                m["loss"] if state["ema"] is None else 0.98 * state["ema"] + 0.02 * m["loss"]
            )
            state["step"] = step + 1
            if step % 50 == 0:
                history["policy"].append((step, state["ema"]))
                run.log_metrics({"policy/loss_ema": state["ema"], **m}, step=step)
                probs = {k[9:]: round(v, 3) for k, v in m.items() if k.startswith("policy/p_")}
                print(
                    f"[policy] step {step} loss(ema) {state['ema']:.4f} {probs} {time.monotonic() - t1:.0f}s",
                    flush=True,
                )

        policy = train_policy(
            learner,
            lambda r: _batch(pool, r, args.tasks_per_batch),
            policy=policy,
            steps=args.policy_steps,
            lr=args.policy_lr,
            seed=args.seed + 1,
            time_budget_s=budget,
            callback=log,
        )
        policy_time = time.monotonic() - t1

        # ---- meta-validation on held-out dev sets
        metrics = {
            "none": _evaluate(learner, None, val_batches, args.seed),
            "uniform": _evaluate(
                learner, UniformPolicy(n_augment=args.n_augment), val_batches, args.seed
            ),
            "learned": _evaluate(learner, policy, val_batches, args.seed),
        }
        print("meta-validation:", json.dumps(metrics), flush=True)
        run.log_metrics({f"val/{k}/{m}": v for k, d in metrics.items() for m, v in d.items()})

        metadata = {
            "command": command,
            "autometa_version": __version__,
            "git_commit": commit,
            "learner_file": learner_out.name,
        }
        save_policy(policy, out, metadata)
        facts = {
            "companion_learner": {
                **file_facts(learner_out),
                "algo": learner.algo,
                "config": learner.get_config(),
                "meta_training_steps": learner_steps_done,
                "seconds": round(learner_time, 1),
            },
            "policy": {
                "config": policy.get_config(),
                "meta_training_steps": state["step"],
                "seconds": round(policy_time, 1),
                "learned_distribution_typical_task": policy.describe(),
            },
            "data": {
                "synthetic": {"generator": "autometa.tasks.SyntheticPrior", **synth_kwargs},
                "keel_meta_train": list(train_sets),
                "keel_meta_validation": list(META_VAL_SETS),
                "held_out_for_autometa_bench_augment": [
                    n.split("/", 1)[1] for n in roles.AUGMENT_EVALUATION
                ],
                "held_out_for_evaluation": {
                    cmd: list(names) for cmd, names in roles.EVALUATION.items()
                },
                "reserved_never_used": list(RESERVED_SETS),
                "p_synthetic": 0.5,
            },
            "metrics": {
                "meta_validation": metrics,
                "n_val_tasks": args.val_batches * args.tasks_per_batch,
            },
            "training_curve": history,
            "command": command,
            "autometa_version": __version__,
            "git_commit": metadata["git_commit"],
            "torch": torch.__version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        card = write_card(
            card_out, out, facts, name="autometa default augmentation policy", indent=2
        )
        run.log_artifact(str(out), artifact_path="checkpoints")
        run.log_artifact(str(card_out), artifact_path="checkpoints")
        print(f"wrote {out} (sha256 {card['sha256'][:12]}), {learner_out}, {card_out}", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

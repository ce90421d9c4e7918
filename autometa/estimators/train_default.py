"""Rebuild the classifier's shipped checkpoints: ``python -m autometa.estimators.train_default``.

Three stages, all on dev data only (the lists: :mod:`autometa.tasks.roles`):

1. ``neural``: meta-train the ``neural`` member's learner (a Meta-LSTM over the masked MLP,
   its support sets augmented by a fixed, untrained augmentation policy that is removed from
   the shipped file: a first-order learner cannot train a policy) with
   :class:`~autometa.meta.MetaTrainer` on a 50/50 mixture of the synthetic task prior and
   tasks cut from the ``NEURAL_TRAIN`` data sets, meta-validated on ``PORTFOLIO_TRAIN``
   data sets (which the learner never trains on). Every task is built the way
   :class:`~autometa.estimators.AutoMetaClassifier` builds its views at ``fit`` time: a
   :class:`~autometa.tasks.TabularEncoder` fitted on the support rows, a random placement of
   the encoded columns, a random class relabeling. The best meta-validation checkpoint is
   copied to ``autometa/checkpoints/classifier_default.pt``.
2. ``hypernet``: the same for the ``hypernet`` member (hypernetwork + Meta-LSTM steps +
   augmentation policy), copied to ``autometa/checkpoints/classifier_hypernet.pt``.
3. ``portfolio``: on many tasks subsampled from ``PORTFOLIO_TRAIN`` (n_train from 16 to
   512), fit every member, keep its held-out probabilities, and learn the combination
   weights (:func:`~autometa.estimators.fit_portfolio`); written to
   ``autometa/checkpoints/classifier_portfolio.json``.

``--learner`` and ``--ship none`` train the ablation learners (e.g. the Meta-LSTM without
augmentation) without touching the shipped files. Finally
``autometa/checkpoints/model_card.json`` records data sets, algorithms, commands, code
version, metrics and SHA-256 hashes. Everything is logged to MLflow. The default budget fits
a 2-core CPU in about an hour; a GPU only makes stages 1 and 2 faster.
"""

from __future__ import annotations

import argparse
import json
import pickle
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autometa._metrics import mean_ovr_auc
from autometa._provenance import git_commit, write_card
from autometa.augment import AugmentedLearner
from autometa.estimators import AutoMetaClassifier, Portfolio, fit_portfolio
from autometa.estimators._dev_data import (
    EVALUATION,
    NEURAL_TRAIN,
    PORTFOLIO_TRAIN,
    load_dev_dataset,
)
from autometa.meta import (
    CheckpointConfig,
    MetaTrainer,
    OptimizerConfig,
    TrackingConfig,
    ValidationConfig,
    build_learner,
)
from autometa.meta._checkpoint import (
    atomic_torch_save,
    learner_from_payload,
    load_checkpoint,
    make_payload,
)
from autometa.tasks import DevDatasetPool, MixturePool, ViewPool
from autometa.tasks._split import support_query_split
from autometa.tasks._synthetic import SyntheticPrior
from autometa.tasks.datasets import family_of

CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
D_MAX, C_MAX, HIDDEN = 32, 10, (64, 64)


# ----------------------------------------------------------------------------- task pools
def make_pools() -> tuple[Any, Any]:
    """The meta-training pool (synthetic + NEURAL_TRAIN) and the meta-validation pool (PORTFOLIO_TRAIN)."""

    synthetic = SyntheticPrior(D_MAX, C_MAX, n_range=(16, 256), n_query=64, d_range=(2, D_MAX))
    dev = DevDatasetPool(
        NEURAL_TRAIN, D_MAX, C_MAX, n_range=(16, 256), n_query=64, name="dev-neural"
    )
    train = ViewPool(MixturePool([synthetic, dev], [0.5, 0.5], name="mixture"))
    val = ViewPool(
        DevDatasetPool(
            PORTFOLIO_TRAIN, D_MAX, C_MAX, n_range=(16, 256), n_query=64, name="dev-portfolio"
        )
    )
    return train, val


# ----------------------------------------------------------------------------- stage 1
#: the neural learners this script can meta-train: ``(description, builder)``; the shipped
#: members are ``meta-lstm+augment`` (``neural``) and ``hypernet+augment`` (``hypernet``)
NET = {"kind": "mlp", "d_max": D_MAX, "c_max": C_MAX, "hidden": list(HIDDEN)}
LEARNERS: dict[str, str] = {
    "metasgd": "Meta-SGD (learned initialization and per-parameter inner step sizes; first-order "
    "meta-gradient), 5 inner steps, masked MLP 32-64-64-10",
    "meta-lstm": "Meta-LSTM (Ravi & Larochelle 2017): learned (MAML) initialization as the LSTM's initial "
    "cell state + coordinate-wise LSTM optimizer, 5 inner steps, masked MLP 32-64-64-10",
    "meta-lstm+augment": "Meta-LSTM as above, meta-trained on support sets augmented by a FIXED AugmentationPolicy "
    "at its initialization (2 augmented rows per real row; the first-order Meta-LSTM gives a policy no gradient, "
    "so it is frozen, not learned); the policy is removed from the shipped file, so fit adapts on the real rows",
    "hypernet+augment": "HyperNet + Meta-LSTM steps: a DeepSets encoder of the support set FiLM-modulates the "
    "learned initialization of the masked MLP body and writes the head, then 5 Meta-LSTM steps adapt the head; "
    "support sets augmented by a jointly meta-learned AugmentationPolicy",
}
#: where each stage ships its learner
SHIPPED = {"neural": "classifier_default.pt", "hypernet": "classifier_hypernet.pt"}


def build_neural_learner(kind: str) -> Any:
    """A fresh learner of one of the :data:`LEARNERS` kinds (torch's global RNG seeds it)."""

    if kind == "metasgd":
        return build_learner("metasgd", net=NET, inner_steps=5, inner_lr=0.1, first_order=True)
    if kind == "meta-lstm":
        return build_learner("meta-lstm", net=NET, inner_steps=5, init_lr=0.1)
    if kind == "meta-lstm+augment":
        learner = AugmentedLearner(build_learner("meta-lstm", net=NET, inner_steps=5, init_lr=0.1))
        learner.policy.requires_grad_(
            False
        )  # first-order: it could not learn; a fixed augmentation
        return learner
    if kind == "hypernet+augment":
        hyper = build_learner("hypernet-maml", net=NET, inner_rule="meta-lstm", inner_steps=5, inner_lr=0.1,
                              first_order=True)  # fmt: skip
        return AugmentedLearner(hyper)
    raise ValueError(f"unknown learner {kind!r}; choose one of {sorted(LEARNERS)}.")


def train_neural(
    steps: int, seed: int, out_dir: Path, tracking: bool, resume: bool = False,
    kind: str = "meta-lstm+augment", ship: str | None = "classifier_default.pt",
) -> dict[str, Any]:  # fmt: skip
    """Meta-train a neural member's learner; copy the best checkpoint to ``ship``; return model-card facts."""

    torch.manual_seed(seed)
    learner = build_neural_learner(kind)
    train, val = make_pools()
    trainer = MetaTrainer(
        learner, train, meta_batch_size=8, device="auto", seed=seed, progress=False,
        optimizer=OptimizerConfig(lr=1e-3, grad_clip=5.0), checkpoints=CheckpointConfig(out_dir, every=100),
        tracking=TrackingConfig(tracking, run_name=f"classifier-default-{kind}"),
        validation=ValidationConfig(val, every=100, tasks=32),
    )  # fmt: skip
    t0 = time.monotonic()
    result = trainer.fit(steps, resume=resume)
    done = result.steps
    print(f"[{kind}] {done} steps in {time.monotonic() - t0:.0f} s; best meta-val loss "
          f"{result.best_val_loss} at step {result.best_step}", flush=True)  # fmt: skip
    best = result.best_checkpoint or result.last_checkpoint
    if ship and kind == "meta-lstm+augment":
        strip_policy(best, CHECKPOINT_DIR / ship)
    elif ship:
        shutil.copyfile(best, CHECKPOINT_DIR / ship)
    return {
        "file": ship,
        "learner": kind,
        "algorithm": LEARNERS[kind],
        "learner_config": learner.get_config(),
        "steps": done,
        "meta_batch_size": 8,
        "wall_seconds": round(time.monotonic() - t0),
        "best_step": result.best_step,
        "meta_val_loss": result.best_val_loss,
        "meta_val_history": [
            {"step": int(h["step"]), "loss": float(h["meta_val/loss"]), "accuracy": float(h.get("meta_val/accuracy", float("nan")))}
            for h in result.history if "meta_val/loss" in h
        ],
        "mlflow_run_id": result.run_id,
        "data": stage_data(),
    }  # fmt: skip


def stage_data() -> dict[str, list[str]]:
    """The data sets a neural stage meta-trains and meta-validates on (:func:`make_pools`).

    Recorded in each stage's own facts in the model card, so that a card whose two neural files
    were trained at different times (one retrained after a change of the lists) says which
    lists each file saw; the card's shared ``data`` block is the current lists.
    """
    return {
        "meta_train": ["synthetic (SyntheticPrior: mlp/scm/gmm, 50% of tasks)", *NEURAL_TRAIN],
        "meta_validation": list(PORTFOLIO_TRAIN),
    }


def strip_policy(src: Path, dst: Path) -> Path:
    """Write ``src``'s learner without its augmentation policy (the bare base learner) to ``dst``.

    For a checkpoint whose policy was frozen at its initialization during meta-training: the
    shipped file then holds only what was meta-learned. The metadata records the removal.
    """

    payload = load_checkpoint(src)
    learner = learner_from_payload(payload)
    metadata = (
        json.loads(payload["metadata"])
        if isinstance(payload.get("metadata"), str)
        else dict(payload.get("metadata") or {})
    )
    metadata["policy_removed"] = (
        "the AugmentationPolicy of this run was frozen at its initialization (a first-order Meta-LSTM gives "
        "it no gradient); it is removed, so the neural member adapts on the real rows"
    )
    return atomic_torch_save(
        make_payload(getattr(learner, "base", learner), metadata=metadata), dst
    )


# ----------------------------------------------------------------------------- stage 2
#: the members the portfolio weighs: the classifier's default members (the in-context learner and
#: the classical families; see ``DEFAULT_MEMBERS`` in :mod:`autometa.estimators._classifier`)
MEMBERS = ("icl", "et", "gbm", "knn", "lr", "rf")
#: L2 pull toward uniform weights, chosen by ``--select-l2 0.2,0.05,0.005,0.0005`` (3-fold
#: leave-data-set-family-out validation on the portfolio pool; AUC of the learned minus the
#: uniform blend: +0.0000, +0.0002, +0.0007, -0.0028; ``model_card.json``, portfolio.l2_selection).
#: The evaluation sets of ``autometa bench classifier`` played no part in the choice.
PORTFOLIO_L2 = 0.005


def member_predictions(
    X: Any,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    seed: int,
    members: tuple[str, ...] = MEMBERS,
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Fit each member alone on ``train`` rows; return meta-features, held-out probabilities, labels."""

    classes = np.unique(y[train])
    test = test[np.isin(y[test], classes)]
    # one fit with every member (uniform weights) shares the preprocessing; each member's own
    # probabilities are then read off the fitted members
    clf = AutoMetaClassifier(members=list(members), blend="uniform", random_state=seed)
    clf.fit(X.iloc[train], y[train])
    probs = clf.member_predictions(X.iloc[test])
    z = np.array(list(clf.meta_features_.values()))
    y_idx = np.searchsorted(classes, y[test])
    return z, probs, y_idx


def _portfolio_task(spec: tuple[int, str, int, int], deadline: float) -> dict[str, Any] | None:
    """Held-out member predictions on one subsampled task ``(index, data set, n_train, seed)``."""

    torch.set_num_threads(1)
    t, name, n, seed = spec
    if time.time() > deadline:
        return None
    rng = np.random.default_rng(seed)
    X, y = load_dev_dataset(name)
    if len(y) < n + 50:
        n = max(16, (len(y) - 50) // 2)
    s, q = support_query_split(y, n, rng)
    q = q[:300]
    if len(np.unique(y[s])) < 2:
        return None
    z, probs, y_idx = member_predictions(X, y, s, q, int(rng.integers(2**31)))
    if len(y_idx) == 0:
        return None
    print(f"[portfolio] task {t}: {name} n={n} members={sorted(probs)}", flush=True)
    return {"z": z, "proba": probs, "y": y_idx, "name": name, "n": n}


def portfolio_records(
    n_tasks: int, seed: int, minutes: float, workers: int = 1
) -> list[dict[str, Any]]:
    """Held-out predictions of every member on up to ``n_tasks`` tasks cut from ``PORTFOLIO_TRAIN``.

    The task list is drawn up front from ``seed`` (every data set once, then at random;
    n_train from 16 to 512), so ``workers`` processes compute the same records as one;
    tasks not started within ``minutes`` are skipped.
    """
    from joblib import Parallel, delayed

    rng = np.random.default_rng(seed)
    sizes = (16, 32, 64, 128, 256, 512)
    specs = []
    for t in range(n_tasks):
        name = (
            PORTFOLIO_TRAIN[t % len(PORTFOLIO_TRAIN)]
            if t < len(PORTFOLIO_TRAIN)
            else PORTFOLIO_TRAIN[int(rng.integers(len(PORTFOLIO_TRAIN)))]
        )
        specs.append((t, name, int(sizes[int(rng.integers(len(sizes)))]), int(rng.integers(2**31))))
    deadline = time.time() + 60 * minutes
    out = Parallel(n_jobs=workers)(delayed(_portfolio_task)(spec, deadline) for spec in specs)
    return [r for r in out if r is not None]


def _score_blends(records: list[dict[str, Any]], portfolio: Any) -> dict[str, float]:
    """Mean log-loss and one-vs-rest ROC-AUC of the learned blend, the uniform blend and each member."""
    from sklearn.metrics import log_loss

    auc = mean_ovr_auc

    uniform = Portfolio.uniform(list(MEMBERS))
    out: dict[str, list[float]] = {}
    for r in records:
        k = next(iter(r["proba"].values())).shape[1]
        blends = {}
        for label, pf in (("learned", portfolio), ("uniform", uniform)):
            w = pf.weights(r["z"], list(r["proba"]))
            blends[label] = sum(w[m] * r["proba"][m] for m in w)
        for label, p in {**blends, **r["proba"]}.items():
            out.setdefault(f"logloss/{label}", []).append(
                log_loss(r["y"], np.clip(p, 1e-9, 1), labels=range(k))
            )
            out.setdefault(f"auc/{label}", []).append(auc(np.asarray(r["y"]), p))
    return {k: float(np.nanmean(v)) for k, v in out.items()}


def family_folds(records: list[dict[str, Any]], n_folds: int, seed: int) -> list[set[str]]:
    """Split the records' data-set families (:func:`autometa.tasks.datasets.family_of`) into folds.

    Tasks of one data set (or of one KEEL imbalanced family) are alike: validating on held-out
    *tasks* of the same data sets rewards memorizing data sets, so every fold holds out whole
    families.
    """

    families = np.random.default_rng(seed).permutation(
        sorted({family_of(r["name"]) for r in records})
    )
    return [set(families[k::n_folds]) for k in range(n_folds)]


def _held_out_scores(
    records: list[dict[str, Any]], held: set[str], l2: float, seed: int
) -> dict[str, float]:
    """Fit the weights without the ``held`` families; score blends and members on them."""

    val = [r for r in records if family_of(r["name"]) in held]
    fit = [r for r in records if family_of(r["name"]) not in held]
    scores = _score_blends(
        val, fit_portfolio(fit, list(MEMBERS), objective="auc", l2=l2, seed=seed)
    )
    return {**scores, "n_tasks": float(len(val))}


def select_l2(
    records: list[dict[str, Any]],
    candidates: list[float],
    seed: int,
    n_folds: int = 3,
    workers: int = 1,
) -> dict[float, float]:
    """Leave-family-out AUC of the learned minus the uniform blend, for each candidate L2."""
    from joblib import Parallel, delayed

    folds = family_folds(records, n_folds, seed)
    runs = Parallel(n_jobs=workers)(
        delayed(_held_out_scores)(records, held, l2, seed) for l2 in candidates for held in folds
    )
    out = {}
    for i, l2 in enumerate(candidates):
        per_fold = runs[i * n_folds : (i + 1) * n_folds]
        gains = [r["auc/learned"] - r["auc/uniform"] for r in per_fold]
        out[l2] = float(np.average(gains, weights=[r["n_tasks"] for r in per_fold]))
        print(
            f"[portfolio] l2={l2:g}: learned - uniform AUC on held-out families {out[l2]:+.4f}",
            flush=True,
        )
    return out


def train_portfolio(
    n_tasks: int, seed: int, minutes: float, records_path: Path, refit_only: bool = False, workers: int = 1,
    l2: float = PORTFOLIO_L2, l2_candidates: list[float] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Gather held-out member predictions (or reuse ``records_path``) and learn the weights.

    With ``l2_candidates``, the L2 strength is chosen by :func:`select_l2` first.
    """

    if refit_only:
        records = pickle.loads(records_path.read_bytes())
    else:
        records = portfolio_records(n_tasks, seed, minutes, workers)
        records_path.parent.mkdir(parents=True, exist_ok=True)
        records_path.write_bytes(pickle.dumps(records))
    selection = None
    if l2_candidates:
        selection = select_l2(records, l2_candidates, seed, workers=workers)
        l2 = max(selection, key=selection.get)
    held = family_folds(records, 3, seed)[0]
    val_scores = _held_out_scores(records, held, l2, seed)
    settings = {"objective": "auc", "l2": l2, "seed": seed}
    portfolio = fit_portfolio(records, list(MEMBERS), **settings)
    facts = {"n_tasks": len(records), "settings": settings, "held_out_families": sorted(held),
             "held_out_scores": val_scores, "l2_selection": selection}  # fmt: skip
    portfolio.info.update({"data_sets": sorted({r["name"] for r in records}), **facts})
    portfolio.save(CHECKPOINT_DIR / "classifier_portfolio.json")
    return facts


# ----------------------------------------------------------------------------- model card
def write_model_card(
    parts: dict[str, dict[str, Any] | None], command: str, stages: tuple[str, ...]
) -> Path:
    """Update ``autometa/checkpoints/model_card.json`` (keeps what other stages wrote).

    ``parts`` maps a stage (``neural``, ``hypernet``, ``portfolio``) to its facts (``None``:
    not run now).
    """
    path = CHECKPOINT_DIR / "model_card.json"
    card = json.loads(path.read_text()) if path.is_file() else {}
    commands = dict(card.get("commands", {}))
    for st in stages:
        commands[st] = command
    card.update(
        {
            "name": "autometa classifier default",
            "files": {
                **card.get("files", {}),  # entries written by others (the combiner's)
                "classifier_default.pt": "neural member: meta-learned initialization + Meta-LSTM optimizer (no augmentation policy)",
                "classifier_hypernet.pt": "hypernet member: set encoder that modulates the learned initialization, Meta-LSTM steps, augmentation policy",
                "classifier_portfolio.json": "meta-learned combination weights over model families "
                "(the default members: icl and the classical families)",
                "classifier_in_context.pt": "icl member: the in-context learner; its own card is "
                "in_context_model_card.json (data, compute, learning curve)",
            },
            "data": {
                **card.get("data", {}),
                "neural_meta_train": [
                    "synthetic (SyntheticPrior: mlp/scm/gmm, 50% of tasks)",
                    *NEURAL_TRAIN,
                ],
                "neural_meta_val_and_portfolio_train": list(PORTFOLIO_TRAIN),
                "held_out_for_evaluation": list(EVALUATION),
                "excluded": "all reserved sets of BENCHMARKS.md; sklearn breast_cancer (= keel wdbc)",
            },
            "commands": commands,
            "code_version": {"git_commit": git_commit() or "unknown"},
        }
    )
    for stage, facts in parts.items():
        if facts is not None:
            card[stage] = facts
    names = (
        "classifier_default.pt",
        "classifier_hypernet.pt",
        "classifier_portfolio.json",
        "classifier_in_context.pt",
        "classifier_combiner.json",  # written by train_combiner; its hash is kept here
    )
    for f in card.get("size_bytes", {}):  # kept current for the files it lists
        if (CHECKPOINT_DIR / f).is_file():
            card["size_bytes"][f] = (CHECKPOINT_DIR / f).stat().st_size
    facts = {k: v for k, v in card.items() if k != "sha256"}  # written again, last
    write_card(path, [CHECKPOINT_DIR / f for f in names], facts)
    return path


#: the stages of the shipped recipe, in the order they run
STAGES: tuple[str, ...] = ("neural", "hypernet", "portfolio")
#: the learner each neural stage meta-trains unless :attr:`DefaultRecipe.learner` overrides it
STAGE_LEARNERS = {"neural": "meta-lstm+augment", "hypernet": "hypernet+augment"}
#: where the recipe's meta-training runs keep their checkpoints (one sub-folder per stage)
DEFAULT_OUT = Path("runs") / "classifier-default"


@dataclass(frozen=True)
class DefaultRecipe:
    """The classifier's shipped checkpoints as one object: what to train, where, and how long.

    ``python -m autometa.estimators.train_default`` and ``autometa meta-train --preset default``
    both build one and call :meth:`run`.

    Parameters
    ----------
    steps : int
        Meta-training steps of each neural stage.
    seed : int
        Seed of the meta-training runs and of the portfolio's tasks.
    out : path-like
        Checkpoint folder; each stage writes into ``out/<stage>``.
    stages : tuple of str
        Which of :data:`STAGES` to run.
    resume : bool
        Continue each neural stage from ``out/<stage>/last.pt`` (bit-exact).
    tracking : bool
        Log the meta-training runs to MLflow.
    learner : str, optional
        Override the neural stages' learner (one of :data:`LEARNERS`; ablations).
    ship : str, optional
        File name under ``autometa/checkpoints`` for the best checkpoint, ``"none"`` (train,
        report, do not ship), or None for each stage's shipped file (:data:`SHIPPED`).
    portfolio_tasks, portfolio_minutes, portfolio_workers, portfolio_l2, l2_candidates, refit_only
        The portfolio stage's budget and settings (see :func:`train_portfolio`).
    """

    steps: int = 1500
    seed: int = 0
    out: Path = DEFAULT_OUT
    stages: tuple[str, ...] = STAGES
    resume: bool = False
    tracking: bool = True
    learner: str | None = None
    ship: str | None = None
    portfolio_tasks: int = 400
    portfolio_minutes: float = 30.0
    portfolio_workers: int = 1
    portfolio_l2: float = PORTFOLIO_L2
    l2_candidates: tuple[float, ...] | None = None
    refit_only: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        unknown = [s for s in self.stages if s not in STAGES]
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; choose among {list(STAGES)}.")
        if isinstance(self.steps, bool) or int(self.steps) < 1:
            raise ValueError(f"steps must be a positive integer; got {self.steps!r}.")

    def run(self, command: str) -> dict[str, dict[str, Any] | None]:
        """Run the stages in order; update the model card with ``command``; return each stage's facts."""
        parts: dict[str, dict[str, Any] | None] = {}
        for stage in self.stages:
            if stage == "portfolio":
                parts[stage] = train_portfolio(
                    self.portfolio_tasks, self.seed, self.portfolio_minutes, self.out / "portfolio_records.pkl",
                    refit_only=self.refit_only, workers=self.portfolio_workers, l2=self.portfolio_l2,
                    l2_candidates=list(self.l2_candidates) if self.l2_candidates else None,
                )  # fmt: skip
                continue
            ship = (
                SHIPPED[stage]
                if self.ship is None
                else (None if self.ship == "none" else self.ship)
            )
            facts = train_neural(self.steps, self.seed, self.out / stage, self.tracking, resume=self.resume,
                                 kind=self.learner or STAGE_LEARNERS[stage], ship=ship)  # fmt: skip
            if ship is None:  # an ablation learner: reported, not shipped
                print(json.dumps(facts, indent=1, default=str))
                continue
            parts[stage] = facts
            write_model_card({stage: facts}, command, (stage,))
        if parts:
            print(write_model_card(parts, command, tuple(parts)))
        return parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autometa.estimators.train_default", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--stage", choices=["all", *STAGES], default="all",
                        help="all = neural, hypernet, then portfolio")  # fmt: skip
    parser.add_argument(
        "--steps", type=int, default=1500, help="meta-training steps (neural/hypernet stages)"
    )
    parser.add_argument("--learner", choices=sorted(LEARNERS), default=None,
                        help="override the stage's learner (ablations; default: meta-lstm+augment for "
                             "neural, hypernet+augment for hypernet)")  # fmt: skip
    parser.add_argument("--ship", default=None,
                        help="file name under autometa/checkpoints for the best checkpoint, or 'none' "
                             "(default: the stage's shipped file)")  # fmt: skip
    parser.add_argument("--portfolio-tasks", type=int, default=400)
    parser.add_argument("--portfolio-minutes", type=float, default=30.0)
    parser.add_argument(
        "--portfolio-workers",
        type=int,
        default=1,
        help="processes gathering the portfolio's records",
    )
    parser.add_argument(
        "--portfolio-l2",
        type=float,
        default=PORTFOLIO_L2,
        help="L2 pull of the portfolio's weights toward uniform",
    )
    parser.add_argument("--select-l2", default=None, metavar="L2,L2,...",
                        help="choose the L2 among these by leave-data-set-family-out validation")  # fmt: skip
    parser.add_argument("--refit-only", action="store_true",
                        help="stage 2: refit the weights from the saved held-out predictions in --out")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue a stage from --out/<stage>/last.pt (bit-exact)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="checkpoint folder (one sub-folder per stage)"
    )
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args(argv)

    torch.set_num_threads(
        1
    )  # a long script on a shared CPU: one thread is faster than two contended
    command = "python -m autometa.estimators.train_default " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    recipe = DefaultRecipe(
        steps=args.steps, seed=args.seed, out=args.out, stages=STAGES if args.stage == "all" else (args.stage,),
        resume=args.resume, tracking=not args.no_mlflow, learner=args.learner, ship=args.ship,
        portfolio_tasks=args.portfolio_tasks, portfolio_minutes=args.portfolio_minutes,
        portfolio_workers=args.portfolio_workers, portfolio_l2=args.portfolio_l2,
        l2_candidates=tuple(float(v) for v in args.select_l2.split(",")) if args.select_l2 else None,
        refit_only=args.refit_only,
    )  # fmt: skip
    recipe.run(command)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

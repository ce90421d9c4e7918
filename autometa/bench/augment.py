"""``autometa bench augment``: does the meta-learned augmentation policy help small tasks?

Protocol (BENCHMARKS.md, "Augmentation"): for each evaluation data set (KEEL dev sets that
are held out of the policy's meta-training: :data:`autometa.augment._data.EVAL_SETS`), for
``n_train`` in {32, 128} and every seed, a stratified subsample of ``n_train`` rows is the
training set and the rest (at most 2,000 rows) the test set. Two experiments, paired over
(data set, seed):

1. **Meta-learner.** The policy's companion MAML learner (shipped next to the policy) is
   adapted on the training rows (encoded by a :class:`~autometa.tasks.TabularEncoder`
   fitted on them) with no augmentation, a fixed hand policy, a uniformly random policy
   over the same ops, and the learned policy.
2. **Resampler.** :class:`~autometa.augment.MetaAugmenter` (learned policy, on the raw
   DataFrame) in front of LogisticRegression and HistGradientBoosting, against those
   estimators alone and behind SMOTE (imbalanced-learn).

The metric is test ROC-AUC (macro one-vs-rest for multiclass). Each table row is one
comparison ``a - b``: the mean AUC of both arms, the mean paired difference and its 95%
confidence interval (Student t over the (data set, seed) pairs), and the number of pairs
where ``a`` wins.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from autometa._metrics import mean_ovr_auc
from autometa.bench._common import BenchResult

DESCRIPTION = __doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n", 1)[1]

HAND_POLICY: dict[str, float] = {
    "gaussian_noise": 0.1,
    "swap_noise": 0.1,
    "mixup": 0.5,
    "smote": 0.5,
}

META_COMPARISONS = [
    ("maml+learned", "maml+none"),
    ("maml+learned", "maml+uniform"),
    ("maml+learned", "maml+hand"),
    ("maml+hand", "maml+none"),
    ("maml+uniform", "maml+none"),
]
EST_COMPARISONS = [
    ("lr+metaaug", "lr"),
    ("lr+metaaug", "lr+smote"),
    ("lr+smote", "lr"),
    ("hgb+metaaug", "hgb"),
    ("hgb+metaaug", "hgb+smote"),
    ("hgb+smote", "hgb"),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy", default="default", help="policy checkpoint ('default': the shipped one)"
    )
    parser.add_argument(
        "--learner", default=None, help="companion learner checkpoint (default: next to the policy)"
    )
    parser.add_argument(
        "--sets",
        nargs="+",
        default=None,
        help="evaluation data sets (default: the held-out dev sets)",
    )
    parser.add_argument("--n-train", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--max-test", type=int, default=2000)
    parser.add_argument(
        "--n-augment", type=int, default=None, help="augmented rows per row (default: the policy's)"
    )
    parser.add_argument(
        "--inner-steps",
        type=int,
        default=None,
        help="inner SGD steps at adaptation (default: the learner's own, 5)",
    )
    parser.add_argument(
        "--skip-estimators", action="store_true", help="only the meta-learner experiment"
    )


def paired_ci(diffs: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of paired differences and its Student-t confidence interval."""
    from scipy import stats

    diffs = np.asarray(diffs, dtype=float)
    m = float(diffs.mean())
    if len(diffs) < 2:
        return m, float("nan"), float("nan")
    half = float(
        stats.t.ppf(0.5 + level / 2, len(diffs) - 1) * diffs.std(ddof=1) / np.sqrt(len(diffs))
    )
    return m, m - half, m + half


def _split(
    y: np.ndarray, n_train: int, max_test: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    from autometa.augment._data import stratified_indices

    train = stratified_indices(y, n_train, rng, min_per_class=2)
    rest = np.setdiff1d(np.arange(len(y)), train)
    rest = rest[np.isin(y[rest], y[train])]
    test = rng.permutation(rest)[:max_test]
    return train, test


def _meta_arms(learner, policies: dict[str, Any], X, y, train, test, seed: int) -> dict[str, float]:
    import torch

    from autometa.augment._learner import AugmentedLearner
    from autometa.augment._policy import AugmentationPolicy
    from autometa.tasks._encoder import encode_task
    from autometa.tasks._task import collate_tasks

    task = encode_task(
        X.iloc[train].reset_index(drop=True),
        y[train],
        X.iloc[test].reset_index(drop=True),
        y[test],
        d_max=learner.d_max,
        c_max=learner.c_max,
        random_state=seed,
    )
    batch = collate_tasks([task], c_max=learner.c_max)
    k = task.n_classes
    out = {}
    for name, policy in policies.items():
        model = learner if policy is None else AugmentedLearner(learner, policy, seed=seed)
        with torch.enable_grad():
            fast = model.adapt(batch)
        with torch.no_grad():
            logits = model.predict(fast, batch.x_query, batch)[0, :, :k]
        proba = torch.softmax(logits, -1).numpy()
        out[f"maml+{name}"] = mean_ovr_auc(task.y_query.numpy(), proba)
    learned = policies.get("learned")
    if isinstance(learned, AugmentationPolicy):
        out["learned_p_identity"] = _p_identity(learned, batch)
    return out


def _p_identity(policy, batch) -> float:
    """The policy's probability of ``identity`` on this support set (its conditional shift applied)."""
    import torch
    import torch.nn.functional as F

    from autometa.augment._policy import task_statistics

    mask = batch.support_mask
    y = F.one_hot(batch.y_support.long().clamp_min(0), batch.class_mask.shape[-1])
    y = y.to(batch.x_support.dtype) * mask.unsqueeze(-1).to(batch.x_support.dtype)
    with torch.no_grad():
        stats = task_statistics(y, mask, batch.feature_mask)
    return float(policy.describe(stats)["identity"]["probability"])


def _estimator_arms(
    X, y, train, test, seed: int, policy_arg: str, n_augment: int | None
) -> dict[str, float]:
    import pandas as pd
    from imblearn.over_sampling import SMOTE
    from imblearn.pipeline import make_pipeline
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from autometa.augment import MetaAugmenter

    classes, y_idx = np.unique(y[train], return_inverse=True)
    y_test = np.searchsorted(classes, y[test])
    Xtr, Xte = (
        X.iloc[train].reset_index(drop=True).copy(),
        X.iloc[test].reset_index(drop=True).copy(),
    )
    # impute with training statistics (the same for every arm)
    num = [
        c
        for c in X.columns
        if pd.api.types.is_numeric_dtype(X[c].dtype) and not pd.api.types.is_bool_dtype(X[c].dtype)
    ]
    cat = [c for c in X.columns if c not in num]
    for c in num:
        med = Xtr[c].median()
        med = 0.0 if pd.isna(med) else med
        Xtr[c], Xte[c] = Xtr[c].fillna(med), Xte[c].fillna(med)
    for c in cat:
        Xtr[c] = Xtr[c].astype(str).fillna("missing")
        Xte[c] = Xte[c].astype(str).fillna("missing")

    def pre():
        return ColumnTransformer(
            [
                ("num", StandardScaler(), num),
                ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), cat),
            ]
        )

    counts = np.bincount(y_idx)
    k_nn = int(max(1, min(5, counts.min() - 1)))
    estimators = {
        "lr": lambda: LogisticRegression(max_iter=2000),
        "hgb": lambda: HistGradientBoostingClassifier(random_state=seed),
    }
    out = {}
    for name, make in estimators.items():
        arms = {
            name: make_pipeline(pre(), make()),
            f"{name}+metaaug": make_pipeline(
                MetaAugmenter(policy=policy_arg, n_augment=n_augment, random_state=seed),
                pre(),
                make(),
            ),
            f"{name}+smote": make_pipeline(
                pre(), SMOTE(k_neighbors=k_nn, random_state=seed), make()
            ),
        }
        for arm, model in arms.items():
            model.fit(Xtr, y_idx)
            out[arm] = mean_ovr_auc(y_test, model.predict_proba(Xte))
        # rows MetaAugmenter appended per training row (copies of a parent are dropped)
        augmenter = arms[f"{name}+metaaug"].steps[0][1]
        out[f"{name}_metaaug_rows_added"] = (len(augmenter.ops_) - len(y_idx)) / len(y_idx)
    return out


def compute(args: argparse.Namespace) -> BenchResult:
    import torch

    from autometa.augment._data import EVAL_SETS, load_keel
    from autometa.augment._policy import AugmentationPolicy, UniformPolicy, load_policy
    from autometa.augment._resampler import DEFAULT_POLICY_PATH
    from autometa.augment.train import load_companion_learner

    torch.set_num_threads(1)
    policy_path = DEFAULT_POLICY_PATH if args.policy == "default" else Path(args.policy)
    learned, meta = load_policy(policy_path)
    learned.requires_grad_(False)
    learner_path = (
        Path(args.learner)
        if args.learner
        else policy_path.with_name(meta.get("learner_file", "augment_learner.pt"))
    )
    learner = load_companion_learner(learner_path)
    learner.requires_grad_(False)
    if args.inner_steps is not None:
        if args.inner_steps < 1:
            raise ValueError(f"--inner-steps must be >= 1; got {args.inner_steps}.")
        learner.inner_steps = int(args.inner_steps)
    n_aug = learned.n_augment if args.n_augment is None else int(args.n_augment)
    if args.n_augment is not None:
        learned.n_augment = n_aug
    ops = [o for o in learned.ops if o != "identity"]
    policies = {
        "none": None,
        "hand": AugmentationPolicy.fixed(
            {o: 1.0 for o in HAND_POLICY}, HAND_POLICY, n_augment=n_aug
        ),
        "uniform": UniformPolicy(ops, n_augment=n_aug),
        "learned": learned,
    }
    sets = args.sets or (list(EVAL_SETS[:2]) if args.quick else list(EVAL_SETS))
    n_trains = [32] if args.quick else list(args.n_train)
    seeds = args.seeds or (2 if args.quick else 5)
    policy_arg = str(policy_path)

    records: list[dict[str, Any]] = []
    t0 = time.monotonic()
    for ds in sets:
        X, y = load_keel(ds)
        for n_train in n_trains:
            if len(y) < n_train + 20:
                continue
            for seed in range(seeds):
                rng = np.random.default_rng([seed, n_train, sum(map(ord, ds))])
                train, test = _split(y, n_train, args.max_test, rng)
                rec = {"set": ds, "n_train": n_train, "seed": seed}
                rec.update(_meta_arms(learner, policies, X, y, train, test, seed))
                if not args.skip_estimators:
                    rec.update(_estimator_arms(X, y, train, test, seed, policy_arg, args.n_augment))
                records.append(rec)
        print(f"  {ds}: done ({time.monotonic() - t0:.0f}s)", flush=True)

    rows, summary = [], {}
    comparisons = META_COMPARISONS + ([] if args.skip_estimators else EST_COMPARISONS)
    for n_train in n_trains:
        recs = [r for r in records if r["n_train"] == n_train]
        if not recs:
            continue
        for a, b in comparisons:
            va, vb = np.array([r[a] for r in recs]), np.array([r[b] for r in recs])
            m, lo, hi = paired_ci(va - vb)
            rows.append(
                {
                    "n_train": n_train,
                    "comparison": f"{a} - {b}",
                    "auc_a": float(va.mean()),
                    "auc_b": float(vb.mean()),
                    "diff": m,
                    "ci95_low": lo,
                    "ci95_high": hi,
                    "wins": f"{int((va > vb).sum())}/{len(va)}",
                }
            )
            if a == "maml+learned" and b in ("maml+none", "maml+uniform"):
                summary[f"learned_beats_{b.split('+')[1]}@{n_train}"] = bool(lo > 0)
        # what the learned policy does on these tasks (mean over the (data set, seed) pairs)
        if all("learned_p_identity" in r for r in recs):
            summary[f"learned_p_identity@{n_train}"] = float(
                np.mean([r["learned_p_identity"] for r in recs])
            )
        if not args.skip_estimators:
            for ds in sets:
                added = [r["lr_metaaug_rows_added"] for r in recs if r["set"] == ds]
                if added:
                    summary[f"metaaug_rows_added_per_row/{ds}@{n_train}"] = float(np.mean(added))
            summary[f"metaaug_rows_added_per_row@{n_train}"] = float(
                np.mean([r["lr_metaaug_rows_added"] for r in recs])
            )
    notes = [
        "diff = mean paired AUC difference a - b over (data set, seed) pairs; CI: Student t, 95%.",
        f"policy: {policy_path.name} (sha256 of the file in its model card); learner: {learner_path.name}.",
        "hgb at n_train=32 cannot split (min_samples_leaf=20): its AUC is 0.5 unless rows are added.",
        "learned_p_identity: the learned policy's probability of the identity op on the training "
        "rows (its per-task shift applied); metaaug_rows_added_per_row: rows MetaAugmenter "
        "appended (in front of lr) per training row, exact copies dropped.",
    ]
    return BenchResult(
        name="augment",
        rows=rows,
        columns=[
            "n_train",
            "comparison",
            "auc_a",
            "auc_b",
            "diff",
            "ci95_low",
            "ci95_high",
            "wins",
        ],
        key_columns=["n_train", "comparison"],
        params={
            "sets": ",".join(sets),
            "n_train": ",".join(map(str, n_trains)),
            "seeds": seeds,
            "n_augment": n_aug,
            "inner_steps": int(learner.inner_steps),
            "hand_policy": str(HAND_POLICY),
            "policy": args.policy if args.policy == "default" else str(policy_path),
        },
        summary={**summary, "seconds": round(time.monotonic() - t0, 1)},
        notes=notes,
    )

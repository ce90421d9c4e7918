"""The meta-learned decision over model families: combination weights from task meta-features.

A :class:`Portfolio` maps a task's meta-features ``z`` (size, width, classes, categorical share,
class imbalance, missing share, and three *landmarkers*: the cross-validated accuracy gain of
a decision stump, of 1-nearest-neighbour and of Gaussian naive Bayes over the majority class,
the cheap internal validation of auto-sklearn's meta-features) to convex weights over the
members::

    w(z) = softmax(intercept + coef @ standardize(z))     # over the members available

It is *learned across a pool of tasks* (dev meta-train data sets only, see
:mod:`autometa.estimators.train_default`): every member is fitted on many subsampled tasks,
its held-out probabilities are stored, and ``coef``/``intercept`` minimize the mean held-out
log-loss of the weighted average, with an L2 penalty (the spirit of auto-sklearn's
meta-learned warm start and FLAML's zero-shot portfolios, but for a blend instead of one
configuration). Members whose weight falls under ``min_weight`` are not fitted at all, so the
decision also saves time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autometa.estimators._neural import stratified_subsample

__all__ = ["META_FEATURES", "Portfolio", "fit_portfolio", "landmarkers", "meta_features"]

META_FEATURES: tuple[str, ...] = (
    "log_rows",
    "log_columns",
    "log_classes",
    "categorical_share",
    "min_class_share",
    "missing_share",
    "log_rows_per_column",
    "landmark_stump",
    "landmark_1nn",
    "landmark_naive_bayes",
)
#: rows the landmarkers look at (a stratified subsample above that)
LANDMARK_ROWS = 512


def landmarkers(
    tree_matrix: np.ndarray, linear_matrix: np.ndarray, y: np.ndarray, seed: int = 0
) -> np.ndarray:
    """Cheap internal validation: 3-fold accuracy gains over the majority class of three probes.

    The probes are a decision stump (on ``tree_matrix``, NaN allowed), 1-nearest-neighbour and
    Gaussian naive Bayes (on the imputed, standardized ``linear_matrix``); each is scored by
    its out-of-fold accuracy minus the majority-class share, on at most
    :data:`LANDMARK_ROWS` stratified rows. They tell the portfolio whether the task rewards
    axis-aligned splits, local similarity or smooth per-class densities.

    Returns
    -------
    ndarray of shape (3,)
    """
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier

    y = np.asarray(y)
    rows = stratified_subsample(y, LANDMARK_ROWS, np.random.default_rng(seed))
    y = y[rows]
    if len(y) < 3:
        return np.zeros(3)
    majority = np.bincount(y).max() / len(y)
    fold = np.random.default_rng(seed).permutation(len(y)) % 3
    out = []
    for probe, x in (
        (DecisionTreeClassifier(max_depth=1, random_state=seed), tree_matrix[rows]),
        (KNeighborsClassifier(n_neighbors=1), linear_matrix[rows]),
        (GaussianNB(), linear_matrix[rows]),
    ):
        right = 0
        for k in range(
            3
        ):  # out-of-fold predictions (a plain loop: cross_val_predict's overhead is most of the cost)
            test = fold == k
            right += int(np.sum(probe.fit(x[~test], y[~test]).predict(x[test]) == y[test]))
        out.append(right / len(y) - majority)
    return np.array(out)


def meta_features(
    n_rows: int,
    n_columns: int,
    n_classes: int,
    n_categorical: int,
    class_counts: np.ndarray,
    missing_share: float,
    landmarks: np.ndarray | None = None,
) -> np.ndarray:
    """The meta-features :data:`META_FEATURES` of a training set, as a float vector.

    ``landmarks`` are :func:`landmarkers`' three values; ``None`` leaves them NaN, which
    :meth:`Portfolio.weights` reads as "like the average training task".
    """
    d = max(n_columns, 1)
    counts = np.asarray(class_counts, dtype=float)
    return np.array(
        [
            math.log(max(n_rows, 1)),
            math.log(d),
            math.log(max(n_classes, 2)),
            n_categorical / d,
            float(counts.min() / counts.sum()) if counts.sum() else 0.0,
            float(missing_share),
            math.log(max(n_rows, 1) / d),
            *(np.full(3, np.nan) if landmarks is None else np.asarray(landmarks, dtype=float)),
        ]
    )


@dataclass
class Portfolio:
    """Learned combination weights (see the module docstring).

    Attributes
    ----------
    members : list of str
    coef : ndarray (n_members, n_meta_features)
    intercept : ndarray (n_members,)
    mean, scale : ndarray (n_meta_features,)
        Standardization of the meta-features, learned with the weights.
    min_weight : float
        Members under this weight are skipped (weights renormalized).
    info : dict
        Provenance: data sets, number of tasks, validation scores.
    """

    members: list[str]
    coef: np.ndarray
    intercept: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    min_weight: float = 0.03
    info: dict[str, Any] = field(default_factory=dict)
    feature_names: tuple[str, ...] = META_FEATURES
    kind: str = "classifier"

    @classmethod
    def uniform(cls, members: list[str]) -> Portfolio:
        """Equal weights for every member (the ablation baseline)."""
        f = len(META_FEATURES)
        m = len(members)
        return cls(
            list(members),
            np.zeros((m, f)),
            np.zeros(m),
            np.zeros(f),
            np.ones(f),
            0.0,
            {"kind": "uniform"},
        )

    def _softmax(self, z: np.ndarray, available: list[str]) -> tuple[list[int], np.ndarray]:
        """Indices of the ``available`` members and their softmax weights for meta-features ``z``."""
        idx = [i for i, m in enumerate(self.members) if m in available]
        if not idx:
            raise ValueError(
                f"None of the members {available} is in this portfolio ({self.members})."
            )
        zs = np.nan_to_num((np.asarray(z, dtype=float) - self.mean) / self.scale, nan=0.0)
        logits = self.intercept[idx] + self.coef[idx] @ zs
        w = np.exp(logits - logits.max())
        return idx, w / w.sum()

    def prior(self, z: np.ndarray, available: list[str]) -> dict[str, float]:
        """Like :meth:`weights` but without dropping light members (the combiner's starting point)."""
        idx, w = self._softmax(z, available)
        return {self.members[i]: float(wi) for i, wi in zip(idx, w, strict=True)}

    def weights(self, z: np.ndarray, available: list[str]) -> dict[str, float]:
        """Weights of the ``available`` members for meta-features ``z`` (sum to one)."""
        idx, w = self._softmax(z, available)
        keep = w >= self.min_weight
        if not keep.any():
            keep[np.argmax(w)] = True
        w = np.where(keep, w, 0.0)
        w /= w.sum()
        return {self.members[i]: float(wi) for i, wi in zip(idx, w, strict=True) if wi > 0}

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": f"autometa.{self.kind}-portfolio",
            "format_version": 1,
            "meta_features": list(self.feature_names),
            "members": list(self.members),
            "coef": np.asarray(self.coef).tolist(),
            "intercept": np.asarray(self.intercept).tolist(),
            "mean": np.asarray(self.mean).tolist(),
            "scale": np.asarray(self.scale).tolist(),
            "min_weight": self.min_weight,
            "info": self.info,
        }

    @classmethod
    def from_dict(
        cls, d: dict[str, Any], source: str = "portfolio", *, kind: str = "classifier",
        feature_names: tuple[str, ...] = META_FEATURES, command: str = "python -m autometa.estimators.train_default",
    ) -> Portfolio:  # fmt: skip
        if not isinstance(d, dict) or d.get("format") != f"autometa.{kind}-portfolio":
            raise ValueError(f"{source} is not an autometa {kind} portfolio (no format field).")
        if list(d.get("meta_features", [])) != list(feature_names):
            raise ValueError(
                f"{source} was learned with meta-features {d.get('meta_features')}, but this autometa "
                f"computes {list(feature_names)}; re-run `{command}`."
            )
        try:
            p = cls(
                members=list(d["members"]),
                coef=np.asarray(d["coef"], dtype=float),
                intercept=np.asarray(d["intercept"], dtype=float),
                mean=np.asarray(d["mean"], dtype=float),
                scale=np.asarray(d["scale"], dtype=float),
                min_weight=float(d.get("min_weight", 0.03)),
                info=dict(d.get("info", {})),
                feature_names=tuple(feature_names),
                kind=kind,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{source} is a damaged portfolio file ({exc}).") from exc
        m, f = len(p.members), len(feature_names)
        if (
            p.coef.shape != (m, f)
            or p.intercept.shape != (m,)
            or p.mean.shape != (f,)
            or p.scale.shape != (f,)
        ):
            raise ValueError(
                f"{source} has arrays of the wrong shape for {m} members and {f} meta-features."
            )
        return p

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Portfolio:
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"Could not read the portfolio file {path} ({exc}).") from exc
        return cls.from_dict(d, source=str(path))


def fit_portfolio(
    records: list[dict[str, Any]],
    members: list[str],
    *,
    l2: float = 0.02,
    steps: int = 400,
    seed: int = 0,
    min_weight: float = 0.03,
    objective: str = "logloss",
    temperature: float = 0.05,
    feature_names: tuple[str, ...] = META_FEATURES,
    kind: str = "classifier",
) -> Portfolio:
    """Learn combination weights from held-out member predictions on many tasks.

    Parameters
    ----------
    records : list of dict
        One per task: ``{"z": meta-features, "y": int labels (m,), "proba": {member: (m, K)}}``.
        A member missing from ``proba`` was unavailable on that task.
    members : list of str
    l2 : float
        Penalty on ``coef`` and on the intercepts' spread (keeps the weights smooth in the
        meta-features and close to uniform unless the data say otherwise).
    objective : {"logloss", "auc", "mse"}
        ``"mse"`` (regression): records hold ``"y"`` (float targets) and ``"pred"``
        (``{member: (m,)}`` predictions); the loss is the blend's mean squared error over the
        targets' variance, averaged over tasks. ``"logloss"``: mean held-out log-loss of the
        blend. ``"auc"``: one minus a smooth
        (sigmoid, ``temperature``) one-vs-rest ROC-AUC of the blend, averaged over tasks: what
        the classifier is judged on.

    Returns
    -------
    Portfolio
    """
    import torch

    g = torch.Generator().manual_seed(seed)
    Z = np.stack([r["z"] for r in records]).astype(float)
    known = ~np.isnan(Z)
    # a meta-feature missing for a task (NaN) counts as the average task's
    mean = np.where(known.any(axis=0), np.nansum(Z, axis=0) / np.maximum(known.sum(axis=0), 1), 0.0)
    Z = np.where(known, Z, mean)
    mean, scale = Z.mean(axis=0), Z.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    Zs = torch.tensor((Z - mean) / scale, dtype=torch.float64)
    m, f = len(members), Z.shape[1]
    coef = (0.01 * torch.randn(m, f, generator=g, dtype=torch.float64)).requires_grad_(True)
    intercept = torch.zeros(m, dtype=torch.float64, requires_grad=True)
    if objective == "mse":
        return _fit_mse(records, members, Zs, mean, scale, l2=l2, steps=steps, g=g, min_weight=min_weight,
                        feature_names=feature_names, kind=kind)  # fmt: skip
    # the blend's log-loss only needs each member's probability of the true class
    n_max = max(len(r["y"]) for r in records)
    Q = torch.ones(len(records), m, n_max, dtype=torch.float64)
    rows = torch.zeros(len(records), n_max, dtype=torch.float64)
    avail = torch.zeros(len(records), m, dtype=torch.bool)
    for t, r in enumerate(records):
        y = np.asarray(r["y"], dtype=np.int64)
        rows[t, : len(y)] = 1.0 / max(len(y), 1)
        for i, mb in enumerate(members):
            if mb in r["proba"]:
                avail[t, i] = True
                p = np.clip(np.asarray(r["proba"][mb])[np.arange(len(y)), y], 1e-6, 1.0)
                Q[t, i, : len(y)] = torch.as_tensor(p, dtype=torch.float64)
    if objective not in ("logloss", "auc"):
        raise ValueError(f"objective must be 'logloss' or 'auc'; got {objective!r}.")
    pairs = []  # per task: member scores of positive and negative rows for each class (one-vs-rest)
    if objective == "auc":
        for r in records:
            y = np.asarray(r["y"], dtype=np.int64)
            k = next(iter(r["proba"].values())).shape[1]
            P = np.stack(
                [
                    np.asarray(r["proba"][mb])
                    if mb in r["proba"]
                    else np.full((len(y), k), 1.0 / k)
                    for mb in members
                ]
            )
            task = []
            for c in range(k):
                pos, neg = y == c, y != c
                if pos.any() and neg.any():
                    task.append((torch.as_tensor(P[:, pos, c]), torch.as_tensor(P[:, neg, c])))
                if k == 2:
                    break  # binary: one class determines the AUC
            pairs.append(task)
    opt = torch.optim.Adam([coef, intercept], lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        logits = (intercept + Zs @ coef.T).masked_fill(~avail, -1e9)  # [T, m]
        w = torch.softmax(logits, dim=1)
        penalty = l2 * ((coef**2).sum() + ((intercept - intercept.mean()) ** 2).sum())
        if objective == "logloss":
            p_true = torch.einsum("tm,tmn->tn", w, Q)
            fit = -(rows * torch.log(p_true.clamp_min(1e-9))).sum(dim=1).mean()
        else:
            per_task = []
            for t, task in enumerate(pairs):
                if not task:
                    continue
                aucs = [
                    torch.sigmoid(
                        ((w[t] @ sp)[:, None] - (w[t] @ sn)[None, :]) / temperature
                    ).mean()
                    for sp, sn in task
                ]
                per_task.append(1.0 - torch.stack(aucs).mean())
            fit = torch.stack(per_task).mean()
        loss = fit + penalty
        loss.backward()
        opt.step()
    return Portfolio(
        members=list(members),
        coef=coef.detach().numpy(),
        intercept=intercept.detach().numpy(),
        mean=mean,
        scale=scale,
        min_weight=min_weight,
        info={
            "n_tasks": len(records),
            "objective": objective,
            "train_loss": float(loss.detach()),
            "l2": l2,
        },
    )


def _fit_mse(records: list[dict[str, Any]], members: list[str], Zs: Any, mean: np.ndarray, scale: np.ndarray, *,
             l2: float, steps: int, g: Any, min_weight: float, feature_names: tuple[str, ...],
             kind: str) -> Portfolio:  # fmt: skip
    """:func:`fit_portfolio` for regression: the blend's normalized squared error."""
    import torch

    m, f = len(members), Zs.shape[1]
    n_max = max(len(r["y"]) for r in records)
    P = torch.zeros(len(records), m, n_max, dtype=torch.float64)
    Y = torch.zeros(len(records), n_max, dtype=torch.float64)
    rows = torch.zeros(len(records), n_max, dtype=torch.float64)
    avail = torch.zeros(len(records), m, dtype=torch.bool)
    for t, r in enumerate(records):
        y = np.asarray(r["y"], dtype=np.float64)
        Y[t, : len(y)] = torch.as_tensor(y)
        rows[t, : len(y)] = 1.0 / (len(y) * max(float(np.var(y)), 1e-9))
        for i, mb in enumerate(members):
            if mb in r["pred"]:
                avail[t, i] = True
                P[t, i, : len(y)] = torch.as_tensor(np.asarray(r["pred"][mb], dtype=np.float64))
    coef = (0.01 * torch.randn(m, f, generator=g, dtype=torch.float64)).requires_grad_(True)
    intercept = torch.zeros(m, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([coef, intercept], lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        w = torch.softmax((intercept + Zs @ coef.T).masked_fill(~avail, -1e9), dim=1)
        blend = torch.einsum("tm,tmn->tn", w, P)
        fit = (rows * (blend - Y) ** 2).sum(dim=1).mean()
        loss = fit + l2 * ((coef**2).sum() + ((intercept - intercept.mean()) ** 2).sum())
        loss.backward()
        opt.step()
    return Portfolio(
        members=list(members), coef=coef.detach().numpy(), intercept=intercept.detach().numpy(), mean=mean,
        scale=scale, min_weight=min_weight, feature_names=tuple(feature_names), kind=kind,
        info={"n_tasks": len(records), "objective": "mse", "train_loss": float(loss.detach()), "l2": l2},
    )  # fmt: skip

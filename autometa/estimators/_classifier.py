"""AutoMetaClassifier: a scikit-learn classifier that starts every task from what it meta-learned.

See :class:`AutoMetaClassifier` and ``docs/classifier.md``.
"""

from __future__ import annotations

import os
import threading
import warnings
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_random_state, column_or_1d

from autometa._threads import limit_threads
from autometa._utils import resolve_device
from autometa.estimators._in_context_member import (
    IN_CONTEXT_CHECKPOINT,
    InContextMember,
    load_in_context_learner,
)
from autometa.estimators._members import CLASSICAL_MEMBERS, ClassicalMember
from autometa.estimators._neural import NeuralMember, learner_dims, stratified_subsample
from autometa.estimators._portfolio import META_FEATURES, Portfolio, landmarkers, meta_features
from autometa.estimators._table import TableSpec, informative_columns, validate_frame

__all__ = [
    "DEFAULT_CHECKPOINT",
    "DEFAULT_PORTFOLIO",
    "DEFAULT_MEMBERS",
    "HYPERNET_CHECKPOINT",
    "IN_CONTEXT_CHECKPOINT",
    "NEURAL_MEMBERS",
    "AutoMetaClassifier",
    "load_classifier_meta_learner",
]

_CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
#: the shipped meta-learned initialization of the neural member
DEFAULT_CHECKPOINT = _CHECKPOINTS / "classifier_default.pt"
#: the shipped meta-learned combination weights
DEFAULT_PORTFOLIO = _CHECKPOINTS / "classifier_portfolio.json"
#: the shipped hypernetwork learner of the hypernet member
HYPERNET_CHECKPOINT = _CHECKPOINTS / "classifier_hypernet.pt"
#: the meta-learned members and the shipped checkpoint each one loads for ``"default"``
NEURAL_MEMBERS = {"neural": DEFAULT_CHECKPOINT, "hypernet": HYPERNET_CHECKPOINT}

#: every member a user may allow; ``"icl"`` is the in-context learner (``classifier_in_context.pt``)
_ALL_MEMBERS = ("icl", *NEURAL_MEMBERS, *sorted(CLASSICAL_MEMBERS))
#: ``members="auto"``: the in-context learner and the classical families. The Meta-LSTM
#: ("neural") and hypernetwork members are opt-in: in the ablation (docs/classifier.md) they
#: added no measurable AUC beside the others and cost most of the fit time.
DEFAULT_MEMBERS = ("icl", *sorted(CLASSICAL_MEMBERS))
#: members that read the user's table (the others read TableSpec's design matrices)
_FRAME_MEMBERS = frozenset({"icl", *NEURAL_MEMBERS})
_CACHE: dict[tuple[str, float], Any] = {}
_CACHE_LOCK = threading.Lock()


def load_classifier_meta_learner(meta_learner: str | os.PathLike[str], default: Path = DEFAULT_CHECKPOINT) -> Any:
    """Load (and cache per process) the meta-learner behind a neural member.

    Parameters
    ----------
    meta_learner : str or path-like
        ``"default"`` (the shipped checkpoint ``default``), a checkpoint file or folder, or an
        MLflow URI (``models:/name/version``, ``runs:/<run_id>/<path>``).
    default : Path
        The shipped checkpoint that ``"default"`` means.

    Raises
    ------
    ValueError
        If the checkpoint is corrupt, of another format, or its learner cannot serve as the
        classifier's neural member (it must be a tabular gradient-based learner with
        ``d_max`` inputs and ``c_max`` outputs).
    """
    from autometa.meta._checkpoint import load_meta_learner

    source = str(default) if str(meta_learner) == "default" else os.fspath(meta_learner)
    if str(meta_learner) == "default" and not default.is_file():
        raise FileNotFoundError(
            f"The shipped checkpoint {default} is missing from this installation; reinstall "
            "autometa or rebuild it with `python -m autometa.estimators.train_default`."
        )
    key_time = Path(source).stat().st_mtime if Path(source).exists() else 0.0
    key = (source, key_time)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    learner = load_meta_learner(source, map_location="cpu")
    net = getattr(learner, "net", None) or getattr(getattr(learner, "base", None), "net", None)
    net_kind = getattr(net, "get_config", lambda: {})().get("kind")
    try:
        learner_dims(learner)
    except ValueError:
        net_kind = None
    if not all(hasattr(learner, a) for a in ("adapt", "predict")) or net_kind != "mlp":
        raise ValueError(
            f"The meta-learner in {source} ({type(learner).__name__}, base net {net_kind!r}) cannot drive "
            "AutoMetaClassifier's neural members: it needs a learner over the tabular 'mlp' base net "
            "(MAML, FOMAML, Meta-SGD, ANIL, Reptile, Meta-LSTM, HyperNet-MAML, or one of them wrapped "
            "in an AugmentedLearner). Pass another checkpoint or members=[...] without it."
        )
    learner.requires_grad_(False)
    with _CACHE_LOCK:
        _CACHE[key] = learner
    return learner


class AutoMetaClassifier(ClassifierMixin, BaseEstimator):
    """Small-data classifier that warm-starts from a shipped, meta-trained checkpoint.

    ``fit`` encodes the table, computes the task's meta-features and asks the meta-learned
    *portfolio* how much weight each model family deserves on a task like this one. It then
    fits the chosen members:

    * ``"icl"``: the in-context learner, a transformer meta-trained on a prior of synthetic
      and dev tasks that reads the training rows with their labels and classifies new rows in
      one forward pass (nothing is fitted per task), as an ensemble of ``n_ensemble`` feature
      placements and label orders;
    * ``"neural"`` (opt-in): a small MLP whose initialization and learned optimizer (a
      coordinate-wise Meta-LSTM) were meta-trained together across many dev tasks; the
      optimizer adapts it to the training rows in a few steps, on ``n_ensemble`` views of the
      task (random column placements, label permutations), all adapted at once;
    * ``"hypernet"`` (opt-in): the same, but a hypernetwork reads the training rows first and
      sets the starting point (it modulates the learned initialization and writes the output
      layer);
    * classical members: ``"rf"`` (random forest), ``"et"`` (extra trees), ``"gbm"``
      (histogram gradient boosting with small-data settings), ``"lr"`` (logistic
      regression), ``"knn"`` (distance-weighted k-NN).

    and returns the weighted average of their probabilities.

    Parameters
    ----------
    meta_learner : str or path-like, default="default"
        Where the neural member's meta-learner comes from: ``"default"`` (shipped with the
        package, see ``autometa/checkpoints/model_card.json``), a checkpoint path, or an
        MLflow URI ``"models:/<name>/<version>"`` / ``"runs:/<run_id>/<path>"``.
    hypernet_learner : str or path-like, default="default"
        The same for the ``"hypernet"`` member (shipped: ``classifier_hypernet.pt``).
    in_context_learner : str or path-like, default="default"
        The in-context learner of the ``"icl"`` member: ``"default"`` (shipped:
        ``classifier_in_context.pt``, model card ``in_context_model_card.json``) or a
        checkpoint path written for algo ``in-context``.
    members : "auto" or list of str, default="auto"
        Model families allowed into the blend (``"auto"``: ``icl, et, gbm, knn, lr, rf``;
        ``neural`` and ``hypernet`` may be added by listing them). The portfolio still decides
        their weights.
    combination : {"learned", "uniform"}, default="learned"
        ``"learned"`` uses the meta-learned portfolio weights; ``"uniform"`` averages the
        allowed members equally (an ablation baseline).
    n_ensemble : int, default=4
        Number of views of each meta-learned member (each with its own column placement,
        label permutation and, for the neural members, augmentation draw and, above 256 rows,
        row subsample). The in-context member's predict time grows linearly with it.
    augment : bool, default=True
        Adapt the neural members on rows augmented by their meta-learned policy (when their
        checkpoint has one). ``False`` adapts on the real rows only (an ablation).
    adapt_steps : int or None, default=None
        Test-time steps of the meta-learned members: the neural members' inner gradient steps
        and, when the shipped in-context learner carries them, its Meta-LSTM steps on the head
        (``None``: as meta-trained; ``0``: no adaptation).
    max_samples : int, default=10000
        Training sets larger than this are stratified-subsampled to ``max_samples`` rows
        (with a warning). Each view of a neural member adapts on at most 256 of them.
    device : str, default="auto"
        Where the neural member adapts (``"auto"``: CUDA when available). The fitted model
        always lives on the CPU, so it pickles and predicts anywhere.
    random_state : int, RandomState instance or None, default=None
        Seed of every random choice (views, subsamples, forests). An int gives identical
        probabilities on CPU, also across processes.
    n_jobs : int or None, default=None
        Threads used by ``fit`` and ``predict*``: torch, the BLAS/OpenMP pools (through
        threadpoolctl) and the classical members all get this many. ``None`` means 1 (safe
        on a shared machine, and usually fastest at small data), ``-1`` all CPUs (the
        scikit-learn convention). The caller's thread settings are restored afterwards.
        Results do not depend on it beyond floating-point rounding.
    verbose : int, default=0
        Print the chosen weights and timings when > 0.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, as given (strings round-trip).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when ``X`` had string column names.
    weights_ : dict of str to float
        The combination weight of each fitted member.
    members_ : dict of str to object
        The fitted members.
    meta_features_ : dict of str to float
        The task's meta-features the portfolio saw.

    See Also
    --------
    autometa.meta.MetaTrainer : meta-trains learners such as the shipped one.

    Notes
    -----
    The neural member handles at most ``c_max`` classes (10 in the shipped checkpoint); with
    more classes the classical members carry the whole blend. Columns beyond the net's
    ``d_max`` inputs (32) are covered by giving each view a different random subset.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from autometa import AutoMetaClassifier
    >>> X, y = load_wine(return_X_y=True, as_frame=True)
    >>> clf = AutoMetaClassifier(random_state=0).fit(X[:40], y[:40])
    >>> clf.predict_proba(X[40:42]).sum(axis=1).round(6).tolist()
    [1.0, 1.0]
    """

    _parameter_constraints: dict = {
        "meta_learner": [str, os.PathLike],
        "hypernet_learner": [str, os.PathLike],
        "in_context_learner": [str, os.PathLike],
        "augment": ["boolean"],
        "members": [StrOptions({"auto"}), list, tuple],
        "combination": [StrOptions({"learned", "uniform"})],
        "n_ensemble": [Interval(Integral, 1, None, closed="left")],
        "adapt_steps": [Interval(Integral, 0, None, closed="left"), None],
        "max_samples": [Interval(Integral, 2, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        meta_learner: str | os.PathLike[str] = "default",
        hypernet_learner: str | os.PathLike[str] = "default",
        in_context_learner: str | os.PathLike[str] = "default",
        members: str | list[str] = "auto",
        combination: str = "learned",
        n_ensemble: int = 4,
        augment: bool = True,
        adapt_steps: int | None = None,
        max_samples: int = 10_000,
        device: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.meta_learner = meta_learner
        self.hypernet_learner = hypernet_learner
        self.in_context_learner = in_context_learner
        self.members = members
        self.combination = combination
        self.n_ensemble = n_ensemble
        self.augment = augment
        self.adapt_steps = adapt_steps
        self.max_samples = max_samples
        self.device = device
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ------------------------------------------------------------------ scikit-learn API
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any) -> AutoMetaClassifier:
        """Fit the portfolio's members on ``(X, y)``.

        Parameters
        ----------
        X : array-like or pandas DataFrame of shape (n_samples, n_features)
            Numeric, boolean, categorical or string columns; NaN marks missing values.
        y : array-like of shape (n_samples,)
            Class labels (strings, integers, booleans).

        Returns
        -------
        self : AutoMetaClassifier
        """
        with limit_threads(self.n_jobs) as n_threads:
            return self._fit(X, y, n_threads)

    def _fit(self, X: Any, y: Any, n_threads: int) -> AutoMetaClassifier:
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        df = self._validate_X(X, reset=True)
        y = column_or_1d(np.asarray(y) if not isinstance(y, pd.Series) else y.to_numpy(), warn=True)
        if len(y) != len(df):
            raise ValueError(
                f"X and y have inconsistent numbers of samples: X has {len(df)} rows, y has {len(y)}."
            )
        _check_labels(y)
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least two classes in y; got one class "
                f"({self.classes_[0]!r}). A classifier cannot learn from one class."
            )
        members = self._allowed_members()
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        rng = np.random.default_rng(seed)
        if len(df) > self.max_samples:
            warnings.warn(
                f"{len(df)} training rows exceed max_samples={self.max_samples}; fitting on a stratified "
                f"subsample of {self.max_samples} rows.",
                UserWarning,
                stacklevel=2,
            )
            keep = stratified_subsample(y_idx, self.max_samples, rng)
            df, y_idx = df.iloc[keep].reset_index(drop=True), y_idx[keep]
        n_classes = len(self.classes_)
        self._informative = informative_columns(df)
        df = df.iloc[:, self._informative]
        spec = TableSpec().fit(df)
        matrices = {"tree": spec.tree_matrix(df), "linear": spec.linear_matrix(df)}
        missing = float(np.isnan(matrices["tree"]).mean()) if matrices["tree"].size else 0.0
        landmarks = landmarkers(matrices["tree"], matrices["linear"], y_idx, seed=seed % (2**31))
        z = meta_features(
            len(df), spec.n_columns, n_classes, len(spec.categorical), np.bincount(y_idx, minlength=n_classes),
            missing, landmarks,
        )  # fmt: skip
        learners = {}
        sources = {"neural": self.meta_learner, "hypernet": self.hypernet_learner}
        for name in [m for m in members if m in NEURAL_MEMBERS]:
            learners[name] = load_classifier_meta_learner(sources[name], NEURAL_MEMBERS[name])
            if n_classes > learner_dims(learners[name])[1]:
                members = [m for m in members if m != name]
        if "icl" in members:
            learners["icl"] = load_in_context_learner(self.in_context_learner)
            if n_classes > learners["icl"].c_max:
                members = [m for m in members if m != "icl"]
        if not members:
            raise ValueError(
                f"y has {n_classes} classes, more than the meta-learned members handle (c_max); allow a "
                f"classical member too, e.g. members=['icl', 'rf'], or members='auto'."
            )
        portfolio = self._portfolio(members)
        weights = portfolio.weights(z, members)
        fitted: dict[str, Any] = {}
        for name in sorted(weights):
            member_seed = int(rng.integers(np.iinfo(np.int32).max))
            if name == "icl":
                member = InContextMember(learners[name], n_members=self.n_ensemble, steps=self.adapt_steps)
                member.fit(df, y_idx, n_classes, member_seed)
            elif name in NEURAL_MEMBERS:
                member = NeuralMember(learners[name], n_views=self.n_ensemble, steps=self.adapt_steps,
                                      augment=self.augment, name=name)  # fmt: skip
                member.fit(df, y_idx, n_classes, member_seed, device=resolve_device(self.device))
            else:
                member = ClassicalMember(CLASSICAL_MEMBERS[name]).fit(
                    matrices, y_idx, n_classes, member_seed, n_jobs=n_threads
                )
            fitted[name] = member
        self.table_spec_ = spec
        self.members_ = fitted
        self.weights_ = weights
        self.meta_features_ = dict(zip(META_FEATURES, map(float, z), strict=True))
        if self.verbose:
            print("[AutoMetaClassifier] weights: " + ", ".join(f"{k}={v:.3f}" for k, v in weights.items()))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``; rows sum to one."""
        check_is_fitted(self)
        with limit_threads(self.n_jobs):
            return self._predict_proba(X)

    def _predict_proba(self, X: Any) -> np.ndarray:
        df = self._validate_X(X, reset=False)
        if hasattr(self, "_informative"):
            df = df.iloc[:, self._informative]
        spec = self.table_spec_
        matrices = {"tree": spec.tree_matrix(df), "linear": spec.linear_matrix(df)}
        proba = np.zeros((len(df), len(self.classes_)))
        for name, w in self.weights_.items():
            member = self.members_[name]
            p = member.predict_proba(df) if name in _FRAME_MEMBERS else member.predict_proba(matrices)
            proba += w * p
        proba = np.clip(proba, 0.0, None)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class label for each row (labels from ``classes_``)."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    # ------------------------------------------------------------------ helpers
    def _allowed_members(self) -> list[str]:
        if isinstance(self.members, str):  # "auto" (other strings are rejected by validation)
            return list(DEFAULT_MEMBERS)
        members = list(self.members)
        unknown = sorted(set(members) - set(_ALL_MEMBERS))
        if unknown or not members:
            raise ValueError(
                f"members must be 'auto' or a non-empty list drawn from {list(_ALL_MEMBERS)}; got {self.members!r}."
            )
        return sorted(set(members), key=_ALL_MEMBERS.index)

    def _portfolio(self, members: list[str]) -> Portfolio:
        if self.combination == "uniform" or len(members) == 1 or not DEFAULT_PORTFOLIO.is_file():
            if self.combination == "learned" and len(members) > 1:
                warnings.warn(
                    f"The shipped portfolio {DEFAULT_PORTFOLIO} is missing; combining members uniformly.",
                    UserWarning,
                    stacklevel=3,
                )
            return Portfolio.uniform(members)
        portfolio = _load_portfolio()
        outside = [m for m in members if m not in portfolio.members]
        if outside:
            warnings.warn(
                f"The shipped portfolio weighs {list(portfolio.members)}; the allowed members {outside} are "
                "outside it, so the members are combined uniformly. Pass combination='uniform' to silence this.",
                UserWarning,
                stacklevel=3,
            )
            return Portfolio.uniform(members)
        return portfolio

    def _validate_X(self, X: Any, *, reset: bool) -> pd.DataFrame:
        return validate_frame(self, X, reset=reset)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        # members already keep their tensors on the CPU; make sure of it for foreign learners
        from autometa.estimators._neural import detach_cpu

        for name, member in state.get("members_", {}).items():
            if name in NEURAL_MEMBERS:
                member.fast_ = detach_cpu(member.fast_)
                member.learner.to("cpu")
        return state


def _label_kind(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "number"
    if isinstance(value, (str, np.str_)):
        return "str"
    return type(value).__name__


def _check_labels(y: np.ndarray) -> None:
    """Clear errors for missing labels and for labels of mixed types (numpy cannot sort those)."""
    missing = np.flatnonzero(pd.isna(pd.Series(y, dtype=object)).to_numpy())
    if len(missing):
        raise ValueError(
            f"y contains {len(missing)} missing label(s) (NaN/None), e.g. at row(s) {missing[:5].tolist()}; "
            "drop those rows or give them a label."
        )
    if y.dtype == object:
        kinds: dict[str, Any] = {}
        for v in y:
            kinds.setdefault(_label_kind(v), v)
        if len(kinds) > 1:
            examples = ", ".join(f"{k} {v!r}" for k, v in sorted(kinds.items()))
            raise ValueError(
                f"y mixes label types ({examples}); use one type for every label, "
                "e.g. y.astype(str)."
            )


_PORTFOLIO_CACHE: dict[float, Portfolio] = {}


def _load_portfolio() -> Portfolio:
    mtime = DEFAULT_PORTFOLIO.stat().st_mtime
    if mtime not in _PORTFOLIO_CACHE:
        _PORTFOLIO_CACHE.clear()
        _PORTFOLIO_CACHE[mtime] = Portfolio.load(DEFAULT_PORTFOLIO)
    return _PORTFOLIO_CACHE[mtime]

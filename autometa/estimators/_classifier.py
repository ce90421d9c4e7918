"""AutoMetaClassifier: a scikit-learn classifier that starts every task from what it meta-learned.

See :class:`AutoMetaClassifier` and ``docs/classifier.md``.
"""

from __future__ import annotations

import math
import warnings
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from autometa._threads import limit_threads
from autometa.estimators._base import LEARNER_SOURCE, AutoMetaEstimator, MemberSpec
from autometa.estimators._combiner import log_loss
from autometa.estimators._context import FitContext
from autometa.estimators._in_context_member import (
    IN_CONTEXT_CHECKPOINT,
    MAX_CLASSES,
    InContextMember,
)
from autometa.estimators._members import CLASSICAL_MEMBERS, ClassicalMember
from autometa.estimators._neural import NeuralMember, learner_dims, stratified_subsample
from autometa.estimators._portfolio import META_FEATURES, Portfolio, landmarkers, meta_features
from autometa.estimators._shipped import load_learner, load_shipped, shipped_path

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

#: the shipped meta-learned initialization of the neural member
DEFAULT_CHECKPOINT = shipped_path("classifier_neural")
#: the shipped meta-learned combination weights
DEFAULT_PORTFOLIO = shipped_path("classifier_portfolio")
#: the shipped hypernetwork learner of the hypernet member
HYPERNET_CHECKPOINT = shipped_path("classifier_hypernet")
#: the meta-learned members and the shipped checkpoint each one loads for ``"default"``
NEURAL_MEMBERS = {"neural": DEFAULT_CHECKPOINT, "hypernet": HYPERNET_CHECKPOINT}
#: compute out-of-fold predictions even when the prior alone decides (the meta-training of ``n0``)
_OOF_ALWAYS = False

#: every member a user may allow and where its learner comes from; ``"icl"`` is the in-context
#: learner (``classifier_in_context.pt``)
_MEMBERS: dict[str, MemberSpec] = {
    "icl": MemberSpec("in_context_learner", "classifier_in_context"),
    "neural": MemberSpec("meta_learner", "classifier_neural"),
    "hypernet": MemberSpec("hypernet_learner", "classifier_hypernet"),
    **{name: MemberSpec() for name in sorted(CLASSICAL_MEMBERS)},
}
#: ``members="auto"``: the in-context learner and the classical families. The Meta-LSTM
#: ("neural") and hypernetwork members are opt-in: in the ablation (docs/classifier.md) they
#: added no measurable AUC beside the others and cost most of the fit time.
DEFAULT_MEMBERS = ("icl", *sorted(CLASSICAL_MEMBERS))


def load_classifier_meta_learner(meta_learner: Any = "default", member: str = "neural") -> Any:
    """The meta-learner behind a neural member (cached per process and file version).

    Parameters
    ----------
    meta_learner : str, path-like or learner
        ``"default"`` (the shipped checkpoint of ``member``), a checkpoint file or folder, an
        MLflow URI (``models:/name/version``, ``runs:/<run_id>/<path>``), or a learner object.
    member : {"neural", "hypernet"}
        Whose shipped checkpoint ``"default"`` means.

    Raises
    ------
    ValueError
        If the checkpoint is corrupt, of another format, or its learner cannot serve as the
        classifier's neural member (it must be a tabular gradient-based learner with
        ``d_max`` inputs and ``c_max`` outputs).
    FileNotFoundError
        If the file is missing (for the shipped one, the message says how to rebuild it).
    """
    return load_learner(meta_learner, _MEMBERS[member].shipped)


class AutoMetaClassifier(ClassifierMixin, AutoMetaEstimator):
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
    meta_learner : str, path-like, learner or None, default="default"
        Where the neural member's meta-learner comes from: ``"default"`` (shipped with the
        package, see ``autometa/checkpoints/model_card.json``), a checkpoint path, an
        MLflow URI ``"models:/<name>/<version>"`` / ``"runs:/<run_id>/<path>"``, a learner
        object, or None (leave the member out).
    hypernet_learner : str, path-like, learner or None, default="default"
        The same for the ``"hypernet"`` member (shipped: ``classifier_hypernet.pt``).
    in_context_learner : str, path-like, learner or None, default="default"
        The same for the ``"icl"`` member (shipped: ``classifier_in_context.pt``, model card
        ``in_context_model_card.json``; a checkpoint must be written for algo ``in-context``).
    members : "auto" or list of str, default="auto"
        Model families allowed into the blend (``"auto"``: ``icl, et, gbm, knn, lr, rf``;
        ``neural`` and ``hypernet`` may be added by listing them). The portfolio still decides
        their weights.
    blend : {"learned", "prior", "evidence", "uniform"}, default="learned"
        ``"learned"`` starts from the meta-learned portfolio weights (the prior) and moves them
        by greedy ensemble selection on the members' 3-fold out-of-fold probabilities, the
        evidence's share growing as ``n / (n + n0)`` with ``n0`` meta-learned
        (``classifier_combiner.json``, :mod:`autometa.estimators._combiner`); ``"prior"`` uses
        the portfolio weights alone, ``"evidence"`` the selection alone from equal weights,
        ``"uniform"`` averages the allowed members equally (the ablations).
    n_ensemble : int or "auto", default=4
        Number of views of each meta-learned member (each with its own column placement,
        label permutation and, for the neural members, augmentation draw and, above 256 rows,
        row subsample). The in-context member's predict time grows linearly with it.
        ``"auto"``: the learner's own ``inference_passes`` (1 for a per-cell v2 learner, 4
        otherwise).
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
    combination : {"learned", "prior", "evidence", "uniform"}, default="deprecated"
        Deprecated name of ``blend`` (since 0.1, removed in 0.2); when given it wins over
        ``blend``, with a ``FutureWarning``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, as given (strings round-trip).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when ``X`` had string column names.
    weights_ : dict of str to float
        The combination weight of each fitted member.
    prior_weights_ : dict of str to float
        The meta-learned portfolio's weights for this task (the combiner's starting point).
    evidence_share_ : float
        ``n / (n + n0)``: how far the task's out-of-fold evidence moved the weights.
    oof_predictions_ : dict of str to ndarray
        Each member's 3-fold out-of-fold probabilities on the training rows (empty when the
        prior alone decides).
    members_ : dict of str to object
        The fitted members.
    meta_features_ : dict of str to float
        The task's meta-features the portfolio saw.
    table_spec_ : TableSpec
        Column kinds and statistics learned from the training rows.
    informative_columns_ : ndarray of int
        Positions of the columns the members read (all-missing columns are left out).

    See Also
    --------
    autometa.meta.MetaTrainer : meta-trains learners such as the shipped one.

    Notes
    -----
    The in-context member reads 10 classes per forward pass and serves up to 100 by output
    codes (random groupings of the classes, decoded by their geometric mean). The opt-in neural
    and hypernetwork members handle at most ``c_max`` classes (10 in the shipped checkpoints);
    with more classes they leave the blend. Columns beyond the net's
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

    _MEMBERS = _MEMBERS
    _DEFAULT_MEMBERS = DEFAULT_MEMBERS
    _BLEND = "classifier_portfolio"
    _SUBSAMPLE = "stratified"
    _PREDICT = "predict_proba"

    _parameter_constraints: ClassVar[dict] = {
        **AutoMetaEstimator._parameter_constraints,
        "meta_learner": LEARNER_SOURCE,
        "hypernet_learner": LEARNER_SOURCE,
        "in_context_learner": LEARNER_SOURCE,
        "combination": [
            StrOptions({"learned", "prior", "evidence", "uniform"}),
            Hidden(StrOptions({"deprecated"})),
        ],
        "augment": ["boolean"],
        "adapt_steps": [Interval(Integral, 0, None, closed="left"), None],
        "device": [str],
    }

    def __init__(
        self,
        *,
        meta_learner: Any = "default",
        hypernet_learner: Any = "default",
        in_context_learner: Any = "default",
        members: str | list[str] = "auto",
        blend: str = "learned",
        n_ensemble: int = 4,
        augment: bool = True,
        adapt_steps: int | None = None,
        max_samples: int = 10_000,
        device: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int | None = None,
        verbose: int = 0,
        combination: str = "deprecated",
    ) -> None:
        self.meta_learner = meta_learner
        self.hypernet_learner = hypernet_learner
        self.in_context_learner = in_context_learner
        self.members = members
        self.blend = blend
        self.n_ensemble = n_ensemble
        self.augment = augment
        self.adapt_steps = adapt_steps
        self.max_samples = max_samples
        self.device = device
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.combination = combination

    # ------------------------------------------------------------------ fit (see AutoMetaEstimator)
    def _blend_choice(self) -> str:
        if self.combination == "deprecated":
            return self.blend
        warnings.warn(
            "'combination' was renamed 'blend' in 0.1 and will be removed in 0.2; pass "
            f"blend={self.combination!r} instead.",
            FutureWarning,
            stacklevel=5,
        )
        return self.combination

    def _check_target(self, y: Any, n_rows: int) -> np.ndarray:
        y = column_or_1d(np.asarray(y) if not isinstance(y, pd.Series) else y.to_numpy(), warn=True)
        if len(y) != n_rows:
            raise ValueError(
                f"X and y have inconsistent numbers of samples: X has {n_rows} rows, y has {len(y)}."
            )
        _check_labels(y)
        check_classification_targets(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least two classes in y; got one class "
                f"({self.classes_[0]!r}). A classifier cannot learn from one class."
            )
        return y_idx

    def _subsample(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return stratified_subsample(y, self.max_samples, rng)

    def _prepare(self, context: FitContext, y: np.ndarray, seed: int) -> np.ndarray:
        tree, linear, spec, n_classes = (
            context.matrix("tree"),
            context.matrix("linear"),
            context.table_spec,
            context.n_classes,
        )
        missing = float(np.isnan(tree).mean()) if tree.size else 0.0
        landmarks = landmarkers(tree, linear, y, seed=seed % (2**31))
        z = meta_features(
            context.n_rows, spec.n_columns, n_classes, len(spec.categorical), np.bincount(y, minlength=n_classes),
            missing, landmarks,
        )  # fmt: skip
        self.meta_features_ = dict(zip(META_FEATURES, map(float, z), strict=True))
        return y

    def _serves(self, name: str, learner: Any, context: FitContext) -> bool:
        if learner is None:
            return False
        c_max = MAX_CLASSES if name == "icl" else learner_dims(learner)[1]
        return context.n_classes <= c_max

    def _left_out(self, name: str, learner: Any, context: FitContext) -> str:
        if name == "icl":
            limit = f"The in-context member handles at most {MAX_CLASSES} classes"
        else:
            limit = f"The {name!r} member handles at most {learner_dims(learner)[1]} classes (its learner's c_max)"
        return f"{limit}; y has {context.n_classes}, so the blend goes on without it."

    def _no_member_left(self, context: FitContext) -> str:
        return (
            f"y has {context.n_classes} classes, more than the meta-learned members handle (c_max), or their "
            "learners are None; allow a classical member too, e.g. members=['icl', 'rf'], or members='auto'."
        )

    @staticmethod
    def _blend_members(shipped: Portfolio) -> list[str]:
        return shipped.members

    def _weights(
        self, members: list[str], context: FitContext, learned: Portfolio | None
    ) -> dict[str, float]:
        portfolio = learned if learned is not None else Portfolio.uniform(members)
        z = np.array([self.meta_features_[k] for k in META_FEATURES])
        return portfolio.weights(z, members)

    def _make_member(self, name: str, learner: Any, light: bool = False) -> Any:
        views = self._passes(learner, light)
        if name == "icl":
            return InContextMember(learner, n_members=views, steps=self.adapt_steps)
        if name in NEURAL_MEMBERS:
            return NeuralMember(
                learner, n_views=views, steps=self.adapt_steps, augment=self.augment, name=name
            )
        return ClassicalMember(CLASSICAL_MEMBERS[name], light=light)

    # ------------------------------------------------------------------ the combiner's hooks
    _LOSS = staticmethod(log_loss)

    def _shipped_n0(self, shipped: Portfolio | None) -> float:
        if shipped is None or not shipped_path("classifier_combiner").is_file():
            return math.inf
        n0 = load_shipped("classifier_combiner").get("n0")
        return math.inf if n0 is None else float(n0)

    def _cross_fit_wanted(self, n_members: int, target: np.ndarray) -> bool:
        # stratified folds keep every class in every training fold when each class has two rows
        enough = len(target) >= 6 and np.bincount(target).min() >= 2
        return (self.evidence_share_ > 0 or _OOF_ALWAYS) and n_members > 1 and enough

    # ------------------------------------------------------------------ predict
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``; rows sum to one."""
        with limit_threads(self.n_jobs):
            proba = self._predict_blend(self._rows(X))
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

"""What :class:`AutoMetaClassifier` and :class:`AutoMetaRegressor` share: one base estimator.

:class:`AutoMetaEstimator` holds the scikit-learn plumbing (parameter constraints and tags, the
``fit`` -> thread scope -> ``_fit`` wrapper, seeding, ``max_samples``), the choice and
validation of the members, the loading of their learners and of the shipped blend, the
:class:`~autometa.estimators._context.FitContext` built once per ``fit`` (and once per
``predict``) and the loop over the members. A subclass says what is its own: how the target is
checked and prepared, which members exist (:class:`MemberSpec`), how a member is built, how
the blend's weights are computed, and what it predicts.

Every member follows one contract: ``fit(context, y, seed) -> self`` and ``predict(context)``
(regression) or ``predict_proba(context)`` (classification), over the context of the rows.

The blend's weights come from :meth:`AutoMetaEstimator._combine`: the meta-learned prior
weights moved by greedy ensemble selection over the members' out-of-fold predictions, the
task's evidence weighing ``n / (n + n0)`` (:mod:`autometa.estimators._combiner`).

Parameters shared by both estimators (named alike, validated alike): ``members``, ``blend``
(``"learned"``: the meta-learned prior moved by the task's evidence, ``"prior"``: the prior
alone, ``"evidence"``: greedy selection from equal weights, ``"uniform"``: equal weights), ``n_ensemble``,
``max_samples``, ``random_state``, ``n_jobs``, ``verbose``; every learner parameter takes
``"default"``, a checkpoint path or MLflow URI, a learner object, or None (leave the member out).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_random_state

from autometa._threads import limit_threads
from autometa._utils import table_input_tags
from autometa.estimators._combiner import (
    evidence_share,
    fold_ids,
    greedy_selection,
    oof_predictions,
)
from autometa.estimators._context import FitContext
from autometa.estimators._shipped import load_learner, load_shipped, shipped_path
from autometa.estimators._table import TableSpec, informative_columns, validate_frame
from autometa.tracking._flavor import RefuseSkops

__all__ = ["LEARNER_SOURCE", "AutoMetaEstimator", "MemberSpec"]

#: folds of the out-of-fold predictions and greedy rounds of the combiner (:mod:`._combiner`)
FOLDS, ROUNDS = 3, 20
#: views (ensemble members) of a meta-learned member per fold for the out-of-fold predictions
OOF_ENSEMBLE = 1
#: what a learner parameter accepts: "default", a path or MLflow URI, a learner object, or None
LEARNER_SOURCE = [str, os.PathLike, HasMethods(["adapt", "predict", "get_config"]), None]


@dataclass(frozen=True)
class MemberSpec:
    """One member an estimator may blend.

    Attributes
    ----------
    learner : str or None
        The estimator parameter naming the member's meta-learned learner (None: a classical
        member, nothing to load).
    shipped : str or None
        The :data:`~autometa.estimators._shipped.SHIPPED` entry that ``"default"`` means.
    optional : bool
        Leave the member out, rather than fail, when ``"default"`` is asked for and the shipped
        file is missing (the regressor's meta-learned members).
    """

    learner: str | None = None
    shipped: str | None = None
    optional: bool = False


_NOTED: set[tuple[str, str]] = set()


def _note_once(key: tuple[str, str], message: str) -> None:
    """Warn ``message`` the first time ``key`` (estimator class, member) leaves a blend in this process."""
    if key in _NOTED:
        return
    _NOTED.add(key)
    warnings.warn(message + " (This note is shown once per process.)", UserWarning, stacklevel=5)


class AutoMetaEstimator(RefuseSkops, BaseEstimator):
    """Base of the autometa estimators (see the module docstring); not for direct use.

    Subclasses set :attr:`_MEMBERS`, :attr:`_DEFAULT_MEMBERS`, :attr:`_BLEND` and
    :attr:`_SUBSAMPLE`, and implement :meth:`_check_target`, :meth:`_subsample`,
    :meth:`_prepare`, :meth:`_make_member`, :meth:`_weights` and :meth:`_no_member_left`.
    """

    #: every member a user may allow, in the order they are listed
    _MEMBERS: ClassVar[dict[str, MemberSpec]] = {}
    #: ``members="auto"``
    _DEFAULT_MEMBERS: ClassVar[tuple[str, ...]] = ()
    #: the shipped blend (a key of SHIPPED)
    _BLEND: ClassVar[str] = ""
    #: how a training set above ``max_samples`` is subsampled, for the warning
    _SUBSAMPLE: ClassVar[str] = "random"
    #: what a member predicts: ``"predict_proba"`` (classification) or ``"predict"`` (regression)
    _PREDICT: ClassVar[str] = "predict"
    #: the combiner's loss of a blended out-of-fold prediction (:mod:`._combiner`)
    _LOSS: ClassVar[Any] = None

    _parameter_constraints: ClassVar[dict] = {
        "members": [StrOptions({"auto"}), list, tuple],
        "blend": [StrOptions({"learned", "prior", "evidence", "uniform"})],
        "n_ensemble": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_samples": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __sklearn_tags__(self):
        return table_input_tags(super().__sklearn_tags__())

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any) -> AutoMetaEstimator:
        """Fit the blend's members on ``(X, y)``.

        Parameters
        ----------
        X : array-like or pandas DataFrame of shape (n_samples, n_features)
            Numeric, boolean, categorical or string columns; NaN marks missing values.
        y : array-like of shape (n_samples,)
            Class labels (classifier) or numeric targets (regressor).

        Returns
        -------
        self
        """
        with limit_threads(self.n_jobs) as n_threads:
            return self._fit(X, y, n_threads)

    def _fit(self, X: Any, y: Any, n_threads: int) -> AutoMetaEstimator:
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        df = validate_frame(self, X, reset=True)
        y = self._check_target(y, len(df))
        members = self._allowed_members()
        blend = self._blend_choice()
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        rng = np.random.default_rng(seed)
        if len(df) > self.max_samples:
            warnings.warn(
                f"{len(df)} training rows exceed max_samples={self.max_samples}; fitting on a {self._SUBSAMPLE} "
                f"subsample of {self.max_samples} rows.",
                UserWarning,
                stacklevel=4,
            )
            keep = self._subsample(y, rng)
            df, y = df.iloc[keep].reset_index(drop=True), y[keep]
        self.informative_columns_ = informative_columns(df)
        df = df.iloc[:, self.informative_columns_]
        self.table_spec_ = TableSpec().fit(df)
        context = self._context(df, n_threads)
        target = self._prepare(context, y, seed)
        learners = self._load_learners(members)
        served = [
            m
            for m in members
            if self._MEMBERS[m].learner is None or self._serves(m, learners.get(m), context)
        ]
        for m in members:
            if (
                m not in served and learners.get(m) is not None
            ):  # left out by a limit, not by the user
                _note_once((type(self).__name__, m), self._left_out(m, learners[m], context))
        members = served
        if not members:
            raise ValueError(self._no_member_left(context))
        shipped, learned = self._shipped_blend(members, blend)
        weights = self._weights(members, context, shipped if learned else None)
        fitted: dict[str, Any] = {}
        seeds: dict[str, int] = {}
        for name in sorted(weights):
            seeds[name] = int(rng.integers(np.iinfo(np.int32).max))
            fitted[name] = self._make_member(name, learners.get(name)).fit(
                context, target, seeds[name]
            )
        weights = self._combine(
            weights, fitted, context, target, seed, learners, seeds, blend, shipped
        )
        self.members_ = {m: fitted[m] for m in weights}
        self.weights_ = weights
        self._finish(context, target, seed, shipped)
        if self.verbose:
            print(
                f"[{type(self).__name__}] weights: "
                + ", ".join(f"{k}={v:.3f}" for k, v in weights.items())
            )
        return self

    def _combine(self, prior: dict[str, float], fitted: dict[str, Any], context: FitContext, target: np.ndarray,
                 seed: int, learners: dict[str, Any], seeds: dict[str, int], blend: str,
                 shipped: Any) -> dict[str, float]:  # fmt: skip
        """The blend's weights: the ``prior`` moved by the task's evidence (:mod:`._combiner`).

        Each member's out-of-fold predictions on the training rows (:data:`FOLDS` folds, members
        refitted on the other folds in their light variant) feed greedy ensemble selection
        started from ``prior``; the evidence's share is ``n / (n + n0)`` with ``n0`` from
        :meth:`_n0` (``blend="prior"``: none; ``"evidence"``: all, from equal weights).
        """
        n0 = self._n0(blend, shipped)
        self.evidence_share_ = evidence_share(context.n_rows, n0)
        self.prior_weights_ = dict(prior)
        self.oof_predictions_: dict[str, np.ndarray] = {}
        if not self._cross_fit_wanted(len(fitted), target):
            return prior
        stratify = target if self._PREDICT == "predict_proba" else None
        folds = fold_ids(context.n_rows, FOLDS, seed, y=stratify)
        for name in sorted(fitted):
            shortcut = self._oof_shortcut(name, fitted[name], target)
            if shortcut is not None:
                self.oof_predictions_[name] = self._output(shortcut)
                continue

            def fit_predict(train: np.ndarray, test: np.ndarray, name: str = name) -> np.ndarray:
                inner, outer = (
                    context.take(np.flatnonzero(train)),
                    context.take(np.flatnonzero(test)),
                )
                member = self._make_member(name, learners.get(name), light=True).fit(
                    inner, target[train], seeds[name]
                )
                return self._output(getattr(member, self._PREDICT)(self._fold_rows(outer, inner)))

            self.oof_predictions_[name] = oof_predictions(fit_predict, folds)
        if self.evidence_share_ <= 0 or len(fitted) < 2:
            return prior
        weights = greedy_selection(
            self.oof_predictions_, target, self._LOSS, prior=prior, n0=n0, rounds=ROUNDS
        )
        return {m: w for m, w in weights.items() if w > 1e-9}

    def _context(self, df: pd.DataFrame, n_threads: int = 1) -> FitContext:
        """The context of rows ``df`` (informative columns already selected) for this estimator."""
        return FitContext(
            df,
            self.table_spec_,
            n_classes=len(getattr(self, "classes_", ())),
            target_order=getattr(self, "target_order_", None),
            n_jobs=n_threads,
            device=getattr(self, "device", "cpu"),  # only the classifier adapts nets
        )

    def _rows(self, X: Any) -> FitContext:
        """The context of the rows ``X`` to predict (validated against the fitted columns)."""
        check_is_fitted(self)
        df = validate_frame(self, X, reset=False)
        context = self._context(df.iloc[:, self.informative_columns_])
        context.matrix(
            "tree"
        )  # checks the values as fit did (an infinity names its column) before any member
        return context

    def member_predictions(self, X: Any) -> dict[str, np.ndarray]:
        """Each fitted member's own prediction for the rows ``X``.

        Class probabilities ``(n, n_classes)`` of a classifier's members (columns in the order
        of ``classes_``); a regressor's members predict in the transformed target's units (see
        ``target_transform_``).
        """
        context = self._rows(X)
        with limit_threads(self.n_jobs):
            return {
                name: self._output(getattr(member, self._PREDICT)(context))
                for name, member in self.members_.items()
            }

    def _predict_blend(self, context: FitContext) -> np.ndarray:
        """The weighted sum of the members' predictions, in ``weights_`` order."""
        total = None
        for name, w in self.weights_.items():
            p = self._output(getattr(self.members_[name], self._PREDICT)(context))
            if total is None:
                total = np.zeros(np.shape(p))
            total += w * p
        assert total is not None  # fit always leaves one member
        return total

    # ------------------------------------------------------------------ members and blend
    def _allowed_members(self) -> list[str]:
        """The members the user allowed, in :attr:`_MEMBERS` order; a clear error for unknown ones."""
        if isinstance(self.members, str):  # "auto" (other strings are rejected by validation)
            return list(self._DEFAULT_MEMBERS)
        order = list(self._MEMBERS)
        members = list(self.members)
        unknown = sorted(set(members) - set(order))
        if unknown or not members:
            raise ValueError(
                f"members must be 'auto' or a non-empty list drawn from {order}; got {self.members!r}."
            )
        return sorted(set(members), key=order.index)

    def _load_learners(self, members: list[str]) -> dict[str, Any]:
        """The learner of each meta-learned member in ``members`` that has one (None: left out)."""
        learners: dict[str, Any] = {}
        for name in members:
            spec = self._MEMBERS[name]
            if spec.learner is None:
                continue
            source = getattr(self, spec.learner)
            default = isinstance(source, str) and source == "default"
            if source is None or (
                spec.optional and default and not shipped_path(spec.shipped).is_file()
            ):
                learners[name] = None
                continue
            learners[name] = load_learner(source, spec.shipped)
        return learners

    def _serves(self, name: str, learner: Any, context: FitContext) -> bool:
        """Whether meta-learned member ``name`` (with ``learner``, None if left out) can serve this task."""
        return learner is not None

    def _left_out(self, name: str, learner: Any, context: FitContext) -> str:
        """The one-time note when :meth:`_serves` leaves member ``name`` out: which limit, and the task's value."""
        return f"The {name!r} member cannot serve this task, so the blend goes on without it."

    def _blend_choice(self) -> str:
        """``"learned"`` or ``"uniform"`` (deprecated names and values warn here)."""
        return self.blend

    def _shipped_blend(self, members: list[str], blend: str) -> tuple[Any, bool]:
        """The shipped blend (None when its file is missing) and whether its learned weights apply.

        They do not with ``blend="uniform"``, with one member, without the file (a warning), or
        when an allowed member is outside the shipped blend (a warning).
        """
        shipped = load_shipped(self._BLEND) if shipped_path(self._BLEND).is_file() else None
        several = len(members) > 1
        if shipped is None:
            if blend == "learned" and several:
                warnings.warn(
                    f"The shipped blend {shipped_path(self._BLEND)} is missing; combining the members uniformly.",
                    UserWarning,
                    stacklevel=5,
                )
            return None, False
        if blend in ("uniform", "evidence") or not several:
            return shipped, False
        outside = [m for m in members if m not in self._blend_members(shipped)]
        if outside:
            warnings.warn(
                f"The shipped blend weighs {sorted(self._blend_members(shipped))}; the allowed members {outside} are "
                "outside it, so the members are combined uniformly. Pass blend='uniform' to silence this.",
                UserWarning,
                stacklevel=5,
            )
            return shipped, False
        return shipped, True

    def _passes(self, learner: Any, light: bool = False) -> int:
        """Feature placements a meta-learned member reads the task with: ``n_ensemble``, or for
        ``"auto"`` the learner's own ``inference_passes`` (4 when it names none); at most
        :data:`OOF_ENSEMBLE` for the ``light`` out-of-fold variant."""
        if self.n_ensemble == "auto":
            n = int(getattr(learner, "inference_passes", 4))
        else:
            n = int(self.n_ensemble)
        return min(n, OOF_ENSEMBLE) if light else n

    # ------------------------------------------------------------------ subclass hooks
    def _check_target(self, y: Any, n_rows: int) -> np.ndarray:
        """``y`` checked (clear errors) as the array the members and subsampling read."""
        raise NotImplementedError

    def _subsample(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Sorted row indices of a ``max_samples`` subsample."""
        raise NotImplementedError

    def _prepare(self, context: FitContext, y: np.ndarray, seed: int) -> np.ndarray:
        """Fit the task-level state (meta-features, target transform); the target the members fit."""
        raise NotImplementedError

    @staticmethod
    def _blend_members(shipped: Any) -> Collection[str]:
        """The members the shipped blend weighs."""
        raise NotImplementedError

    def _weights(self, members: list[str], context: FitContext, learned: Any) -> dict[str, float]:
        """The blend weight of each member to fit: ``learned`` is the shipped blend when its
        weights apply (:meth:`_shipped_blend`), None for equal weights."""
        raise NotImplementedError

    def _make_member(self, name: str, learner: Any, light: bool = False) -> Any:
        """A new, unfitted member ``name`` (``learner``: its loaded learner, None for classical ones;
        ``light``: the cheaper variant fitted for out-of-fold predictions)."""
        raise NotImplementedError

    def _no_member_left(self, context: FitContext) -> str:
        """The error message when no allowed member can serve the task."""
        raise NotImplementedError

    def _n0(self, blend: str, shipped: Any) -> float:
        """Rows at which the combiner weighs prior and evidence equally (``inf``: the prior alone)."""
        return {"learned": self._shipped_n0(shipped), "evidence": 0.0}.get(blend, math.inf)

    def _shipped_n0(self, shipped: Any) -> float:
        """The meta-learned ``n0`` (``inf`` when none ships)."""
        return math.inf

    def _cross_fit_wanted(self, n_members: int, target: np.ndarray) -> bool:
        """Whether to compute out-of-fold predictions (the evidence needs two members and six rows)."""
        return self.evidence_share_ > 0 and n_members > 1 and len(target) >= 6

    def _oof_shortcut(self, name: str, member: Any, target: np.ndarray) -> np.ndarray | None:
        """Out-of-fold predictions a fitted member gives for free (e.g. a forest's out-of-bag ones), or None."""
        return None

    def _fold_rows(self, rows: FitContext, fitted_on: FitContext) -> FitContext:
        """The held-out rows of a fold as its members read them (as at ``predict``)."""
        return rows

    def _output(self, prediction: np.ndarray) -> np.ndarray:
        """A member's prediction as the blend uses it (the regressor bounds it)."""
        return prediction

    def _finish(self, context: FitContext, target: np.ndarray, seed: int, shipped: Any) -> None:
        """Fitted state that needs the fitted members (``shipped``: the shipped blend or None)."""

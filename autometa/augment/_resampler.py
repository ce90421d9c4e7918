"""MetaAugmenter: apply a trained augmentation policy to any data set (``fit_resample``)."""

from __future__ import annotations

from functools import lru_cache
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_random_state

from autometa._threads import limit_threads
from autometa._utils import check_not_empty, table_input_tags
from autometa.augment._ops import OPS, check_magnitude
from autometa.augment._policy import AugmentationPolicy, _PolicyBase, load_policy

__all__ = ["DEFAULT_POLICY_PATH", "MetaAugmenter"]

#: the shipped default policy (meta-trained on the dev pool; see its model card)
DEFAULT_POLICY_PATH = Path(__file__).resolve().parent.parent / "checkpoints" / "augment_policy.pt"


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float):

    policy, _ = load_policy(path)
    policy.eval()
    policy.requires_grad_(False)
    return policy


def _resolve_policy(policy: Any, n_augment: int | None):

    if isinstance(policy, _PolicyBase):
        return policy
    if isinstance(policy, dict):
        if not policy:
            raise ValueError("A policy dict needs at least one {op: magnitude} entry.")
        for name, m in policy.items():
            if name not in OPS or OPS[name].kind == "image":
                tabular = sorted(n for n, op in OPS.items() if op.kind != "image")
                raise ValueError(
                    f"Unknown augmentation op {name!r} for tables; known ops: {tabular}."
                )
            check_magnitude(m, name)
        return AugmentationPolicy.fixed(
            {k: 1.0 for k in policy},
            {k: min(float(v), OPS[k].max_magnitude * (1 - 1e-6)) for k, v in policy.items()},
            n_augment=2 if n_augment is None else n_augment,
        )
    if isinstance(policy, str) and policy == "default":
        path = DEFAULT_POLICY_PATH
        if not path.is_file():
            raise ValueError(
                f"The shipped default augmentation policy is missing ({path}); reinstall autometa or train one "
                "with `python -m autometa.augment.train` and pass its path."
            )
    elif isinstance(policy, (str, Path)):
        path = Path(policy)
        if not path.is_file():
            raise ValueError(
                f"No augmentation policy file at {str(path)!r}; pass policy='default' or an existing path."
            )
    else:
        raise ValueError(
            "policy must be 'default', a path to a policy checkpoint, an AugmentationPolicy, "
            f"or a dict {{op: magnitude}}; got {type(policy).__name__}."
        )
    return _load_cached(str(path.resolve()), path.stat().st_mtime)


def _is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype)


def _same_rows(new: pd.DataFrame, frame: pd.DataFrame, parents: np.ndarray) -> np.ndarray:
    """Which rows of ``new`` equal row ``parents[i]`` of ``frame`` in every column (NaN == NaN)."""
    same = np.ones(len(new), dtype=bool)
    for j in range(frame.shape[1]):
        a = new.iloc[:, j].to_numpy(dtype=object)
        b = frame.iloc[parents, j].to_numpy(dtype=object)
        both_missing = pd.isna(a) & pd.isna(b)
        with np.errstate(invalid="ignore"):
            equal = np.array([x == y if not (pd.isna(x) or pd.isna(y)) else False for x, y in zip(a, b, strict=True)],
                             dtype=bool) if len(a) else np.zeros(0, dtype=bool)  # fmt: skip
        same &= equal | both_missing
    return same


class MetaAugmenter(BaseEstimator):
    """Append policy-augmented rows to a data set (an imbalanced-learn style resampler).

    Every original row is kept, unchanged and first; augmented rows follow, up to
    ``n_augment`` per original row. Each augmented row is made from a parent row by one op
    drawn from the policy (noise, scaling, feature dropout, swap noise, mixup, SMOTE-style
    interpolation, ...). A draw that leaves the row exactly as it was (the policy's
    ``identity`` op, "add fewer rows", or an op that happened to change nothing) is dropped:
    an exact copy adds no information and would leak a training row into any later
    validation split, so fewer than ``n_augment`` rows per original row may be added (see
    ``ops_``). Ops that change values act on numeric columns only, in a
    quantile-normalized space (so skewed columns and outliers are handled, and augmented
    values stay within each column's observed range); categorical, string and boolean
    columns are copied from the parent row, or, for swap noise, swapped with the value of
    a random row of the same class. Integer columns stay integers. A mixed row's label is
    its dominant class, which is its parent's.

    Missing numeric values (NaN) are allowed: the ops see a missing cell as the column's
    median (in the quantile-normal space), and a cell missing in the parent row stays
    missing in every row made from it. ``y`` needs at least two classes.

    Parameters
    ----------
    policy : "default", path, AugmentationPolicy or dict, default="default"
        ``"default"``: the policy shipped with autometa (meta-trained on the dev pool, see
        ``autometa/checkpoints/augment_model_card.json``); a path to a checkpoint written by
        :func:`~autometa.augment.save_policy`; a policy object; or a hand policy
        ``{op: magnitude}`` (ops chosen uniformly).
    n_augment : int, optional
        Augmented rows per original row (default: the policy's own, 2 for the default).
    random_state : int, RandomState instance or None, default=None
        Seed; an int gives identical output on every call and in every process (``None``:
        numpy's global random state, the scikit-learn convention).
    chunk_size : int, default=256
        Rows are split (stratified, at random) into chunks of about this many rows; partners
        for mixup, SMOTE and swap noise come from the same chunk. This bounds memory for
        large data sets (the cost is quadratic in the chunk size).
    n_jobs : int or None, default=None
        Threads for torch and the BLAS/OpenMP pools during :meth:`fit_resample` (``None``:
        1, ``-1``: all CPUs); the caller's settings are restored afterwards.

    Attributes
    ----------
    classes_ : ndarray
        Class labels seen by the last :meth:`fit_resample`.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When ``X`` was a DataFrame.
    numeric_features_ : ndarray of bool
        Which columns the value-changing ops act on.
    ops_ : ndarray of str
        Op used for each output row of the last call (``"original"`` for original rows).
    parents_ : ndarray of int
        Row of ``X`` each output row was made from.

    Examples
    --------
    >>> import numpy as np
    >>> from autometa.augment import MetaAugmenter
    >>> X = np.random.default_rng(0).normal(size=(20, 3)); y = np.array([0, 1] * 10)
    >>> X_res, y_res = MetaAugmenter(policy={"smote": 0.5}, n_augment=1, random_state=0).fit_resample(X, y)
    >>> X_res.shape, bool((X_res[:20] == X).all())
    ((40, 3), True)

    In an imbalanced-learn pipeline (augmentation happens only when fitting)::

        from imblearn.pipeline import make_pipeline
        model = make_pipeline(MetaAugmenter(random_state=0), LogisticRegression()).fit(X, y)
    """

    _parameter_constraints: dict = {
        "policy": "no_validation",  # checked by _resolve_policy, with op-level messages
        "n_augment": [Interval(Integral, 0, None, closed="left"), None],
        "random_state": ["random_state"],
        "chunk_size": [Interval(Integral, 2, None, closed="left")],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        policy: Any = "default",
        n_augment: int | None = None,
        random_state: int | None = None,
        chunk_size: int = 256,
        n_jobs: int | None = None,
    ) -> None:
        self.policy = policy
        self.n_augment = n_augment
        self.random_state = random_state
        self.chunk_size = chunk_size
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ validation
    def _validate(self, X: Any, y: Any) -> tuple[Any, ...]:
        """Check ``X``/``y``, set the fitted attributes; return the frame, labels, column kinds
        and the numeric block (entirely missing numeric columns left out of it).

        Returns
        -------
        frame, y_arr, is_frame, numeric, y_idx, num_cols, values
        """
        frame, y_arr, is_frame = self._check_X_y(X, y)
        numeric = np.array([_is_numeric(frame[c]) for c in frame.columns])
        self.n_features_in_ = frame.shape[1]
        if is_frame:
            self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.numeric_features_ = numeric
        self.classes_, y_idx = np.unique(y_arr, return_inverse=True)
        num_cols = [c for c, is_num in zip(frame.columns, numeric, strict=True) if is_num]
        values = np.zeros((frame.shape[0], 0))
        if num_cols:
            values = frame[num_cols].to_numpy(dtype=np.float64, na_value=np.nan)
            if np.isinf(values).any():
                bad = [
                    str(c)
                    for c, hit in zip(num_cols, np.isinf(values).any(axis=0), strict=True)
                    if hit
                ]
                raise ValueError(
                    f"X contains infinity in column(s) {bad}; replace those values by finite ones or by NaN "
                    "(missing values are kept missing)."
                )
            # an entirely missing column has nothing to augment: it is copied like a category
            observed = ~np.isnan(values).all(axis=0)
            num_cols = [c for c, keep in zip(num_cols, observed, strict=True) if keep]
            values = values[:, observed]
        return frame, y_arr, is_frame, numeric, y_idx, num_cols, values

    def __sklearn_tags__(self):
        return table_input_tags(super().__sklearn_tags__())

    def _check_X_y(self, X: Any, y: Any) -> tuple[pd.DataFrame, np.ndarray, bool]:
        if hasattr(X, "sparse") or type(X).__module__.startswith("scipy.sparse"):
            raise TypeError(
                "Sparse data was passed for X, but dense data is required: MetaAugmenter augments "
                "dense tables. Use X.toarray() to convert to a dense numpy array."
            )
        is_frame = isinstance(X, pd.DataFrame)
        if is_frame:
            frame = X
        else:
            arr = np.asarray(X)
            if arr.ndim != 2:
                raise ValueError(
                    f"X must be 2-dimensional (n_samples, n_features); got shape {arr.shape}."
                )
            frame = pd.DataFrame(arr)
            if arr.dtype == object:  # numbers stored as objects become numeric columns
                for c in frame.columns:
                    converted = pd.to_numeric(frame[c], errors="coerce")
                    if converted.notna().all():
                        frame[c] = converted
        y_arr = np.asarray(y)
        if y_arr.ndim == 2 and y_arr.shape[1] == 1:
            y_arr = y_arr.ravel()
        if y_arr.ndim != 1:
            raise ValueError(f"y must be 1-dimensional; got shape {y_arr.shape}.")
        check_not_empty(frame.shape)
        if len(y_arr) != frame.shape[0]:
            raise ValueError(f"X has {frame.shape[0]} rows but y has {len(y_arr)} labels.")
        if pd.isna(pd.Series(y_arr)).any():
            raise ValueError("y contains missing values.")
        check_classification_targets(y_arr)
        classes = pd.unique(pd.Series(y_arr, dtype=object))
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least two classes in y; got one class ({classes[0]!r}). "
                "Augmenting a one-class table would only copy its label."
            )
        return frame, y_arr, is_frame

    # ------------------------------------------------------------------ API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any) -> MetaAugmenter:
        """Validate the inputs and the policy and record the input's shape and classes
        (resampling happens in :meth:`fit_resample`)."""
        self._validate(X, y)
        _resolve_policy(self.policy, self.n_augment)
        return self

    def fit_resample(self, X: Any, y: Any) -> tuple[Any, Any]:
        """Return ``X`` and ``y`` with augmented rows appended (same types and dtypes).

        Raises
        ------
        ValueError
            For a bad policy (unknown op, negative magnitude, missing file), missing or
            infinite values in numeric columns, mismatched or empty inputs.
        """
        self._validate_params()
        with limit_threads(self.n_jobs):
            return self._fit_resample(X, y)

    def _fit_resample(self, X: Any, y: Any) -> tuple[Any, Any]:

        frame, y_arr, is_frame, numeric, y_idx, num_cols, values = self._validate(X, y)
        policy = _resolve_policy(self.policy, self.n_augment)
        n = frame.shape[0]
        k = policy.n_augment if self.n_augment is None else int(self.n_augment)
        if isinstance(self.random_state, Integral):
            seed = int(self.random_state)
        else:
            seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        rng = np.random.default_rng(seed)
        if k == 0:
            self.ops_, self.parents_ = np.full(n, "original", dtype=object), np.arange(n)
            return X, y

        # numeric columns in a quantile-normal space (what the policy was trained on)
        from sklearn.preprocessing import QuantileTransformer

        qt = None
        z = np.zeros((n, 1))  # a dummy column when there are no numeric columns
        z_missing = np.zeros((n, 1), dtype=bool)
        if num_cols:
            qt = QuantileTransformer(
                n_quantiles=max(2, min(1000, n)), output_distribution="normal", random_state=seed
            )
            z = qt.fit_transform(values)
            z_missing = np.isnan(z)
            z = np.where(z_missing, 0.0, z)  # the ops see a missing cell as the column median

        # stratified random chunks of about chunk_size rows, each one "task"
        n_chunks = max(1, int(np.ceil(n / self.chunk_size)))
        order = np.argsort(y_idx * 1.0 + rng.random(n) * 0.5, kind="stable")
        chunks = [order[i::n_chunks] for i in range(n_chunks)]
        s = max(len(c) for c in chunks)
        x = torch.zeros(n_chunks, s, z.shape[1])
        yt = torch.zeros(n_chunks, s, dtype=torch.long)
        rm = torch.zeros(n_chunks, s, dtype=torch.bool)
        for i, c in enumerate(chunks):
            x[i, : len(c)] = torch.as_tensor(z[c], dtype=torch.float32)
            yt[i, : len(c)] = torch.as_tensor(y_idx[c])
            rm[i, : len(c)] = True
        fm = torch.ones(n_chunks, z.shape[1], dtype=torch.bool)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            aug = policy.augment(
                x, yt, rm, fm, n_classes=len(self.classes_), generator=gen, hard=True, n_augment=k
            )
        new = aug.row_mask.clone()
        new[:, :s] = False
        chunk_of, pos = torch.nonzero(new, as_tuple=True)
        local_parent = aug.parent[chunk_of, pos].numpy()
        index = np.full((n_chunks, s), -1)
        for i, c in enumerate(chunks):
            index[i, : len(c)] = c
        parents = index[chunk_of.numpy(), local_parent]
        # keep augmented rows in parent order (row i's copies after row i's earlier copies)
        sort = np.lexsort((pos.numpy(), parents))
        parents = parents[sort]
        z_new = aug.x[chunk_of, pos].numpy().astype(np.float64)[sort]
        labels = aug.hard_labels[chunk_of, pos].numpy()[sort]
        op_names = np.asarray(aug.ops, dtype=object)[aug.op_index[chunk_of, pos].numpy()[sort]]
        mags = aug.magnitude[chunk_of, pos].numpy()[sort]

        new_frame = frame.iloc[parents].reset_index(drop=True).copy()
        if num_cols:
            # cells an op left alone are copied exactly (the quantile round trip is not bitwise)
            untouched = z_new == z.astype(np.float32).astype(np.float64)[parents]
            z_new[z_missing[parents]] = np.nan  # missing in the parent: missing in the new row
            raw = qt.inverse_transform(z_new)
            raw[untouched] = values[parents][untouched]
            for j, col in enumerate(num_cols):
                dtype = frame[col].dtype
                v = raw[:, j]
                if pd.api.types.is_integer_dtype(dtype):
                    lo, hi = np.nanmin(values[:, j]), np.nanmax(values[:, j])
                    v = np.clip(np.rint(v), lo, hi)
                new_frame[col] = (
                    pd.Series(v, dtype=dtype)
                    if not isinstance(dtype, np.dtype)
                    else v.astype(dtype)
                )
        # categorical columns: swap noise swaps values among same-class rows
        cat_cols = [c for c, is_num in zip(frame.columns, numeric, strict=True) if not is_num]
        swap_rows = np.flatnonzero(op_names == "swap_noise")
        if cat_cols and len(swap_rows):
            by_class = [np.flatnonzero(y_idx == c) for c in range(len(self.classes_))]
            for col in cat_cols:
                hit = swap_rows[
                    rng.random(len(swap_rows))
                    < np.minimum(mags[swap_rows], OPS["swap_noise"].max_magnitude)
                ]
                if not len(hit):
                    continue
                donors = np.array([rng.choice(by_class[labels[r]]) for r in hit])
                new_frame.loc[hit, col] = frame[col].iloc[donors].to_numpy()
        # exact copies of their parent (identity draws, ops that changed nothing) add nothing
        changed = ~_same_rows(new_frame, frame, parents) | (labels != y_idx[parents])
        new_frame = new_frame[changed].reset_index(drop=True)
        parents, labels, op_names = parents[changed], labels[changed], op_names[changed]
        self.ops_ = np.concatenate([np.full(n, "original", dtype=object), op_names])
        self.parents_ = np.concatenate([np.arange(n), parents])
        y_new = self.classes_[labels]

        if is_frame:
            X_out = pd.concat([frame.reset_index(drop=True), new_frame], ignore_index=True)
            X_out = X_out.astype(frame.dtypes.to_dict())
        else:
            X_arr = np.asarray(X)
            X_out = np.concatenate([X_arr, new_frame.to_numpy(dtype=X_arr.dtype)], axis=0)
        if isinstance(y, pd.Series):
            y_out = pd.concat(
                [y.reset_index(drop=True), pd.Series(y_new, name=y.name)], ignore_index=True
            )
            y_out = y_out.astype(y.dtype)
        else:
            y_out = np.concatenate([y_arr, y_new.astype(y_arr.dtype)])
        return X_out, y_out

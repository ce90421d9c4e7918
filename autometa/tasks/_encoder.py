"""The one tabular encoder used at meta-training and when a user calls ``fit``.

:class:`TabularEncoder` turns any table (NumPy array or pandas DataFrame with numeric,
boolean, categorical, object or string columns, NaN anywhere) into a fixed-width float
matrix ``[n, d_max]`` plus a feature mask, and any hashable labels into class indices.
:func:`encode_task` fits one encoder on a support set and builds a :class:`~autometa.tasks.Task`.

Behaviour (also in ``docs/tasks.md``):

* **Numeric columns** are mapped through their empirical CDF fitted on the training rows
  (mid-ranks, so ties and ``n = 5`` work), then through the standard normal quantile
  function: a robust rank-Gauss normalization. Values between training values are linearly
  interpolated; values outside the training range are clipped to the extreme knots.
* **Categorical columns** (pandas ``category``, ``object`` with non-numeric values, string
  dtypes including pandas-3 ``str``, NumPy unicode, or columns named in
  ``categorical_features``) are ordinal-encoded by training frequency (most frequent first,
  ties broken by the sorted category value), then normalized like numeric columns.
* **Booleans** are numeric 0/1.
* **Missing values** (NaN, None, ``pd.NA``) and **unseen categories** become 0 after
  normalization. If room remains below ``d_max`` after the real features, a 0/1
  missing-indicator column is appended for each selected column that had missing values in
  the training rows (in column order, as many as fit).
* **Spacing columns** (``spacing=True``, off by default): rank-Gauss keeps each column's order
  and throws away the spacing of its values, on which a linear target depends. With room left
  below ``d_max`` after the real features and the missing indicators, each selected numeric
  column also gets a robust z-score column: the value minus the training rows' median, over
  their interquartile range / 1.349 (their standard deviation where the quartiles meet),
  clipped to [-3, 3]; missing values 0. The map is affine up to the clip, so a target linear
  in a column stays linear in its spacing column.
* **Constant columns** (and all-missing columns) encode to exactly 0.
* **More than ``d_max`` columns**: the ``d_max`` columns with the largest univariate score
  are kept, ties broken by the lower column index, and kept in their original order. With
  labels the score is the correlation ratio (between-class share of the variance of the
  normalized column); without labels it is the variance of the normalized column.
* **More than ``c_max`` classes** raise ``ValueError``; ``inf`` raises ``ValueError``.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import ndtri
from sklearn.base import BaseEstimator, TransformerMixin

from autometa._utils import time_seconds

if TYPE_CHECKING:
    from autometa.tasks._task import Task

__all__ = ["TabularEncoder", "encode_regression_task", "encode_task", "standardize_targets"]

NUMERIC = 0
CATEGORICAL = 1
#: z-scores of the spacing columns are clipped to [-SPACING_CLIP, SPACING_CLIP]
SPACING_CLIP = 3.0


def sort_key(value: Any) -> tuple[int, float, str]:
    """Total order over mixed hashables: booleans and numbers, then strings, then the rest."""
    if isinstance(value, (bool, np.bool_, numbers.Real)):
        return (0, float(value), "")
    if isinstance(value, str):
        return (1, 0.0, value)
    return (2, 0.0, repr(value))


def _as_class_array(values: list[Any]) -> np.ndarray:
    """An array of labels that keeps each label's type (no silent ``1 -> '1'``)."""
    kinds = {
        "bool"
        if isinstance(v, (bool, np.bool_))
        else "int"
        if isinstance(v, numbers.Integral)
        else "float"
        if isinstance(v, numbers.Real)
        else "str"
        if isinstance(v, str)
        else "other"
        for v in values
    }
    if len(kinds) == 1 and kinds <= {"bool", "int", "float", "str"}:
        return np.asarray(values)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _numeric_array(raw: np.ndarray | pd.Series) -> np.ndarray | None:
    """``raw`` as float64 if it has a plain NumPy numeric/bool dtype, else None."""
    dtype = raw.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "fiub":
        return np.asarray(raw, dtype=np.float64)
    return None


def _is_missing(values: np.ndarray) -> np.ndarray:
    return np.asarray(pd.isna(values), dtype=bool)


class Columns:
    """A validated 2-D input split into columns, with names and dtypes."""

    def __init__(self, X: Any, *, what: str = "X") -> None:
        if isinstance(X, pd.Series):
            raise ValueError(
                f"{what} must be 2-D (n_samples, n_features); got a pandas Series. "
                "Use X.to_frame() for one feature."
            )
        self.names: list[str] | None = None
        if isinstance(X, pd.DataFrame):
            self.frame: pd.DataFrame | None = X
            self.array: np.ndarray | None = None
            if all(isinstance(c, str) for c in X.columns):
                self.names = list(X.columns)
            self.shape = X.shape
            self.dtypes = list(X.dtypes)
        else:
            if hasattr(X, "__array__") or isinstance(X, (list, tuple)):
                arr = np.asarray(X)
            else:
                raise ValueError(
                    f"{what} must be a 2-D array-like or a pandas DataFrame; got {type(X).__name__}."
                )
            if arr.ndim != 2:
                hint = (
                    " Reshape with X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single sample."
                    if arr.ndim == 1
                    else ""
                )
                raise ValueError(
                    f"{what} must be 2-D (n_samples, n_features); got {arr.ndim}-D input.{hint}"
                )
            if arr.dtype.kind == "c":
                raise ValueError(
                    f"{what} has complex values; the encoder needs real or categorical data."
                )
            self.frame = None
            self.array = arr
            self.shape = arr.shape
            self.dtypes = [arr.dtype] * arr.shape[1]
        if self.shape[0] == 0:
            raise ValueError(f"{what} has 0 samples; at least one row is required.")
        if self.shape[1] == 0:
            raise ValueError(f"{what} has 0 features; at least one column is required.")

    @property
    def n_samples(self) -> int:
        return int(self.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.shape[1])

    def label(self, j: int) -> str:
        if self.frame is not None:
            return repr(self.frame.columns[j])
        return f"{j}"

    def raw(self, j: int) -> np.ndarray | pd.Series:
        if self.frame is not None:
            return self.frame.iloc[:, j]
        assert self.array is not None
        return self.array[:, j]

    def infer_kind(self, j: int) -> int:
        """Numeric or categorical, from the dtype (and, for object columns, the values)."""
        col = self.raw(j)
        dtype = col.dtype
        if isinstance(dtype, (pd.CategoricalDtype, pd.StringDtype)):
            return CATEGORICAL
        if isinstance(dtype, np.dtype) and dtype.kind in "US":
            return CATEGORICAL
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            return NUMERIC
        if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
            return NUMERIC
        values = np.asarray(col, dtype=object)
        values = values[~_is_missing(values)]
        if all(isinstance(v, (numbers.Real, np.bool_)) for v in values):
            return NUMERIC
        return CATEGORICAL

    def numeric(self, j: int) -> np.ndarray:
        """Column ``j`` as float64 with NaN for missing values."""
        col = self.raw(j)
        dtype = col.dtype
        try:
            if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(
                dtype
            ):
                return time_seconds(col)
            if isinstance(col, pd.Series):
                return col.to_numpy(dtype=np.float64, na_value=np.nan)
            if col.dtype.kind in "fiub":
                return col.astype(np.float64)
            values = np.asarray(col, dtype=object)
            miss = _is_missing(values)
            out = np.full(values.shape, np.nan)
            out[~miss] = values[~miss].astype(np.float64)
            return out
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"Column {self.label(j)} was numeric when the encoder was fitted but cannot be "
                f"converted to float now: {exc}"
            ) from exc


class _ColumnCodec:
    """Fitted state of one column: category codes (if categorical) and rank-Gauss knots."""

    __slots__ = ("kind", "categories", "knots", "values", "had_missing", "mean", "scale")

    def __init__(self, kind: int) -> None:
        self.kind = kind
        self.categories: dict[Any, int] | None = None
        self.knots = np.empty(0)
        self.values = np.empty(0)
        self.had_missing = False
        self.mean = 0.0
        self.scale = 0.0  # 0: no spacing column (categorical or constant)


class TabularEncoder(TransformerMixin, BaseEstimator):
    """Encode a table into a fixed-width float matrix and labels into class indices.

    The same encoder is used to build meta-training tasks (fitted on each task's support set)
    and inside estimators when a user calls ``fit``. All fitting happens in :meth:`fit`;
    ``__init__`` only stores its arguments.

    Parameters
    ----------
    d_max : int, default=32
        Width of the encoded feature axis. Tables with more columns keep the ``d_max`` best
        columns by a univariate score (see the module docstring); narrower tables are padded
        with zero columns whose mask is False.
    c_max : int, default=10
        Largest number of classes accepted by :meth:`fit`.
    categorical_features : "auto" or array-like, default="auto"
        ``"auto"`` decides from the dtypes (categorical, string, object with non-numeric
        values). An array of column indices, column names, or a boolean mask forces those
        columns to be categorical (the others are decided automatically).
    missing_indicators : bool, default=True
        Append 0/1 missing-value indicators, space permitting.
    spacing : bool, default=False
        After the indicators, append a clipped z-score column per selected numeric column,
        space permitting (see the module docstring). A learner meta-trained on such rows must
        be given them at predict time too; its checkpoint says so.
    max_knots : int, default=1001
        Largest number of quantile knots stored per column.
    subsample : int, default=100_000
        Columns are normalized with at most this many training rows, drawn with
        ``random_state`` when there are more.
    random_state : int or None, default=0
        Seed of the row subsample above; the encoder is otherwise deterministic.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels seen in :meth:`fit` (only when ``y`` was given).
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.
    selected_features_ : ndarray of int
        Input column indices that are encoded, in output order.
    categorical_ : ndarray of bool of shape (n_features_in_,)
        Which input columns were treated as categorical.
    indicator_features_ : ndarray of int
        Input column indices that received a missing-value indicator column.
    spacing_features_ : ndarray of int
        Input column indices that received a z-score column (empty unless ``spacing``).
    n_features_out_ : int
        Number of unmasked output columns (``selected_features_``, indicators, spacing columns).
    feature_mask_ : ndarray of bool of shape (d_max,)
        True for the first ``n_features_out_`` output columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from autometa.tasks import TabularEncoder
    >>> X = pd.DataFrame({"age": [23, 35, 51, None], "city": ["a", "b", "a", "c"]})
    >>> enc = TabularEncoder(d_max=4).fit(X, ["no", "yes", "yes", "no"])
    >>> x, mask = enc.transform(X)
    >>> x.shape, mask.tolist()
    ((4, 4), [True, True, True, False])
    >>> enc.decode_labels(enc.encode_labels(["yes", "no"])).tolist()
    ['yes', 'no']
    """

    def __init__(
        self,
        d_max: int = 32,
        c_max: int = 10,
        *,
        categorical_features: str | Sequence[Any] | np.ndarray = "auto",
        missing_indicators: bool = True,
        spacing: bool = False,
        max_knots: int = 1001,
        subsample: int = 100_000,
        random_state: int | None = 0,
    ) -> None:
        self.d_max = d_max
        self.c_max = c_max
        self.categorical_features = categorical_features
        self.missing_indicators = missing_indicators
        self.spacing = spacing
        self.max_knots = max_knots
        self.subsample = subsample
        self.random_state = random_state

    # ------------------------------------------------------------------ validation helpers
    def _check_params(self) -> None:
        for name in ("d_max", "c_max", "max_knots", "subsample"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}.")
        if self.c_max < 2:
            raise ValueError(f"c_max must be at least 2; got {self.c_max}.")
        if self.max_knots < 2:
            raise ValueError(f"max_knots must be at least 2; got {self.max_knots}.")

    def _forced_categorical(self, cols: Columns) -> np.ndarray:
        forced = np.zeros(cols.n_features, dtype=bool)
        spec = self.categorical_features
        if isinstance(spec, str):
            if spec != "auto":
                raise ValueError(
                    f"categorical_features must be 'auto' or an array of indices, names or a "
                    f"boolean mask; got {spec!r}."
                )
            return forced
        spec = np.asarray(spec)
        if spec.size == 0:
            return forced
        if spec.dtype == bool:
            if spec.shape != (cols.n_features,):
                raise ValueError(
                    f"categorical_features as a boolean mask must have length {cols.n_features}; "
                    f"got shape {spec.shape}."
                )
            return spec.copy()
        for item in spec.tolist():
            if isinstance(item, numbers.Integral):
                if not -cols.n_features <= item < cols.n_features:
                    raise ValueError(
                        f"categorical_features index {item} is out of range for {cols.n_features} columns."
                    )
                forced[item] = True
            else:
                if cols.names is None or item not in cols.names:
                    raise ValueError(
                        f"categorical_features names column {item!r}, which X does not have."
                    )
                forced[cols.names.index(item)] = True
        return forced

    @staticmethod
    def _check_finite(values: np.ndarray, cols: Columns, j: int) -> None:
        if np.isinf(values).any():
            raise ValueError(
                f"X contains inf in column {cols.label(j)}. Replace infinite values, e.g. with "
                "NaN, which the encoder treats as missing."
            )

    # ------------------------------------------------------------------ labels
    def _fit_labels(self, y: Any, n_samples: int) -> np.ndarray:
        y_arr = self._check_y(y, n_samples)
        if y_arr.dtype != object and y_arr.dtype.kind in "iubU":
            classes = np.unique(y_arr)
        else:
            classes = _as_class_array(sorted(set(y_arr.tolist()), key=sort_key))
        if len(classes) > self.c_max:
            raise ValueError(
                f"y has {len(classes)} classes but this encoder supports at most c_max={self.c_max}. "
                "Merge rare classes, or use a model meta-trained with a larger c_max."
            )
        self.classes_ = classes
        self._class_index = {c: i for i, c in enumerate(classes.tolist())}
        return y_arr

    @staticmethod
    def _check_y(y: Any, n_samples: int | None = None) -> np.ndarray:
        if isinstance(y, (pd.Series, pd.Index, pd.api.extensions.ExtensionArray)):
            s = pd.Series(y)
            if isinstance(s.dtype, np.dtype) and s.dtype.kind in "iufb":
                y_arr = s.to_numpy()
            else:
                y_arr = s.to_numpy(dtype=object)
        else:
            y_arr = np.asarray(y)
        if y_arr.ndim == 2 and y_arr.shape[1] == 1:
            y_arr = y_arr.ravel()
        if y_arr.ndim != 1:
            raise ValueError(f"y must be 1-D (n_samples,); got shape {y_arr.shape}.")
        if n_samples is not None and y_arr.shape[0] != n_samples:
            raise ValueError(
                f"X has {n_samples} samples but y has {y_arr.shape[0]}; they must match."
            )
        if y_arr.shape[0] == 0:
            raise ValueError("y has 0 samples; at least one label is required.")
        if (y_arr.dtype.kind == "f" and np.isnan(y_arr).any()) or (
            y_arr.dtype == object and _is_missing(y_arr).any()
        ):
            raise ValueError(
                "y contains missing values (NaN/None); drop those rows or impute labels first."
            )
        return y_arr

    def encode_labels(self, y: Any) -> np.ndarray:
        """Map labels to class indices (int64) in ``range(len(classes_))``.

        Raises
        ------
        ValueError
            If a label was not seen in :meth:`fit`.
        """
        self._check_fitted(labels=True)
        y_arr = self._check_y(y)
        if (
            y_arr.dtype != object
            and y_arr.dtype.kind in "iubU"
            and self.classes_.dtype == y_arr.dtype
        ):
            idx = np.searchsorted(self.classes_, y_arr)
            idx = np.clip(idx, 0, len(self.classes_) - 1)
            bad = self.classes_[idx] != y_arr
            if bad.any():
                raise ValueError(
                    f"y contains labels not seen in fit: {sorted(set(y_arr[bad].tolist()), key=sort_key)[:5]}; "
                    f"known classes: {self.classes_.tolist()}."
                )
            return idx.astype(np.int64)
        out = np.empty(len(y_arr), dtype=np.int64)
        unknown = []
        for i, label in enumerate(y_arr.tolist()):
            k = self._class_index.get(label)
            if k is None:
                unknown.append(label)
                k = -1
            out[i] = k
        if unknown:
            raise ValueError(
                f"y contains labels not seen in fit: {sorted(set(unknown), key=sort_key)[:5]}; "
                f"known classes: {self.classes_.tolist()}."
            )
        return out

    def decode_labels(self, idx: Any) -> np.ndarray:
        """Map class indices back to the original labels."""
        self._check_fitted(labels=True)
        idx = np.asarray(idx)
        if idx.size and (
            idx.dtype.kind not in "iu" or idx.min() < 0 or idx.max() >= len(self.classes_)
        ):
            raise ValueError(f"Class indices must be integers in range({len(self.classes_)}).")
        return self.classes_[idx.astype(np.int64)]

    # ------------------------------------------------------------------ fit / transform
    def _column_values(self, cols: Columns, j: int, codec: _ColumnCodec) -> np.ndarray:
        """Column ``j`` as float64: numeric values or category codes, NaN for missing/unseen."""
        if codec.kind == NUMERIC:
            values = cols.numeric(j)
            self._check_finite(values, cols, j)
            return values
        raw = cols.raw(j)
        assert codec.categories is not None
        numeric = _numeric_array(raw)
        if numeric is not None and all(isinstance(k, numbers.Real) for k in codec.categories):
            self._check_finite(numeric, cols, j)
            keys = np.fromiter(
                codec.categories.keys(), dtype=np.float64, count=len(codec.categories)
            )
            codes = np.fromiter(
                codec.categories.values(), dtype=np.float64, count=len(codec.categories)
            )
            if keys.size == 0:
                return np.full(numeric.shape, np.nan)
            order = np.argsort(keys)
            keys, codes = keys[order], codes[order]
            pos = np.clip(np.searchsorted(keys, numeric), 0, keys.size - 1)
            return np.where(keys[pos] == numeric, codes[pos], np.nan)
        mapped = pd.Series(np.asarray(raw, dtype=object)).map(codec.categories)
        return mapped.to_numpy(dtype=np.float64, na_value=np.nan)

    def _fit_categories(self, cols: Columns, j: int, rows: np.ndarray | None) -> dict[Any, int]:
        raw = cols.raw(j)
        numeric = _numeric_array(raw)
        if numeric is not None:
            self._check_finite(numeric, cols, j)
            if rows is not None:
                numeric = numeric[rows]
            uniq, counts = np.unique(numeric[~np.isnan(numeric)], return_counts=True)
            order = np.lexsort((uniq, -counts))
            return {float(uniq[k]): code for code, k in enumerate(order)}
        values = np.asarray(raw, dtype=object)
        if rows is not None:
            values = values[rows]
        values = values[~_is_missing(values)]
        counts = pd.Series(values, dtype=object).value_counts(sort=False)
        order = sorted(
            zip(counts.index.tolist(), counts.tolist(), strict=True),
            key=lambda kv: (-kv[1], sort_key(kv[0])),
        )
        return {value: code for code, (value, _) in enumerate(order)}

    @staticmethod
    def _any_categorical(codecs: list[_ColumnCodec]) -> bool:
        return any(c.kind == CATEGORICAL for c in codecs)

    def _float_matrix(self, cols: Columns, forced: np.ndarray) -> np.ndarray | None:
        """The whole input as float64 when it is a plain numeric NumPy array (fast path), else None."""
        if cols.array is None or cols.array.dtype.kind not in "fiub":
            return None
        V = cols.array.astype(np.float64)
        if np.isinf(V).any():
            j = int(np.flatnonzero(np.isinf(V).any(axis=0))[0])
            self._check_finite(V[:, j], cols, j)
        return None if forced.any() else V

    def _fit_all_knots(self, V: np.ndarray, codecs: list[_ColumnCodec]) -> None:
        """Rank-Gauss knots of every column at once (mid-ranks from one sort per column)."""
        n, p = V.shape
        S = np.sort(V, axis=0)  # NaN sort last
        n_obs = (~np.isnan(V)).sum(axis=0)
        idx = np.arange(n)[:, None]
        valid = idx < n_obs[None, :]
        start = np.ones((n, p), dtype=bool)
        start[1:] = S[1:] != S[:-1]
        stop = np.ones((n, p), dtype=bool)
        stop[:-1] = S[:-1] != S[1:]
        stop |= idx == (n_obs[None, :] - 1)
        left = np.maximum.accumulate(np.where(start, idx, 0), axis=0)
        right = np.minimum.accumulate(np.where(stop, idx, n)[::-1], axis=0)[::-1] + 1
        with np.errstate(invalid="ignore", divide="ignore"):
            z = ndtri((left + right) / (2.0 * np.maximum(n_obs, 1)[None, :]))
        keep = start & valid
        for j, codec in enumerate(codecs):
            codec.had_missing = bool(n_obs[j] < n)
            if n_obs[j] == 0:
                codec.knots, codec.values = np.zeros(1), np.zeros(1)
                continue
            knots, values = S[keep[:, j], j], z[keep[:, j], j]
            if knots.size == 1:
                values = np.zeros(1)
            elif knots.size > self.max_knots:
                sub = np.unique(
                    np.linspace(0, knots.size - 1, self.max_knots).round().astype(np.int64)
                )
                knots, values = knots[sub], values[sub]
            codec.knots, codec.values = knots, values

    @staticmethod
    def _fit_spacing(V: np.ndarray, codecs: list[_ColumnCodec]) -> None:
        """Robust center and scale of every numeric column (NaN ignored) for its z-scores: the
        median, and the interquartile range over 1.349 (the standard deviation of a normal
        column; the standard deviation itself where the quartiles meet)."""
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            q25, median, q75 = np.nanpercentile(V, [25.0, 50.0, 75.0], axis=0)
            std = np.nanstd(V, axis=0)
        iqr = (q75 - q25) / 1.349
        scale = np.where(iqr > 1e-12, iqr, std)
        for j, codec in enumerate(codecs):
            if codec.kind == NUMERIC and np.isfinite(scale[j]) and scale[j] > 1e-12:
                codec.mean, codec.scale = float(median[j]), float(scale[j])

    @staticmethod
    def _z_score(values: np.ndarray, codec: _ColumnCodec) -> np.ndarray:
        out = np.clip((values - codec.mean) / codec.scale, -SPACING_CLIP, SPACING_CLIP)
        out[np.isnan(values)] = 0.0
        return out

    @staticmethod
    def _normalize(values: np.ndarray, codec: _ColumnCodec) -> np.ndarray:
        out = np.interp(values, codec.knots, codec.values)
        out[np.isnan(values)] = 0.0
        return out

    def fit(self, X: Any, y: Any = None) -> TabularEncoder:
        """Fit the column normalizations, the feature selection and (with ``y``) the classes.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), optional
            Labels of any hashable type. Needed for :meth:`encode_labels` and used to rank
            columns when there are more than ``d_max``.

        Returns
        -------
        self : TabularEncoder
        """
        self._fit(X, y)
        return self

    def _fit(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fit; return the normalized training matrix ``[n, n_features_in_]`` (NaN -> 0), its
        missing mask and the raw training values (categories as codes)."""
        self._check_params()
        cols = Columns(X)
        for attr in ("classes_", "_class_index", "feature_names_in_"):
            self.__dict__.pop(attr, None)
        y_arr = self._fit_labels(y, cols.n_samples) if y is not None else None
        self.n_features_in_ = cols.n_features
        if cols.names is not None:
            self.feature_names_in_ = np.asarray(cols.names, dtype=object)
        forced = self._forced_categorical(cols)
        rows = None
        if cols.n_samples > self.subsample:
            rng = np.random.default_rng(0 if self.random_state is None else self.random_state)
            rows = np.sort(rng.choice(cols.n_samples, self.subsample, replace=False))
        codecs = []
        V = self._float_matrix(cols, forced)
        for j in range(cols.n_features):
            kind = CATEGORICAL if forced[j] else (NUMERIC if V is not None else cols.infer_kind(j))
            codecs.append(_ColumnCodec(kind))
        if V is None or self._any_categorical(codecs):
            V = np.empty((cols.n_samples, cols.n_features))
            for j, codec in enumerate(codecs):
                if codec.kind == CATEGORICAL:
                    codec.categories = self._fit_categories(cols, j, rows)
                V[:, j] = self._column_values(cols, j, codec)
        self._fit_all_knots(V if rows is None else V[rows], codecs)
        if self.spacing:
            self._fit_spacing(V if rows is None else V[rows], codecs)
        is_nan = np.isnan(V)
        normalized = np.zeros(V.shape)
        for j, codec in enumerate(codecs):
            normalized[:, j] = self._normalize(V[:, j], codec)
        self._codecs = codecs
        self.categorical_ = np.array([c.kind == CATEGORICAL for c in codecs], dtype=bool)
        # feature selection
        if cols.n_features > self.d_max:
            scores = self._scores(normalized, y_arr)
            order = np.lexsort((np.arange(cols.n_features), -scores))
            selected = np.sort(order[: self.d_max])
        else:
            selected = np.arange(cols.n_features)
        self.selected_features_ = selected.astype(np.int64)
        room = self.d_max - selected.size
        missing = is_nan.any(axis=0)
        with_missing = selected[missing[selected]] if self.missing_indicators else selected[:0]
        self.indicator_features_ = with_missing[: max(room, 0)].astype(np.int64)
        room -= self.indicator_features_.size
        spaced = selected[[codecs[j].scale > 0 for j in selected]] if self.spacing else selected[:0]
        self.spacing_features_ = spaced[: max(room, 0)].astype(np.int64)
        self.n_features_out_ = int(
            selected.size + self.indicator_features_.size + self.spacing_features_.size
        )
        self.feature_mask_ = np.arange(self.d_max) < self.n_features_out_
        return normalized, is_nan, V

    def _scores(self, z: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        total = ((z - z.mean(axis=0)) ** 2).sum(axis=0)
        if y is None:
            return total / z.shape[0]
        idx = self.encode_labels(y)
        between = np.zeros(z.shape[1])
        mean = z.mean(axis=0)
        for k in np.unique(idx):
            zk = z[idx == k]
            between += zk.shape[0] * (zk.mean(axis=0) - mean) ** 2
        with np.errstate(invalid="ignore", divide="ignore"):
            score = np.where(total > 1e-12, between / np.where(total > 1e-12, total, 1.0), 0.0)
        return score

    def _check_fitted(self, labels: bool = False) -> None:
        if not hasattr(self, "_codecs"):
            raise ValueError("This TabularEncoder is not fitted yet; call fit(X, y) first.")
        if labels and not hasattr(self, "classes_"):
            raise ValueError(
                "This TabularEncoder was fitted without y; call fit(X, y) to encode labels."
            )

    def _align(self, X: Any) -> Columns:
        cols = Columns(X)
        names = getattr(self, "feature_names_in_", None)
        if cols.frame is not None and names is not None and cols.names is not None:
            if list(cols.names) != list(names):
                missing = [n for n in names if n not in cols.names]
                extra = [n for n in cols.names if n not in set(names)]
                if missing or extra or len(cols.names) != len(names):
                    raise ValueError(
                        f"X has different columns than during fit: missing {missing[:5]}, "
                        f"unexpected {extra[:5]}."
                    )
                cols = Columns(cols.frame.loc[:, list(names)])
        if cols.n_features != self.n_features_in_:
            raise ValueError(
                f"X has {cols.n_features} features, but TabularEncoder was fitted with "
                f"{self.n_features_in_} features."
            )
        return cols

    def transform(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Encode ``X``.

        Returns
        -------
        x : ndarray of shape (n_samples, d_max), float32
            Encoded features; padding columns are exactly zero.
        mask : ndarray of shape (d_max,), bool
            True for real (encoded) columns.
        """
        self._check_fitted()
        cols = self._align(X)
        out = np.zeros((cols.n_samples, self.d_max), dtype=np.float32)
        k = self.selected_features_.size
        indicator_pos = {int(j): k + i for i, j in enumerate(self.indicator_features_)}
        k += self.indicator_features_.size
        spaced = getattr(self, "spacing_features_", ())  # encoders pickled before the option
        spacing_pos = {int(j): k + i for i, j in enumerate(spaced)}
        for pos, j in enumerate(self.selected_features_.tolist()):
            codec = self._codecs[j]
            values = self._column_values(cols, j, codec)
            out[:, pos] = self._normalize(values, codec)
            if j in indicator_pos:
                out[:, indicator_pos[j]] = np.isnan(values)
            if j in spacing_pos:
                out[:, spacing_pos[j]] = self._z_score(values, codec)
        return out, self.feature_mask_.copy()

    def fit_transform(self, X: Any, y: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Equivalent to ``fit(X, y).transform(X)``, computed in one pass."""
        normalized, missing, V = self._fit(X, y)
        out = np.zeros((normalized.shape[0], self.d_max), dtype=np.float32)
        k = self.selected_features_.size
        out[:, :k] = normalized[:, self.selected_features_]
        m = self.indicator_features_.size
        out[:, k : k + m] = missing[:, self.indicator_features_]
        for i, j in enumerate(self.spacing_features_.tolist()):
            out[:, k + m + i] = self._z_score(V[:, j], self._codecs[j])
        return out, self.feature_mask_.copy()

    def get_feature_names_out(self) -> np.ndarray:
        """Names of the unmasked output columns (``"name"`` and ``"name__missing"``)."""
        self._check_fitted()
        names = getattr(self, "feature_names_in_", None)
        label = (lambda j: str(names[j])) if names is not None else (lambda j: f"x{j}")
        out = [label(j) for j in self.selected_features_]
        out += [f"{label(j)}__missing" for j in self.indicator_features_]
        out += [f"{label(j)}__z" for j in getattr(self, "spacing_features_", [])]
        return np.asarray(out, dtype=object)


def encode_task(
    X_support: Any,
    y_support: Any,
    X_query: Any,
    y_query: Any,
    *,
    d_max: int = 32,
    c_max: int = 10,
    categorical_features: str | Sequence[Any] | np.ndarray = "auto",
    class_permutation: np.ndarray | None = None,
    name: str = "unnamed",
    seed: int | None = None,
    random_state: int | None = 0,
) -> Task:
    """Fit a :class:`TabularEncoder` on the support set and build a :class:`Task`.

    Parameters
    ----------
    X_support, y_support : support rows and labels (every query label must occur here)
    X_query, y_query : query rows and labels
    d_max, c_max, categorical_features, random_state : passed to :class:`TabularEncoder`
    class_permutation : ndarray of int, optional
        ``new_index = class_permutation[sorted_class_index]``: relabels the classes (pools
        use a random permutation so that no class index carries meaning across tasks).
    name, seed : provenance stored on the task

    Raises
    ------
    ValueError
        If a query label does not occur in the support set, or for anything
        :class:`TabularEncoder` refuses.
    """
    import torch

    from autometa.tasks._task import Task

    enc = TabularEncoder(
        d_max, c_max, categorical_features=categorical_features, random_state=random_state
    )
    xs, mask = enc.fit_transform(X_support, y_support)
    xq, _ = enc.transform(X_query)
    ys = enc.encode_labels(y_support)
    try:
        yq = enc.encode_labels(y_query)
    except ValueError as exc:
        raise ValueError(f"Every query label must occur in the support set: {exc}") from exc
    if class_permutation is not None:
        perm = np.asarray(class_permutation, dtype=np.int64)
        if sorted(perm.tolist()) != list(range(len(enc.classes_))):
            raise ValueError(
                f"class_permutation must be a permutation of range({len(enc.classes_)})."
            )
        ys, yq = perm[ys], perm[yq]
    return Task(
        x_support=torch.from_numpy(xs),
        y_support=torch.from_numpy(ys),
        x_query=torch.from_numpy(xq),
        y_query=torch.from_numpy(yq),
        feature_mask=torch.from_numpy(mask),
        n_classes=len(enc.classes_),
        name=name,
        seed=seed,
    )


def standardize_targets(y_support: Any, *others: Any) -> tuple[np.ndarray, ...]:
    """Standardize float targets by the support set's mean and standard deviation.

    Returns ``(z_support, *z_others, center, scale)`` with ``scale = 1`` for a constant
    support target. The in-context regression learner reads and predicts targets in this
    scale (see :func:`encode_regression_task`).
    """
    ys = np.asarray(y_support, dtype=np.float64)
    center = float(ys.mean())
    scale = float(ys.std())
    if not np.isfinite(scale) or scale < 1e-12:
        scale = 1.0
    out = [(ys - center) / scale] + [
        (np.asarray(y, dtype=np.float64) - center) / scale for y in others
    ]
    return (*out, center, scale)


def encode_regression_task(
    X_support: Any,
    y_support: Any,
    X_query: Any,
    y_query: Any,
    *,
    d_max: int = 32,
    categorical_features: str | Sequence[Any] | np.ndarray = "auto",
    name: str = "unnamed",
    seed: int | None = None,
    random_state: int | None = 0,
    spacing: bool = False,
) -> Task:
    """Fit a :class:`TabularEncoder` on the support rows and build a regression :class:`Task`.

    The features are encoded exactly as for classification (the encoder is fitted without
    labels, so above ``d_max`` columns it keeps the ones with the largest variance of their
    normalized values; ``spacing`` appends the encoder's z-score columns); the targets are standardized by the support set's mean and standard
    deviation (:func:`standardize_targets`) and stored as float32 with ``n_classes = 1``.

    Raises
    ------
    ValueError
        For non-finite targets, or anything :class:`TabularEncoder` refuses.
    """
    import torch

    from autometa.tasks._task import Task

    for part, y in (("y_support", y_support), ("y_query", y_query)):
        if not np.all(np.isfinite(np.asarray(y, dtype=np.float64))):
            raise ValueError(f"{part} holds NaN or infinite targets; drop those rows first.")
    enc = TabularEncoder(
        d_max, 2, categorical_features=categorical_features, random_state=random_state,
        spacing=spacing,
    )  # fmt: skip
    xs, mask = enc.fit_transform(X_support)
    xq, _ = enc.transform(X_query)
    zs, zq, _, _ = standardize_targets(y_support, y_query)
    return Task(
        x_support=torch.from_numpy(xs),
        y_support=torch.from_numpy(zs.astype(np.float32)),
        x_query=torch.from_numpy(xq),
        y_query=torch.from_numpy(zq.astype(np.float32)),
        feature_mask=torch.from_numpy(mask),
        n_classes=1,
        name=name,
        seed=seed,
    )

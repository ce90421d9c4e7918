"""Turn what users pass (arrays, DataFrames with mixed columns, NaN) into design matrices.

:class:`TableSpec` records, at ``fit`` time, which input columns are numeric and which are
categorical (object, string, ``category`` and boolean-with-missing columns), and learns what the
members need from the training rows only:

Date-time and time-delta columns count as numeric (seconds since the epoch / seconds), as in
the neural member's :class:`~autometa.tasks.TabularEncoder`.

* ``tree_matrix``: numeric columns as floats (NaN kept: scikit-learn's forests route missing
  values natively) and categorical columns as ordinal codes ordered by training frequency
  (unseen or missing categories become NaN);
* ``linear_matrix``: numeric columns median-imputed and standardized, with a missing-value
  indicator for every column that had NaN in training, plus one-hot codes of the categorical
  columns (at most ``max_onehot`` most frequent levels each; the rest share an "other" column).

Everything here is NumPy/pandas only (no torch), so it is cheap to import and to pickle.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import validate_data

from autometa._utils import check_not_empty, time_seconds

__all__ = ["TableSpec", "informative_columns", "to_frame", "validate_frame"]


def to_frame(X: Any, columns: list[str] | None = None) -> pd.DataFrame:
    """A DataFrame view of ``X`` (2-D array-like or DataFrame) with string column names."""
    if isinstance(X, pd.DataFrame):
        df = X.copy(deep=False)
    else:
        arr = np.asarray(X)
        if arr.ndim != 2:
            raise ValueError(f"Expected a 2-D array; got shape {arr.shape}.")
        df = pd.DataFrame(arr)
    df.columns = columns if columns is not None else [str(c) for c in df.columns]
    return df


def _is_time(s: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(s.dtype) or pd.api.types.is_timedelta64_dtype(
        s.dtype
    )


def _is_numeric(s: pd.Series) -> bool:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return False
    if _is_time(s):  # dates and durations: seconds, as the neural member's encoder reads them
        return True
    if pd.api.types.is_bool_dtype(s.dtype):
        return True
    if pd.api.types.is_numeric_dtype(s.dtype):
        return True
    if s.dtype == object:
        # numbers stored as objects (e.g. after np.asarray of a mixed frame): numeric if every
        # non-missing value converts to float
        vals = s.dropna()
        if len(vals) == 0:
            return True
        if vals.map(
            lambda v: isinstance(v, (bool, np.bool_, int, float, np.integer, np.floating))
        ).all():
            return True
    return False


def _as_float(s: pd.Series) -> np.ndarray:
    if _is_time(s):
        return time_seconds(s)
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=np.float64)
    return pd.to_numeric(s, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)


def _as_str(s: pd.Series) -> np.ndarray:
    """Categorical values as an object array of strings, missing values as None."""
    missing = s.isna().to_numpy()
    out = s.astype(object).map(str).to_numpy(dtype=object)
    out[missing] = None
    return out


@dataclass
class TableSpec:
    """Column kinds and the per-column statistics learned from the training rows.

    Build it with :meth:`fit`; then :meth:`tree_matrix` and :meth:`linear_matrix` transform
    any frame with the same columns.

    Attributes
    ----------
    numeric : list of int
        Positions of numeric (including boolean) columns.
    categorical : list of int
        Positions of categorical columns.
    """

    max_onehot: int = 12
    numeric: list[int] = field(default_factory=list)
    categorical: list[int] = field(default_factory=list)
    medians: np.ndarray | None = None
    means: np.ndarray | None = None
    scales: np.ndarray | None = None
    nan_columns: list[int] = field(default_factory=list)
    levels: list[list[str]] = field(default_factory=list)

    def fit(self, df: pd.DataFrame) -> TableSpec:
        """Learn column kinds and statistics from the training frame ``df``.

        Raises
        ------
        ValueError
            If a numeric column contains an infinite value.
        """
        self.numeric, self.categorical = [], []
        for j in range(df.shape[1]):
            (self.numeric if _is_numeric(df.iloc[:, j]) else self.categorical).append(j)
        num = self._numeric_block(df)
        with np.errstate(all="ignore"), _quiet_nanwarnings():
            med = np.nanmedian(num, axis=0) if num.shape[1] else np.zeros(0)
        med = np.where(np.isfinite(med), med, 0.0)
        filled = np.where(np.isnan(num), med, num)
        self.medians = med
        self.means = filled.mean(axis=0) if num.shape[1] else np.zeros(0)
        sd = filled.std(axis=0) if num.shape[1] else np.zeros(0)
        self.scales = np.where(sd > 1e-12, sd, 1.0)
        self.nan_columns = [i for i in range(num.shape[1]) if np.isnan(num[:, i]).any()]
        self.levels = []
        for j in self.categorical:
            counts = (
                pd.Series(_as_str(df.iloc[:, j]), dtype=object).dropna().value_counts(sort=False)
            )
            # most frequent first, ties broken by the string itself: deterministic
            order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            self.levels.append([k for k, _ in order])
        return self

    @property
    def n_columns(self) -> int:
        return len(self.numeric) + len(self.categorical)

    def _numeric_block(self, df: pd.DataFrame) -> np.ndarray:
        if not self.numeric:
            return np.zeros((len(df), 0))
        cols = []
        for j in self.numeric:
            s = df.iloc[:, j]
            try:
                cols.append(_as_float(s))
            except (ValueError, TypeError) as exc:
                raise ValueError(
                    f"Column {df.columns[j]!r} was numeric during fit but now holds non-numeric values ({exc})."
                ) from exc
        num = np.column_stack(cols)
        if np.isinf(num).any():
            bad = [str(df.columns[self.numeric[i]]) for i in np.where(np.isinf(num).any(axis=0))[0]]
            raise ValueError(
                f"Input X contains infinity in column(s) {bad}. Replace infinite values by finite ones "
                "or by NaN (missing values are supported)."
            )
        return num

    def _codes(self, df: pd.DataFrame) -> list[np.ndarray]:
        out = []
        for j, levels in zip(self.categorical, self.levels, strict=True):
            vals = pd.Series(_as_str(df.iloc[:, j]), dtype=object)
            codes = vals.map({v: i for i, v in enumerate(levels)})
            out.append(codes.fillna(-1).to_numpy(dtype=np.int64))
        return out

    def tree_matrix(self, df: pd.DataFrame) -> np.ndarray:
        """Numeric columns with NaN kept and categorical columns as frequency-ordered codes."""
        num = self._numeric_block(df)
        codes = [np.where(c >= 0, c, np.nan).astype(np.float64) for c in self._codes(df)]
        return np.column_stack([num, *codes]) if codes else num

    def linear_matrix(self, df: pd.DataFrame) -> np.ndarray:
        """Standardized, imputed numeric columns, missing indicators and one-hot categories."""
        num = self._numeric_block(df)
        parts = []
        if num.shape[1]:
            nan = np.isnan(num)
            filled = np.where(nan, self.medians, num)
            parts.append((filled - self.means) / self.scales)
            if self.nan_columns:
                parts.append(nan[:, self.nan_columns].astype(np.float64))
        for codes, levels in zip(self._codes(df), self.levels, strict=True):
            k = min(len(levels), self.max_onehot)
            onehot = np.zeros((len(df), k + 1))
            rows = np.arange(len(df))
            kept = (codes >= 0) & (codes < k)
            onehot[rows[kept], codes[kept]] = 1.0
            onehot[rows[~kept & (codes >= 0)], k] = 1.0  # rare levels; unseen/missing stay all-zero
            parts.append(onehot)
        if not parts:
            return np.zeros((len(df), 0))
        return np.column_stack(parts)


class _quiet_nanwarnings:
    def __enter__(self) -> None:

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)


@dataclass
class TargetOrder:
    """Categorical columns as the rank of each level's smoothed mean target (for regression).

    Ordering a categorical column's levels by their mean target is the encoding under which
    a single threshold finds the best least-squares split (Fisher 1958; CART, LightGBM), and it
    turns an arbitrary code into one that moves with the target. Means are shrunk towards
    the overall mean by ``smoothing`` pseudo-rows, so a level seen once does not get an extreme
    rank; ties are broken by the level's string. Unseen and missing levels become NaN. Columns
    with fewer than three levels are left as they are (reordering two levels only flips a sign).

    Parameters
    ----------
    smoothing : float, default=2.0
    """

    smoothing: float = 2.0
    columns: list[int] = field(default_factory=list)
    codes: list[dict[str, float]] = field(default_factory=list)

    def fit(self, df: pd.DataFrame, z: np.ndarray, columns: list[int]) -> TargetOrder:
        """Learn the order of the levels of ``df``'s columns at positions ``columns`` from targets ``z``."""
        z = np.asarray(z, dtype=np.float64)
        overall = float(z.mean())
        self.columns, self.codes = [], []
        for j in columns:
            frame = pd.DataFrame({"level": _as_str(df.iloc[:, j]), "z": z}).dropna(subset=["level"])
            stats = frame.groupby("level")["z"].agg(["sum", "count"])
            if len(stats) < 3:
                continue
            self.columns.append(j)
            shrunk = (stats["sum"] + self.smoothing * overall) / (stats["count"] + self.smoothing)
            order = sorted(shrunk.items(), key=lambda kv: (kv[1], kv[0]))
            self.codes.append({level: float(rank) for rank, (level, _) in enumerate(order)})
        return self

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """``df`` with the fitted columns replaced by their levels' ranks (float; NaN if unseen)."""
        out = {k: df.iloc[:, k] for k in range(df.shape[1])}
        for j, codes in zip(self.columns, self.codes, strict=True):
            levels = pd.Series(_as_str(df.iloc[:, j]), dtype=object)
            out[j] = levels.map(codes).astype(np.float64)
        frame = pd.DataFrame(out)
        frame.columns = [str(c) for c in df.columns]
        return frame


def validate_frame(estimator: Any, X: Any, *, reset: bool) -> pd.DataFrame:
    """Validate ``X`` the scikit-learn way for ``estimator`` and return it as a DataFrame.

    Columns keep the user's names (as strings) so that every error names the user's
    column; arrays get positional names ``"0"``, ``"1"``, ... With ``reset=True`` the names are
    kept as ``estimator.column_names_``.
    """
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(
                f"X has duplicate column names {dup}; every column needs its own name "
                "(rename them, e.g. X.columns = [...])."
            )
        validate_data(estimator, X, reset=reset, skip_check_array=True)
        check_not_empty(X.shape)
        df = X.reset_index(drop=True)
    else:
        arr = validate_data(estimator, X, dtype=None, ensure_all_finite=False, reset=reset)
        names = [str(i) for i in range(arr.shape[1])]
        if arr.dtype.kind in "fiub":
            arr = arr.astype(np.float64, copy=False)
            if np.isinf(arr).any():
                bad = np.flatnonzero(np.isinf(arr).any(axis=0)).tolist()
                raise ValueError(
                    f"Input X contains infinity in column(s) {bad}. Replace infinite values by finite "
                    "ones or by NaN (missing values are supported)."
                )
        df = pd.DataFrame(arr)
    if reset:
        estimator.column_names_ = names
    else:  # fitted names: the feature-name check above already compared them
        names = getattr(estimator, "column_names_", [str(i) for i in range(df.shape[1])])
    return to_frame(df, columns=names)


def informative_columns(df: pd.DataFrame) -> np.ndarray:
    """Positions of the columns with at least one observed value (an all-missing column is
    uninformative and is left out of every member).

    Raises
    ------
    ValueError
        When every column is entirely missing.
    """
    empty = df.isna().all(axis=0).to_numpy()
    if empty.all():
        raise ValueError(
            f"Every column of X is entirely missing (NaN): {list(df.columns)[:10]}; there is nothing to learn from."
        )
    return np.flatnonzero(~empty)

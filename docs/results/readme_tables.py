"""Regenerate the README's benchmark tables from the committed results JSON.

Run from the repository root: ``python docs/results/readme_tables.py`` (rewrites both tables in
place; ``--check`` only says whether they are current). Every number comes from a results file
its table's marker names:

* the classifier table from ``classifier.json`` (``autometa bench classifier``);
* the regressor table from ``regressor_blend.json`` (``autometa bench regressor``), but the
  prior-only blend from ``regressor_blend_ablation.json`` (the ablation run on the same cells)
  and the CPU time from ``member_costs.json`` (``autometa bench costs``).

The best score of a size is in bold, whichever estimator has it (the hindsight pick does not
compete), and so is the better mean rank. ``tests/test_claims.py`` pins both tables to their files.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


@dataclass(frozen=True)
class Column:
    """One column: its header, which source file, which estimator's row, which field, its format."""

    header: str
    source: int
    estimator: str
    field: str
    fmt: str = "{:.4f}"


@dataclass(frozen=True)
class Table:
    """A README table: its results files, its columns, which columns compete for bold."""

    sources: tuple[str, ...]
    columns: tuple[Column, ...]
    score: str  # the field whose best value is bold
    rank: str | None = None  # a field whose lowest value is bold too
    tail: tuple[str, str] | None = None  # a last column: (header, format; <n> is the size)

    @property
    def marker(self) -> str:
        return f"<!-- results: {' '.join(self.sources)} -->"

    def render(self) -> str:
        """The marker line and the Markdown table."""
        data = [json.loads((ROOT / s).read_text()) for s in self.sources]
        rows = [
            {(r["n_train"], r["estimator"]): r for r in d["rows"] if "estimator" in r} for d in data
        ]
        head = [
            "n_train",
            *(c.header for c in self.columns),
            *([self.tail[0]] if self.tail else []),
        ]
        lines = [self.marker, "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for n in data[0]["params"]["sizes"]:
            values = [rows[c.source][(n, c.estimator)][c.field] for c in self.columns]
            cells = [c.fmt.format(v) for c, v in zip(self.columns, values, strict=True)]
            real = [i for i, c in enumerate(self.columns) if c.estimator != "best_peer_hindsight"]
            scored = [i for i in real if self.columns[i].field == self.score]
            bold = [max(scored, key=lambda i: values[i])]
            if self.rank is not None:
                ranked = [i for i in real if self.columns[i].field == self.rank]
                bold.append(min(ranked, key=lambda i: values[i]))
            for i in bold:
                cells[i] = f"**{cells[i]}**"
            if self.tail is not None:
                cells.append(
                    self.tail[1].replace("<n>", str(n)).format(**_summaries(data, rows, n))
                )
            lines.append("| " + " | ".join([str(n), *cells]) + " |")
        return "\n".join(lines)


def _summaries(data: list[dict], rows: list[dict], n: int) -> dict[str, float]:
    """Values a tail column may name: every summary entry of every source (``@`` and ``.`` as
    ``_``) and the first source's AutoMeta median time."""
    out = {
        k.replace("@", "_").replace(".", "_"): v
        for d in data
        for k, v in d.get("summary", {}).items()
        if isinstance(v, float | int)
    }
    first = rows[0].get((n, "autometa"), {})
    out["median_time_s"] = first.get("median_time_s", float("nan"))
    return out


CLASSIFIER = Table(
    sources=("docs/results/classifier.json",),
    columns=(
        Column("AutoMetaClassifier", 0, "autometa", "roc_auc"),
        Column("RandomForest(300)", 0, "rf300", "roc_auc"),
        Column("HistGradientBoosting", 0, "hgb", "roc_auc"),
        Column("FLAML zero-shot LGBM", 0, "flaml_lgbm", "roc_auc"),
        Column("LogisticRegression", 0, "logreg", "roc_auc"),
        Column("best peer, hindsight", 0, "best_peer_hindsight", "roc_auc"),
        Column("AutoMeta rank", 0, "autometa", "mean_rank", "{:.3f}"),
        Column("RF rank", 0, "rf300", "mean_rank", "{:.3f}"),
    ),
    score="roc_auc",
    rank="mean_rank",
    tail=(
        "AutoMeta median fit+predict",
        "{median_time_s:.2f} s ({time_ratio_to_hgb_<n>:.2f}x HGB)",
    ),
)

REGRESSOR = Table(
    sources=(
        "docs/results/regressor_blend.json",
        "docs/results/regressor_blend_ablation.json",
        "docs/results/member_costs.json",
    ),
    columns=(
        Column("AutoMetaRegressor", 0, "autometa", "r2"),
        Column("prior only, no evidence (ablation run)", 1, "am_prior", "r2"),
        Column("RidgeCV", 0, "ridge", "r2"),
        Column("SVR", 0, "svr", "r2"),
        Column("RandomForest(300)", 0, "rf300", "r2"),
        Column("FLAML zero-shot LGBM", 0, "flaml_lgbm", "r2"),
        Column("best peer, hindsight", 0, "best_peer_hindsight", "r2"),
        Column("AutoMeta cover80", 0, "autometa", "cover80"),
    ),
    score="r2",
    tail=("AutoMeta fit+predict, CPU", "{regressor_fit_predict_cpu_s_<n>:.4f} s"),
)

TABLES = {"classifier": CLASSIFIER, "regressor": REGRESSOR}


def render(text: str) -> str:
    """``text`` (the README) with every table replaced by its freshly rendered version."""
    for spec in TABLES.values():
        start = text.index(spec.marker)
        end = text.index("\n\n", start)
        text = text[:start] + spec.render() + text[end:]
    return text


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = README.read_text()
    new = render(text)
    if "--check" in args:
        print("current" if new == text else "stale: run python docs/results/readme_tables.py")
        return int(new != text)
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The learning-curve figure a meta-training run writes and logs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["learning_curve_figure"]


def learning_curve_figure(
    history: Sequence[dict[str, float]],
    *,
    best_step: int | None,
    title: str,
    path: Path | None = None,
) -> Any:
    """Meta-train loss (raw and smoothed), meta-val loss and the best step over outer steps.

    A bare :class:`matplotlib.figure.Figure` (rendered with Agg; pyplot and the user's GUI
    backend are never touched), saved to ``path`` when given.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot(1, 1, 1)
    tr = [(h["step"], h["meta_train/loss"]) for h in history if "meta_train/loss" in h]
    va = [(h["step"], h["meta_val/loss"]) for h in history if "meta_val/loss" in h]
    if tr:
        steps, losses = zip(*tr, strict=True)
        ax.plot(steps, losses, lw=0.8, alpha=0.5, label="meta-train loss")
        if len(losses) >= 20:
            k = max(len(losses) // 20, 2)
            smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
            ax.plot(steps[k - 1 :], smooth, lw=1.5, label=f"meta-train loss ({k}-step mean)")
    if va:
        ax.plot(*zip(*va, strict=True), "o-", lw=1.5, ms=3, label="meta-val loss")
    if best_step is not None:
        ax.axvline(best_step, color="grey", ls="--", lw=0.8, label=f"best step {best_step}")
    ax.set_xlabel("outer step")
    ax.set_ylabel("query cross-entropy")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig

"""Meta-knowledge of :class:`~autometa.optuna.MetaSampler`: what meta-training produces.

A :class:`MetaKnowledge` holds

* ``gp_lengthscale`` and ``gp_noise``: Gaussian-process hyperparameters meta-learned by
  maximizing the mean marginal likelihood over a pool of tuning tasks;
* ``designs``: one meta-learned initial design per dimension (a portfolio of points in the
  unit cube, built greedily to minimize the mean regret across synthetic tuning landscapes);
* ``tasks``: an archive of past tuning tasks (configurations and losses, with their Optuna
  distributions), used like source studies whenever a new study's parameters match by name.

It is plain data (JSON on disk), so a sampler that holds it pickles cheaply.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from optuna.distributions import BaseDistribution, distribution_to_json, json_to_distribution
from optuna.study import StudyDirection
from optuna.trial import TrialState

from autometa.optuna._history import loss_ranks, trial_sort_key

if TYPE_CHECKING:
    import optuna

__all__ = ["DEFAULT_KNOWLEDGE_PATH", "MetaKnowledge", "TuningTask", "task_from_study"]

#: Where the shipped meta-knowledge lives.
DEFAULT_KNOWLEDGE_PATH = (
    Path(__file__).resolve().parent.parent / "checkpoints" / "sampler_knowledge.json"
)
_FORMAT_VERSION = 1
_TRAIN_COMMAND = "python -m autometa.optuna.train --out autometa/checkpoints/sampler_knowledge.json"


@dataclass
class TuningTask:
    """One past tuning task: configurations, their losses and the search space.

    Parameters
    ----------
    name : str
        Where the task comes from (a study name, ``"hpobench/credit_g"``...).
    distributions : dict of str to BaseDistribution
        The space the configurations were drawn from.
    params : list of dict
        One dict of parameter values per evaluated configuration.
    losses : list of float
        The objective of each configuration, as a loss (lower is better).
    """

    name: str
    distributions: dict[str, BaseDistribution]
    params: list[dict[str, Any]]
    losses: list[float]

    def __post_init__(self) -> None:
        if len(self.params) != len(self.losses):
            raise ValueError(
                f"task {self.name!r}: {len(self.params)} configurations but {len(self.losses)} losses."
            )

    def to_json(self) -> dict[str, Any]:
        names = sorted(self.distributions)
        return {
            "name": self.name,
            "distributions": {
                n: json.loads(distribution_to_json(self.distributions[n])) for n in names
            },
            "params": {n: [p.get(n) for p in self.params] for n in names},
            "losses": [float(v) for v in self.losses],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> TuningTask:
        dists = {n: json_to_distribution(json.dumps(v)) for n, v in d["distributions"].items()}
        cols = d["params"]
        n = len(d["losses"])
        params = [{k: cols[k][i] for k in cols if cols[k][i] is not None} for i in range(n)]
        return cls(
            name=str(d["name"]), distributions=dists, params=params, losses=list(d["losses"])
        )


def task_from_study(study: optuna.Study) -> TuningTask:
    """Snapshot the finished trials of a single-objective study as a :class:`TuningTask`.

    Complete trials with a finite value are kept; maximization studies are negated so that
    every task is a minimization problem. Pruned trials are kept as information, as the
    sampler does with the study's own trials: they get losses worse than every completed
    trial, ordered by their last reported step (later is better) and the value reported there
    (only their order matters: task surrogates are fitted to ranks). Failed and running trials
    are ignored.

    Raises
    ------
    ValueError
        If ``study`` has several objectives.
    """
    if len(study.directions) != 1:
        raise ValueError(
            f"source study {study.study_name!r} has {len(study.directions)} objectives; "
            "MetaSampler transfers from single-objective studies only."
        )
    sign = -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0
    dists: dict[str, BaseDistribution] = {}
    params: list[dict[str, Any]] = []
    losses: list[float] = []
    pruned_params: list[dict[str, Any]] = []
    pruned_keys: list[tuple[float, float, float]] = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        if t.state == TrialState.COMPLETE and (t.value is None or not math.isfinite(t.value)):
            continue
        if not t.params:
            continue
        for name, dist in t.distributions.items():
            dists.setdefault(name, dist)
        if t.state == TrialState.COMPLETE:
            params.append(dict(t.params))
            losses.append(sign * float(t.value))
        else:
            key = trial_sort_key(t, sign)
            if key is not None and all(math.isfinite(v) for v in key):
                pruned_params.append(dict(t.params))
                pruned_keys.append(key)
    if losses and pruned_params:
        worst, spread = max(losses), (max(losses) - min(losses)) or 1.0
        for p, r in zip(pruned_params, loss_ranks(pruned_keys), strict=True):
            params.append(p)
            losses.append(worst + spread * (1.0 + float(r)) / len(pruned_keys))
    return TuningTask(name=study.study_name, distributions=dists, params=params, losses=losses)


@dataclass
class MetaKnowledge:
    """Meta-learned knowledge used by :class:`~autometa.optuna.MetaSampler`.

    Parameters
    ----------
    gp_lengthscale : float
        Meta-learned length scale of the Matern-5/2 kernel, per unit of ``sqrt(n_features)``.
    gp_noise : float
        Meta-learned noise variance (relative to a unit signal variance).
    designs : dict of int to list of list of float
        Meta-learned initial designs in the unit cube, keyed by dimension.
    tasks : list of TuningTask
        Archive of past tuning tasks.
    metadata : dict
        Provenance: pool, command, metrics.
    """

    gp_lengthscale: float = 0.25
    gp_noise: float = 1e-3
    designs: dict[int, list[list[float]]] = field(default_factory=dict)
    tasks: list[TuningTask] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    # -- (de)serialization ---------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": _FORMAT_VERSION,
            "gp_lengthscale": self.gp_lengthscale,
            "gp_noise": self.gp_noise,
            "designs": {
                str(k): [[round(float(u), 6) for u in p] for p in v]
                for k, v in self.designs.items()
            },
            "tasks": [t.to_json() for t in self.tasks],
            "metadata": self.metadata,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> MetaKnowledge:
        version = d.get("format_version")
        if version != _FORMAT_VERSION:
            raise ValueError(
                f"meta-knowledge format version {version!r} is not supported (expected {_FORMAT_VERSION}); "
                f"re-create it with `{_TRAIN_COMMAND}`."
            )
        return cls(
            gp_lengthscale=float(d["gp_lengthscale"]),
            gp_noise=float(d["gp_noise"]),
            designs={int(k): [list(map(float, p)) for p in v] for k, v in d["designs"].items()},
            tasks=[TuningTask.from_json(t) for t in d["tasks"]],
            metadata=dict(d.get("metadata", {})),
        )

    def save(self, path: str | Path) -> str:
        """Write JSON atomically; return the file's SHA-256."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True).encode()
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        return hashlib.sha256(data).hexdigest()

    @classmethod
    def load(cls, path: str | Path) -> MetaKnowledge:
        """Read a file written by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            If the file is not valid meta-knowledge.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"no sampler meta-knowledge at {path}; create it with `{_TRAIN_COMMAND}` "
                "or pass knowledge=None to MetaSampler to run without meta-knowledge."
            )
        try:
            payload = json.loads(path.read_bytes())
            return cls.from_json(payload)
        except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise ValueError(
                f"{path} is not valid sampler meta-knowledge ({exc}); re-create it with `{_TRAIN_COMMAND}`."
            ) from exc

    @classmethod
    def default(cls) -> MetaKnowledge:
        """The meta-knowledge shipped with autometa (loaded once per process)."""
        return _load_default(str(DEFAULT_KNOWLEDGE_PATH))

    def without_tasks(self, names: Sequence[str]) -> MetaKnowledge:
        """A copy without the archived tasks called ``names`` (for leave-one-out studies)."""
        drop = set(names)
        return MetaKnowledge(
            gp_lengthscale=self.gp_lengthscale,
            gp_noise=self.gp_noise,
            designs=self.designs,
            tasks=[t for t in self.tasks if t.name not in drop],
            metadata={**self.metadata, "dropped_tasks": sorted(drop)},
        )

    def design(self, dim: int) -> np.ndarray | None:
        """The meta-learned initial design for ``dim`` dimensions, ``[n, dim]``, if any."""
        pts = self.designs.get(int(dim))
        return None if not pts else np.asarray(pts, dtype=float)


@lru_cache(maxsize=4)
def _load_default(path: str) -> MetaKnowledge:
    return MetaKnowledge.load(path)

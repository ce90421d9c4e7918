"""An in-context surrogate for black-box optimization (PFN-style), meta-trained on a function prior.

The network reads a study's history (points in the unit cube and their rank-normal scores) as
context and predicts, for candidate points, a Gaussian over their score in one forward pass: no
per-study fitting. It is meta-trained by maximizing the predictive log-likelihood of held-out
points of functions drawn from a broad prior:

* Matern-5/2 GP-prior functions with random per-dimension length scales (some dimensions
  nearly irrelevant),
* the same functions quantized into plateaus,
* sums of narrow Gaussian bumps (sweet spots),

each with random observation noise, in 1 to :data:`MAX_DIM` dimensions. This follows Müller et
al. (2023), "PFNs4BO: In-Context Learning for Bayesian Optimization", with a Gaussian head
instead of a bar distribution.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtri

from autometa.optuna._believer import pick_believing

if TYPE_CHECKING:
    from autometa.optuna._space import NormalizedSpace

__all__ = [
    "MAX_DIM",
    "ICLSurrogate",
    "load_icl_surrogate",
    "pick_with_icl",
    "sample_prior_batch",
    "train_icl_surrogate",
]

MAX_DIM = 8
_FORMAT = "autometa-icl-surrogate/1"


def _torch():  # lazy: importing autometa.optuna must not import torch
    import torch

    return torch


def _matern52(x, ls):
    torch = _torch()
    d = (x[:, :, None, :] - x[:, None, :, :]) / ls[:, None, None, :]
    r = torch.sqrt((d * d).sum(-1) + 1e-12)
    s5 = math.sqrt(5.0)
    return (1 + s5 * r + 5.0 / 3.0 * r * r) * torch.exp(-s5 * r)


def sample_prior_batch(batch: int, n_points: int, generator, dim: int | None = None):
    """Functions from the prior, evaluated at random points.

    Returns ``x [batch, n_points, MAX_DIM]`` (unused dimensions zero), ``y [batch, n_points]``
    (rank-normal scores of noisy values) and ``dims [batch]``.
    """
    torch = _torch()
    dims = (
        torch.randint(1, MAX_DIM + 1, (batch,), generator=generator)
        if dim is None
        else torch.full((batch,), dim)
    )
    mask = (torch.arange(MAX_DIM)[None, :] < dims[:, None]).float()
    x = torch.rand(batch, n_points, MAX_DIM, generator=generator) * mask[:, None, :]
    # Per-dimension length scales: log-uniform in [0.1, 1] * sqrt(d); 30% of dims ~irrelevant.
    ls = torch.exp(torch.empty(batch, MAX_DIM).uniform_(math.log(0.1), 0.0, generator=generator))
    ls = ls * torch.sqrt(dims.float())[:, None]
    ls = torch.where(torch.rand(batch, MAX_DIM, generator=generator) < 0.3, ls * 20.0, ls)
    k = _matern52(x, ls) + 1e-4 * torch.eye(n_points)
    f = (torch.linalg.cholesky(k) @ torch.randn(batch, n_points, 1, generator=generator)).squeeze(
        -1
    )
    kind = torch.randint(0, 3, (batch,), generator=generator)
    plateau = torch.floor(f * 2.0) / 2.0
    centers = torch.rand(batch, 3, MAX_DIM, generator=generator)
    width = 0.05 + 0.25 * torch.rand(batch, 3, 1, generator=generator)
    dist2 = (((x[:, None, :, :] - centers[:, :, None, :]) * mask[:, None, None, :]) ** 2).sum(-1)
    bumps = -(torch.exp(-0.5 * dist2 / width**2)).sum(1) + 0.2 * f
    f = torch.where(kind[:, None] == 0, f, torch.where(kind[:, None] == 1, plateau, bumps))
    noise = torch.exp(
        torch.empty(batch, 1).uniform_(math.log(1e-3), math.log(0.3), generator=generator)
    )
    y = f / (f.std(dim=1, keepdim=True) + 1e-6) + noise * torch.randn(
        batch, n_points, generator=generator
    )
    ranks = y.argsort(dim=1).argsort(dim=1).float()

    z = torch.as_tensor(ndtri(((ranks + 0.5) / n_points).numpy()), dtype=torch.float32)
    return x, z, dims


_NET_CLASS = None


def _net_class():
    """The transformer class, created on first use so that torch is imported lazily.

    It is exposed as the module attribute ``_Net`` (see :func:`__getattr__`), so pickle finds it.
    """
    global _NET_CLASS
    if _NET_CLASS is not None:
        return _NET_CLASS
    torch = _torch()
    nn = torch.nn

    class _Net(nn.Module):
        def __init__(self, width: int, layers: int, heads: int) -> None:
            super().__init__()
            self.embed_x = nn.Linear(MAX_DIM, width)
            self.embed_y = nn.Linear(1, width)
            self.query_flag = nn.Parameter(torch.zeros(width))
            layer = nn.TransformerEncoderLayer(
                width, heads, 2 * width, dropout=0.0, batch_first=True
            )
            self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.head = nn.Linear(width, 2)

        def forward(self, xc, yc, xq):
            nc, nq = xc.shape[1], xq.shape[1]
            ctx = self.embed_x(xc) + self.embed_y(yc[..., None])
            qry = self.embed_x(xq) + self.query_flag
            tokens = torch.cat([ctx, qry], dim=1)
            # Everyone attends to the context only; queries do not see each other.
            mask = torch.ones(nc + nq, nc + nq, dtype=torch.bool)
            mask[:, :nc] = False
            out = self.encoder(tokens, mask=mask)[:, nc:]
            mean, log_std = self.head(out).unbind(-1)
            return mean, log_std.clamp(-5.0, 3.0)

    _Net.__module__ = __name__
    _Net.__qualname__ = "_Net"
    _NET_CLASS = _Net
    return _Net


def __getattr__(name: str):
    if name == "_Net":
        return _net_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _build_net(width: int, layers: int, heads: int):
    return _net_class()(width, layers, heads)


@dataclass
class ICLSurrogate:
    """A trained in-context surrogate (use :func:`train_icl_surrogate` to make one).

    Attributes
    ----------
    net : torch.nn.Module
        The transformer.
    metrics : dict
        Training record: steps, final training NLL, held-out NLL of the trained and of the
        untrained network.
    """

    net: object
    metrics: dict

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the weights, the architecture and the metrics to ``path`` (atomically; a plain tensor file).

        :func:`load_icl_surrogate` reads it back without unpickling any code.
        """
        from autometa.meta._checkpoint import atomic_torch_save

        layers = self.net.encoder.layers
        config = {
            "width": self.net.embed_x.out_features,
            "layers": len(layers),
            "heads": layers[0].self_attn.num_heads,
        }
        payload = {
            "format": _FORMAT,
            "config": config,
            "state_dict": self.net.state_dict(),
            "metrics": dict(self.metrics),
        }
        return atomic_torch_save(payload, path)

    def predict(
        self, x_obs: np.ndarray, z_obs: np.ndarray, x_cand: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and std of the rank-normal score at ``x_cand`` (unit cube, ``dim <= 8``)."""
        torch = _torch()
        d = x_obs.shape[1]
        if d > MAX_DIM:
            raise ValueError(
                f"the in-context surrogate handles at most {MAX_DIM} dimensions, got {d}."
            )
        pad = lambda a: np.pad(a, ((0, 0), (0, MAX_DIM - d)))  # noqa: E731
        with torch.no_grad():
            xc = torch.as_tensor(pad(x_obs), dtype=torch.float32)[None]
            yc = torch.as_tensor(z_obs, dtype=torch.float32)[None]
            xq = torch.as_tensor(pad(x_cand), dtype=torch.float32)[None]
            mean, log_std = self.net(xc, yc, xq)
        return mean[0].numpy().astype(float), np.exp(log_std[0].numpy()).astype(float)


def load_icl_surrogate(path: str | os.PathLike[str]) -> ICLSurrogate:
    """Read a surrogate written by :meth:`ICLSurrogate.save` (no code is unpickled).

    Raises
    ------
    ValueError
        If the file is not such a surrogate (truncated, foreign or another format).
    """
    from autometa.meta._checkpoint import read_torch_file

    payload = read_torch_file(path)
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ValueError(f"{path}: not an in-context surrogate file written by ICLSurrogate.save.")
    net = _build_net(**payload["config"])
    net.load_state_dict(payload["state_dict"])
    net.eval()
    return ICLSurrogate(net, dict(payload["metrics"]))


def _nll(net, x, z, n_ctx):
    torch = _torch()
    mean, log_std = net(x[:, :n_ctx], z[:, :n_ctx], x[:, n_ctx:])
    target = z[:, n_ctx:]
    return (log_std + 0.5 * ((target - mean) / torch.exp(log_std)) ** 2).mean()


def held_out_nll(net, seed: int = 12345, batches: int = 4, n_points: int = 64) -> float:
    """Mean predictive NLL on functions from the prior drawn with ``seed`` (context sizes 4-40)."""
    torch = _torch()
    g = torch.Generator().manual_seed(seed)
    total = 0.0
    with torch.no_grad():
        for b in range(batches):
            x, z, _ = sample_prior_batch(64, n_points, g)
            total += float(_nll(net, x, z, 4 + 12 * b))
    return total / batches


def train_icl_surrogate(
    steps: int = 1500,
    batch: int = 32,
    n_points: int = 64,
    width: int = 64,
    layers: int = 3,
    seed: int = 0,
) -> ICLSurrogate:
    """Meta-train the surrogate on the function prior (CPU, about a minute for the defaults).

    Same seed, same weights on CPU. The metrics compare the trained network with the same
    network untrained on held-out prior functions.
    """
    torch = _torch()
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = _build_net(width, layers, 4)
    untrained = held_out_nll(net)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=steps, pct_start=0.1)
    loss = torch.tensor(0.0)
    for _ in range(steps):
        x, z, _ = sample_prior_batch(batch, n_points, g)
        n_ctx = int(torch.randint(2, n_points - 8, (1,), generator=g))
        loss = _nll(net, x, z, n_ctx)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
    net.eval()
    metrics = {
        "steps": steps,
        "train_nll_last": float(loss.detach()),
        "held_out_nll/trained": held_out_nll(net),
        "held_out_nll/untrained": untrained,
    }
    return ICLSurrogate(net, metrics)


def pick_with_icl(
    surrogate: ICLSurrogate,
    space: NormalizedSpace,
    obs_x: np.ndarray,
    z: np.ndarray,
    run_x: np.ndarray,
    cand: np.ndarray,
    pending: int,
    all_obs_x: np.ndarray | None = None,
) -> int:
    """Index of the candidate maximizing expected improvement under the in-context surrogate.

    Running trials join the context with the worst observed score (constant liar); each of
    ``pending`` trials whose parameters are unknown takes the current maximizer, believed at its
    predicted mean (kriging believer), before this trial's pick.
    """

    def keys(a: np.ndarray) -> list[bytes]:
        return [row.tobytes() for row in np.round(a, 9) + 0.0]

    ctx_x = space.unit_from_internal(obs_x)
    ctx_z = z.copy()
    if run_x.size:
        ctx_x = np.concatenate([ctx_x, space.unit_from_internal(run_x)], axis=0)
        ctx_z = np.concatenate([ctx_z, np.full(run_x.shape[0], z.max())])
    cand_u = space.unit_from_internal(cand)
    seen = obs_x if all_obs_x is None else all_obs_x
    taken = set(keys(space.features_from_internal(np.concatenate([seen, run_x], axis=0))))
    available = np.array([k not in taken for k in keys(space.features_from_internal(cand))])
    if not available.any():
        available[:] = True

    def believe(pick: int, mean: np.ndarray) -> None:
        nonlocal ctx_x, ctx_z
        ctx_x = np.concatenate([ctx_x, cand_u[pick : pick + 1]], axis=0)
        ctx_z = np.concatenate([ctx_z, mean[pick : pick + 1]])

    def predict() -> tuple[np.ndarray, np.ndarray]:
        return surrogate.predict(ctx_x, ctx_z, cand_u)

    return pick_believing(predict, believe, float(z.min()), available, pending)

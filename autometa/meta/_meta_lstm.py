"""Meta-LSTM: a learned, coordinate-wise LSTM optimizer (Ravi & Larochelle, 2017).

The insight of Ravi & Larochelle is that the gradient-descent update
``theta_t = theta_{t-1} - lr * grad_t`` is the cell-state update of an LSTM,
``c_t = f_t * c_{t-1} + i_t * (-grad_t)``, with the forget gate ``f_t = 1`` and the input gate
``i_t = lr``. Learning the gates gives a learned learning rate (``i_t``) and a learned
weight decay (``f_t``) for every coordinate and step, and learning ``c_0`` gives a learned
initialization.

:class:`MetaLSTMRule` is that optimizer as an update rule of :func:`autometa.functional.adapt`:

* one LSTM shared by *all* coordinates of all parameters (coordinate-wise: every scalar
  weight is a row of a ``[N, ...]`` batch), so it works with any base net (MLP, Conv4);
* its inputs are the support loss and the coordinate's gradient, each preprocessed as in
  Andrychowicz et al. (2016) with ``p = 10``: ``x -> (log|x| / p, sign(x))`` when
  ``|x| >= exp(-p)``, else ``(-1, exp(p) * x)``;
* a first LSTM layer (hidden size ``hidden_size``) reads them; the second, "meta-learner"
  cell has a scalar cell state that *is* the weight:

  .. math::

      f_t = \\sigma(w_f \\cdot [h_t, \\theta_{t-1}, f_{t-1}] + b_f), \\quad
      i_t = \\sigma(w_i \\cdot [h_t, \\theta_{t-1}, i_{t-1}] + b_i), \\quad
      \\theta_t = f_t \\odot \\theta_{t-1} - i_t \\odot \\nabla_t

* ``b_f`` starts in ``[4, 6]`` (forget gate ~1: no decay) and ``b_i`` at
  ``logit(init_lr)`` (input gate = a small learning rate), so the untrained optimizer is
  close to SGD with step ``init_lr``.

:class:`MetaLSTM` (``"meta-lstm"``) meta-trains the LSTM and the initialization ``c_0``
(the base net's ``nn.Parameter`` s) end to end through the unrolled inner loop. With
``second_order=False`` (the paper's choice) the gradient and loss *inputs* of the LSTM are
detached, which drops second derivatives of the base net's loss; gradients still flow
through the cell-state path and the gates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from autometa.functional._adapt import UpdateRule
from autometa.meta._base import register_learner
from autometa.meta._maml import GradientLearner, check_positive_float, check_positive_int

__all__ = ["MetaLSTM", "MetaLSTMRule", "preprocess_gradient"]


def preprocess_gradient(x: Tensor, p: float = 10.0) -> Tensor:
    """The log/sign preprocessing of Andrychowicz et al. (2016), appendix A.

    Returns ``[..., 2]``: ``(log|x| / p, sign(x))`` where ``|x| >= exp(-p)``, else
    ``(-1, exp(p) * x)``. Scale-free inputs let one LSTM serve every parameter.
    """
    thresh = math.exp(-p)
    big = x.abs() >= thresh
    first = torch.where(big, torch.log(x.abs().clamp_min(thresh)) / p, torch.full_like(x, -1.0))
    second = torch.where(big, torch.sign(x), x * math.exp(p))
    return torch.stack([first, second], dim=-1)


class MetaLSTMRule(nn.Module):
    """Coordinate-wise LSTM update rule (usable as ``update_rule`` of :func:`~autometa.functional.adapt`).

    Parameters
    ----------
    hidden_size : int, default=20
        Hidden size of the first (input) LSTM layer, as in Ravi & Larochelle.
    init_lr : float, default=0.1
        Initial input-gate value, i.e. the learning rate of the untrained optimizer.
    p : float, default=10.0
        Preprocessing constant of Andrychowicz et al.
    seed : int, default=0
        Seed of the LSTM weight initialization.
    """

    def __init__(
        self, hidden_size: int = 20, init_lr: float = 0.1, p: float = 10.0, seed: int = 0
    ) -> None:
        super().__init__()
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        if not 0.0 < init_lr < 1.0:
            raise ValueError(
                f"init_lr is the initial input-gate value and must lie in (0, 1); got {init_lr!r}."
            )
        self.init_lr = float(init_lr)
        self.p = check_positive_float("p", p)
        g = torch.Generator().manual_seed(int(seed))
        h = self.hidden_size
        bound = 1.0 / math.sqrt(h)

        def uniform(*shape: int, lo: float = -bound, hi: float = bound) -> nn.Parameter:
            return nn.Parameter(torch.rand(*shape, generator=g) * (hi - lo) + lo)

        # first layer: a standard LSTM cell over [preprocessed grad (2), preprocessed loss (2)]
        self.weight_ih = uniform(4 * h, 4)
        self.weight_hh = uniform(4 * h, h)
        self.bias = uniform(4 * h)
        # meta-learner cell: gates over [h_t, theta_{t-1}, gate_{t-1}]
        self.w_f = uniform(h + 2, lo=-0.01, hi=0.01)
        self.w_i = uniform(h + 2, lo=-0.01, hi=0.01)
        self.b_f = uniform(1, lo=4.0, hi=6.0)
        logit = math.log(self.init_lr / (1.0 - self.init_lr))
        self.b_i = nn.Parameter(torch.full((1,), logit))

    def extra_repr(self) -> str:
        return f"hidden_size={self.hidden_size}, init_lr={self.init_lr}, p={self.p}"

    def init_state(self, params: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Zero LSTM state and zero previous gates for the ``N`` coordinates of ``params``."""
        n = sum(v.numel() for v in params.values())
        ref = next(iter(params.values()))
        zeros = torch.zeros(n, device=ref.device, dtype=ref.dtype)
        hz = torch.zeros(n, self.hidden_size, device=ref.device, dtype=ref.dtype)
        return {"h": hz, "c": hz, "f": zeros, "i": zeros}

    def gates(
        self, theta: Tensor, grad: Tensor, loss: Tensor, state: Mapping[str, Tensor]
    ) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """Forget and input gates ``[N]`` for flat weights/gradients ``[N]``, and the new state."""
        n = theta.shape[0]
        # ``loss`` is the task's scalar loss, or one loss per coordinate (several tasks flattened together)
        x = torch.cat(
            [
                preprocess_gradient(grad, self.p),
                preprocess_gradient(loss.reshape(-1), self.p).expand(n, 2),
            ],
            dim=-1,
        )
        hs = self.hidden_size
        z = x @ self.weight_ih.T + state["h"] @ self.weight_hh.T + self.bias
        # chunk (not slicing): its backward is one concatenation instead of zero-fill + copy per slice
        zi, zf, zo, zg = z.chunk(4, dim=-1)
        c = torch.sigmoid(zf) * state["c"] + torch.sigmoid(zi) * torch.tanh(zg)
        h = torch.sigmoid(zo) * torch.tanh(c)
        # w . [h, theta, gate_prev] without materializing the concatenation
        f = torch.sigmoid(
            h @ self.w_f[:hs] + theta * self.w_f[hs] + state["f"] * self.w_f[hs + 1] + self.b_f
        )
        i = torch.sigmoid(
            h @ self.w_i[:hs] + theta * self.w_i[hs] + state["i"] * self.w_i[hs + 1] + self.b_i
        )
        return f, i, {"h": h, "c": c, "f": f, "i": i}

    def forward(
        self,
        params: Mapping[str, Tensor],
        grads: Mapping[str, Tensor],
        loss: Tensor,
        state: Mapping[str, Tensor],
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        names = list(params)
        theta = torch.cat([params[k].reshape(-1) for k in names])
        grad = torch.cat([grads[k].reshape(-1) for k in names])
        f, i, new_state = self.gates(theta, grad, loss, state)
        theta = f * theta - i * grad
        out, start = {}, 0
        for k in names:
            size = params[k].numel()
            out[k] = theta[start : start + size].reshape(params[k].shape)
            start += size
        return out, new_state

    def batched(
        self,
        params: Mapping[str, Tensor],
        grads: Mapping[str, Tensor],
        losses: Tensor,
        state: Mapping[str, Tensor] | None,
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """The step for ``T`` tasks at once: parameters ``[T, ...]``, losses ``[T]``.

        The rule is coordinate-wise, so every coordinate of every task is one row of the
        LSTM's batch, each with its own task's loss; ``state`` (``None`` at the first step)
        covers all ``T * N`` coordinates. Used by :func:`~autometa.functional.adapt` with
        ``inference=True``.
        """
        names = list(params)
        n_tasks = losses.shape[0]
        theta = torch.cat([params[k].reshape(n_tasks, -1) for k in names], dim=1)
        grad = torch.cat([grads[k].reshape(n_tasks, -1) for k in names], dim=1)
        n = theta.shape[1]
        loss = losses[:, None].expand(n_tasks, n).reshape(-1)
        flat_theta = theta.reshape(-1)
        if state is None:
            state = self.init_state({"theta": flat_theta})
        f, i, state = self.gates(flat_theta, grad.reshape(-1), loss, state)
        new = (f * flat_theta - i * grad.reshape(-1)).reshape(n_tasks, n)
        out, start = {}, 0
        for k in names:
            size = params[k][0].numel()
            out[k] = new[:, start : start + size].reshape(params[k].shape)
            start += size
        return out, state


@register_learner("meta-lstm")
class MetaLSTM(GradientLearner):
    """Meta-LSTM learner: a learned initialization plus a learned coordinate-wise LSTM optimizer.

    Parameters
    ----------
    net : dict
        Base net config (any kind: ``mlp``, ``conv4``).
    inner_steps : int, default=5
        Optimizer steps on each support set.
    hidden_size : int, default=20
        Hidden size of the optimizer's input LSTM.
    init_lr : float, default=0.1
        Initial input gate (learning rate of the untrained optimizer), in (0, 1).
    second_order : bool, default=False
        Keep the gradient and loss inputs of the LSTM in the graph (exact meta-gradient,
        slower). ``False`` detaches them, as in the paper.
    seed : int, default=0
        Seed of the optimizer's weight initialization (the base net uses torch's global RNG,
        like every learner).

    Examples
    --------
    >>> from autometa.meta import MetaLSTM
    >>> learner = MetaLSTM(net={"kind": "mlp", "d_max": 8, "c_max": 3, "hidden": [16]}, inner_steps=2)
    >>> learner.get_config()["second_order"]
    False
    """

    def __init__(
        self,
        net: Mapping[str, Any],
        inner_steps: int = 5,
        hidden_size: int = 20,
        init_lr: float = 0.1,
        second_order: bool = False,
        seed: int = 0,
    ) -> None:
        if not isinstance(second_order, (bool, np.bool_)):
            raise ValueError(f"second_order must be a bool; got {second_order!r}.")
        init_lr = check_positive_float("init_lr", init_lr)
        super().__init__(
            net, inner_steps=inner_steps, inner_lr=init_lr, first_order=not second_order
        )
        self.second_order = bool(second_order)
        self.seed = int(seed)
        self.rule = MetaLSTMRule(hidden_size=hidden_size, init_lr=init_lr, seed=seed)

    def update_rule(self) -> UpdateRule:
        return self.rule

    def get_config(self) -> dict[str, Any]:
        return {
            "net": dict(self.net_config),
            "inner_steps": self.inner_steps,
            "hidden_size": self.rule.hidden_size,
            "init_lr": self.rule.init_lr,
            "second_order": self.second_order,
            "seed": self.seed,
        }

"""The one inner loop of every gradient-based meta-learner, written with :mod:`torch.func`.

:func:`adapt` takes a base net, its parameters as a dict of tensors (the shared
initialization), a batch of support sets ``[T, S, D]`` and an *update rule*, and returns
fast parameters batched over the task axis ``[T, ...]``. Nothing is mutated: the net is
evaluated with :func:`torch.func.functional_call`, the per-task gradients come from
:func:`torch.func.grad_and_value`, and the whole inner loop runs once under
:func:`torch.func.vmap` over tasks (so the ``T`` small matrix products of a Python loop
become a few batched ones).

Gradients flow from the returned fast parameters back to ``params`` and to the update
rule's own tensors (learned step sizes, LSTM weights) through the unrolled inner loop:
second-order MAML is simply ``loss(fast).backward()``. With ``first_order=True`` the inner
gradients are detached (the FOMAML approximation of Finn et al. 2017): the meta-gradient
then treats every inner gradient as a constant, so ``d fast / d params`` is the identity
and the meta-gradient of SGD-adapted weights equals the query-loss gradient at the fast
weights.

At ``fit``/predict time no meta-gradient is needed: ``adapt(..., inference=True)`` runs the
same steps without recording a graph, with one batched autograd call per step (the gradient
of the summed per-task losses with respect to per-task parameters *is* each task's own
gradient) instead of vectorizing ``grad``, and returns detached fast parameters.

Update rules are small callables ``rule(params, grads, loss, state) -> (params, state)``
that operate on the parameters of *one* task (``vmap`` adds the task axis) plus an
``init_state(params)``; a rule may also offer ``batched(params, grads, losses, state)``, the
same step for parameters ``[T, ...]`` and losses ``[T]`` at once (used by the inference mode;
without it the rule is vmapped). Three are provided: :class:`SGD` (scalar step size),
:class:`MetaSGDRule` (a learned step size per parameter entry, Li et al. 2017) and the
Meta-LSTM rule in :mod:`autometa.meta._meta_lstm`. Because a rule only sees one task's
tensors, the same rule object also runs in a plain per-task Python loop (see
:func:`adapt_loop`, the reference implementation used by tests and ``autometa bench speed``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad_and_value, vmap

from autometa.functional._losses import masked_cross_entropy

__all__ = [
    "SGD",
    "MetaSGDRule",
    "Support",
    "UpdateRule",
    "adapt",
    "adapt_loop",
    "batched_forward",
    "make_forward",
    "support_from_batch",
]

Params = dict[str, Tensor]
ForwardFn = Callable[[Mapping[str, Tensor], Tensor, Tensor], Tensor]
LossFn = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]


class Support(NamedTuple):
    """Batched support sets: what the inner loop adapts on.

    Attributes
    ----------
    x : Tensor (T, S, D)
    y : Tensor (T, S); int64 class indices (or float targets for a regression loss)
    row_mask : Tensor (T, S), bool; False for padded rows
    feature_mask : Tensor (T, D), bool
    class_mask : Tensor (T, C), bool
    """

    x: Tensor
    y: Tensor
    row_mask: Tensor
    feature_mask: Tensor
    class_mask: Tensor


def support_from_batch(batch: Any) -> Support:
    """The support part of a :class:`~autometa.tasks.TaskBatch` as a :class:`Support`."""
    return Support(
        batch.x_support, batch.y_support, batch.support_mask, batch.feature_mask, batch.class_mask
    )


@runtime_checkable
class UpdateRule(Protocol):
    """One inner-loop step for the parameters of a single task.

    ``state`` is any pytree of tensors (``None`` for stateless rules). ``loss`` is the
    scalar support loss at ``params``; ``grads`` has the same keys as ``params``.
    """

    def init_state(self, params: Params) -> Any: ...

    def __call__(
        self, params: Params, grads: Params, loss: Tensor, state: Any
    ) -> tuple[Params, Any]: ...


class SGD:
    """Plain gradient descent ``p <- p - lr * g`` with one scalar step size.

    Parameters
    ----------
    lr : float or Tensor
        The step size; a 0-d tensor that requires grad makes it meta-learnable.
    """

    def __init__(self, lr: float | Tensor) -> None:
        if not isinstance(lr, Tensor) and not lr > 0:
            raise ValueError(f"The inner learning rate must be > 0; got lr={lr!r}.")
        self.lr = lr

    def init_state(self, params: Params) -> None:
        return None

    def __call__(
        self, params: Params, grads: Params, loss: Tensor, state: None
    ) -> tuple[Params, None]:
        return {k: p - self.lr * grads[k] for k, p in params.items()}, None

    def batched(
        self, params: Params, grads: Params, losses: Tensor, state: None
    ) -> tuple[Params, None]:
        """The step for ``T`` tasks at once: the rule is elementwise, so it is the same call."""
        return self(params, grads, losses, state)

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr!r})"


class MetaSGDRule:
    """Meta-SGD (Li et al. 2017): ``p <- p - alpha[k] * g`` with a step size per entry.

    Parameters
    ----------
    lrs : mapping of str to Tensor
        One tensor shaped like each adapted parameter (usually ``nn.Parameter`` s, so the
        step sizes are meta-learned along with the initialization). Parameters without an
        entry are not updated.
    """

    def __init__(self, lrs: Mapping[str, Tensor]) -> None:
        self.lrs = lrs

    def init_state(self, params: Params) -> None:
        return None

    def __call__(
        self, params: Params, grads: Params, loss: Tensor, state: None
    ) -> tuple[Params, None]:
        return {
            k: (p - self.lrs[k] * grads[k]) if k in self.lrs else p for k, p in params.items()
        }, None

    def batched(
        self, params: Params, grads: Params, losses: Tensor, state: None
    ) -> tuple[Params, None]:
        """The step for ``T`` tasks at once (the step sizes broadcast over the task axis)."""
        return self(params, grads, losses, state)


def make_forward(net: nn.Module | ForwardFn) -> ForwardFn:
    """Turn a base net into ``forward(params, x, feature_mask) -> logits`` for one task.

    A module is called statelessly with :func:`torch.func.functional_call`; a callable is
    returned unchanged (use that for heads applied to precomputed features, or for
    regression nets).
    """
    if isinstance(net, nn.Module):

        def forward(params: Mapping[str, Tensor], x: Tensor, feature_mask: Tensor) -> Tensor:
            return functional_call(net, dict(params), (x, feature_mask))

        return forward
    if callable(net):
        return net
    raise TypeError(f"net must be an nn.Module or a callable; got {type(net).__name__}.")


def batched_forward(
    net: nn.Module | ForwardFn, fast: Mapping[str, Tensor], x: Tensor, feature_mask: Tensor
) -> Tensor:
    """Evaluate the net with per-task parameters: ``fast[k]: [T, ...]``, ``x: [T, n, D]`` -> ``[T, n, C]``."""
    forward = make_forward(net)
    return vmap(forward)(dict(fast), x, feature_mask)


def _check_adapt_args(
    steps: int, params: Mapping[str, Tensor], params_to_adapt: Iterable[str] | None
) -> list[str]:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int; got {steps!r}.")
    if params_to_adapt is None:
        return list(params)
    names = list(params_to_adapt)
    unknown = [n for n in names if n not in params]
    if unknown:
        raise ValueError(
            f"params_to_adapt names unknown parameters {unknown}; known: {sorted(params)}."
        )
    if not names:
        raise ValueError("params_to_adapt is empty: nothing to adapt.")
    return names


def adapt(
    net: nn.Module | ForwardFn,
    params: Mapping[str, Tensor],
    support: Support | tuple[Tensor, Tensor, Tensor, Tensor, Tensor],
    *,
    steps: int,
    update_rule: UpdateRule,
    first_order: bool = False,
    params_to_adapt: Iterable[str] | None = None,
    loss_fn: LossFn = masked_cross_entropy,
    inference: bool = False,
) -> Params:
    """Adapt shared parameters to every task of a batch, vectorized over tasks.

    Parameters
    ----------
    net : nn.Module or callable
        The base net (called with :func:`~torch.func.functional_call` as
        ``net(x, feature_mask)``), or a function ``forward(params, x, feature_mask)``.
    params : mapping of str to Tensor
        The initialization shared by all tasks (unbatched), e.g.
        ``dict(net.named_parameters())``.
    support : Support or tuple
        ``(x [T,S,D], y [T,S], row_mask [T,S], feature_mask [T,D], class_mask [T,C])``.
    steps : int
        Number of inner steps (0 returns the initialization, broadcast over tasks).
    update_rule : UpdateRule
        The step: :class:`SGD`, :class:`MetaSGDRule`, the Meta-LSTM rule, ...
    first_order : bool, default=False
        Detach the inner gradients (and the loss fed to the rule): the FOMAML
        approximation. Gradients still flow to ``params`` through the identity path
        ``fast = params - sum(lr * g)`` and to the rule's own tensors.
    params_to_adapt : iterable of str, optional
        Names of the parameters the inner loop updates (default: all). The others stay at
        their shared value; ANIL adapts only the head.
    loss_fn : callable, default=masked_cross_entropy
        ``loss_fn(outputs, y, row_mask, class_mask) -> scalar`` for one task.
    inference : bool, default=False
        Adapt without a graph for the meta-gradient (``fit`` time): the same steps, with one
        batched autograd call per step and the rule's ``batched`` step; the result is
        detached (``first_order`` is then irrelevant). Works under :func:`torch.no_grad`.

    Returns
    -------
    dict of str to Tensor
        Fast parameters for every name in ``params``, each batched ``[T, *shape]``
        (non-adapted parameters are broadcast views of the shared value).
    """
    support = Support(*support)
    names = _check_adapt_args(steps, params, params_to_adapt)
    if inference:
        return _adapt_inference(net, params, support, names, steps, update_rule, loss_fn)
    forward = make_forward(net)
    adapted = {k: params[k] for k in names}
    frozen = {k: v for k, v in params.items() if k not in adapted}
    n_tasks = support.x.shape[0]

    def task_loss(fast: Params, x: Tensor, y: Tensor, rm: Tensor, fm: Tensor, cm: Tensor) -> Tensor:
        return loss_fn(forward({**frozen, **fast}, x, fm), y, rm, cm)

    step_fn = grad_and_value(task_loss)

    def inner(fast: Params, x: Tensor, y: Tensor, rm: Tensor, fm: Tensor, cm: Tensor) -> Params:
        state = update_rule.init_state(fast)
        for _ in range(steps):
            grads, loss = step_fn(fast, x, y, rm, fm, cm)
            if first_order:
                grads = {k: g.detach() for k, g in grads.items()}
                loss = loss.detach()
            fast, state = update_rule(fast, grads, loss, state)
        return fast

    if steps == 0:
        fast = {k: v.unsqueeze(0).expand(n_tasks, *v.shape) for k, v in adapted.items()}
    else:
        fast = vmap(inner, in_dims=(None, 0, 0, 0, 0, 0))(adapted, *support)
    out = {k: v.unsqueeze(0).expand(n_tasks, *v.shape) for k, v in frozen.items()}
    out.update(fast)
    return {k: out[k] for k in params}


def _batched_step(
    rule: UpdateRule, params: Params, grads: Params, losses: Tensor, state: Any
) -> tuple[Params, Any]:
    """One step of ``rule`` for ``T`` tasks at once: its ``batched`` method, else ``vmap(rule)``."""
    batched = getattr(rule, "batched", None)
    if batched is not None:
        return batched(params, grads, losses, state)
    if state is None:
        state = vmap(rule.init_state)(params)
    return vmap(rule)(params, grads, losses, state)


def _adapt_inference(
    net: nn.Module | ForwardFn,
    params: Mapping[str, Tensor],
    support: Support,
    names: list[str],
    steps: int,
    update_rule: UpdateRule,
    loss_fn: LossFn,
) -> Params:
    """:func:`adapt` with ``inference=True``: no meta-gradient graph, detached result."""
    n_tasks = support.x.shape[0]
    fast = {k: v.detach().unsqueeze(0).expand(n_tasks, *v.shape).clone() for k, v in params.items()}
    state = None
    with torch.enable_grad():
        for _ in range(steps):
            leaves = {k: fast[k].detach().requires_grad_(True) for k in names}
            logits = batched_forward(net, {**fast, **leaves}, support.x, support.feature_mask)
            losses = vmap(loss_fn)(logits, support.y, support.row_mask, support.class_mask)
            grads = dict(
                zip(
                    names,
                    torch.autograd.grad(losses.sum(), [leaves[k] for k in names]),
                    strict=True,
                )
            )
            with torch.no_grad():
                new, state = _batched_step(update_rule, leaves, grads, losses.detach(), state)
            fast.update({k: v.detach() for k, v in new.items()})
    return fast


def adapt_loop(
    net: nn.Module | ForwardFn,
    params: Mapping[str, Tensor],
    support: Support | tuple[Tensor, Tensor, Tensor, Tensor, Tensor],
    *,
    steps: int,
    update_rule: UpdateRule,
    first_order: bool = False,
    params_to_adapt: Iterable[str] | None = None,
    loss_fn: LossFn = masked_cross_entropy,
) -> Params:
    """Reference implementation of :func:`adapt`: a Python loop over tasks.

    Each task is adapted with :func:`torch.autograd.grad` (``create_graph=True`` unless
    ``first_order``), the way most MAML code is written. Same arguments and result as
    :func:`adapt`; used to test the vectorized path and as the baseline of
    ``autometa bench speed``.
    """
    support = Support(*support)
    names = _check_adapt_args(steps, params, params_to_adapt)
    forward = make_forward(net)
    frozen = {k: v for k, v in params.items() if k not in names}
    per_task: list[Params] = []
    for t in range(support.x.shape[0]):
        x, y, rm, fm, cm = (s[t] for s in support)
        fast = {k: params[k] for k in names}
        state = update_rule.init_state(fast)
        for _ in range(steps):
            loss = loss_fn(forward({**frozen, **fast}, x, fm), y, rm, cm)
            inputs = [fast[k] for k in names]
            if not all(v.requires_grad for v in inputs):
                inputs = [v if v.requires_grad else v.detach().requires_grad_(True) for v in inputs]
                fast = dict(zip(names, inputs, strict=True))
                loss = loss_fn(forward({**frozen, **fast}, x, fm), y, rm, cm)
            grads = torch.autograd.grad(loss, inputs, create_graph=not first_order)
            grads_d = dict(zip(names, grads, strict=True))
            if first_order:
                grads_d = {k: g.detach() for k, g in grads_d.items()}
                loss = loss.detach()
            fast, state = update_rule(fast, grads_d, loss, state)
        per_task.append({**frozen, **fast})
    return {k: torch.stack([p[k] for p in per_task]) for k in params}

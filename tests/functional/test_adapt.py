from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from autometa.functional import (
    SGD,
    Conv4,
    MaskedMLP,
    MetaSGDRule,
    Support,
    adapt,
    adapt_loop,
    batched_forward,
    masked_cross_entropy,
)


def _support(T=3, S=6, D=5, C=3, seed=0, pad=True):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, S, D, generator=g)
    y = torch.randint(0, C, (T, S), generator=g)
    rm = torch.ones(T, S, dtype=torch.bool)
    fm = torch.ones(T, D, dtype=torch.bool)
    cm = torch.ones(T, C, dtype=torch.bool)
    if pad:  # padded rows, a missing feature and a missing class in some tasks
        rm[0, -2:] = False
        fm[1, -1] = False
        x[1, :, -1] = 0.0
        cm[2, -1] = False
        y[2] = y[2] % (C - 1)
    return Support(x, y, rm, fm, cm)


def _query(T=3, Q=7, D=5, C=3, seed=1):
    s = _support(T, Q, D, C, seed)
    return s.x, s.y, s.row_mask


def _meta_loss(net, fast, support, query):
    xq, yq, qm = query
    logits = batched_forward(net, fast, xq, support.feature_mask)
    return torch.vmap(masked_cross_entropy)(logits, yq, qm, support.class_mask).mean()


def _net(seed=0):
    torch.manual_seed(seed)
    return MaskedMLP(d_max=5, c_max=3, hidden=(8, 6))


def _hand_forward(p, x, fm):
    """The MaskedMLP forward written out by hand (no functional_call)."""
    m = fm.to(x.dtype).expand_as(x)
    h = torch.cat([x * m, m], dim=-1)
    h = torch.relu(h @ p["body.0.weight"].T + p["body.0.bias"])
    h = torch.relu(h @ p["body.1.weight"].T + p["body.1.bias"])
    return h @ p["head.weight"].T + p["head.bias"]


def test_second_order_meta_gradient_matches_hand_unrolled_reference():
    net = _net()
    params = dict(net.named_parameters())
    sup, query = _support(), _query()
    steps, lr = 3, 0.5
    fast = adapt(net, params, sup, steps=steps, update_rule=SGD(lr))
    got = torch.autograd.grad(_meta_loss(net, fast, sup, query), list(params.values()))

    # explicit reference: per task, hand-written forward, autograd.grad(create_graph=True)
    total = 0.0
    for t in range(sup.x.shape[0]):
        p = dict(params)
        for _ in range(steps):
            loss = masked_cross_entropy(
                _hand_forward(p, sup.x[t], sup.feature_mask[t]),
                sup.y[t],
                sup.row_mask[t],
                sup.class_mask[t],
            )
            grads = torch.autograd.grad(loss, list(p.values()), create_graph=True)
            p = {k: v - lr * g for (k, v), g in zip(p.items(), grads, strict=True)}
        xq, yq, qm = query
        total = total + masked_cross_entropy(
            _hand_forward(p, xq[t], sup.feature_mask[t]), yq[t], qm[t], sup.class_mask[t]
        )
    want = torch.autograd.grad(total / sup.x.shape[0], list(params.values()))
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    # and second-order terms matter: the first-order gradient is different
    fo = adapt(net, params, sup, steps=steps, update_rule=SGD(lr), first_order=True)
    fo_grad = torch.autograd.grad(_meta_loss(net, fo, sup, query), list(params.values()))
    assert max((a - b).abs().max().item() for a, b in zip(got, fo_grad, strict=True)) > 1e-5


def test_first_order_equals_query_gradient_at_fast_weights():
    net = _net(1)
    params = dict(net.named_parameters())
    sup, query = _support(seed=3), _query(seed=4)
    fast = adapt(net, params, sup, steps=2, update_rule=SGD(0.3), first_order=True)
    got = torch.autograd.grad(_meta_loss(net, fast, sup, query), list(params.values()))
    # documented approximation: d fast / d params = identity, so the meta-gradient is the
    # query-loss gradient at the (constant) fast weights, summed over tasks
    leaf = {k: v.detach().requires_grad_(True) for k, v in fast.items()}
    want = torch.autograd.grad(_meta_loss(net, leaf, sup, query), list(leaf.values()))
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b.sum(0), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("first_order", [False, True])
@pytest.mark.parametrize("rule_kind", ["sgd", "metasgd", "head-only"])
def test_vmap_path_equals_per_task_loop(first_order, rule_kind):
    net = _net(2)
    params = dict(net.named_parameters())
    sup, query = _support(T=4, seed=5), _query(T=4, seed=6)
    kwargs = {}
    if rule_kind == "sgd":
        rule = SGD(0.4)
        extra = []
    elif rule_kind == "metasgd":
        lrs = {k: torch.full_like(p, 0.2).requires_grad_(True) for k, p in params.items()}
        rule = MetaSGDRule(lrs)
        extra = list(lrs.values())
    else:
        rule = SGD(0.4)
        extra = []
        kwargs["params_to_adapt"] = ["head.weight", "head.bias"]
    a = adapt(net, params, sup, steps=3, update_rule=rule, first_order=first_order, **kwargs)
    b = adapt_loop(net, params, sup, steps=3, update_rule=rule, first_order=first_order, **kwargs)
    for k in params:
        assert a[k].shape == (4, *params[k].shape)
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    inputs = list(params.values()) + extra
    ga = torch.autograd.grad(_meta_loss(net, a, sup, query), inputs)
    gb = torch.autograd.grad(_meta_loss(net, b, sup, query), inputs)
    for x, y in zip(ga, gb, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-6)


def test_head_only_adaptation_leaves_body_at_shared_value():
    net = _net()
    params = dict(net.named_parameters())
    fast = adapt(
        net,
        params,
        _support(),
        steps=2,
        update_rule=SGD(0.5),
        params_to_adapt=["head.weight", "head.bias"],
    )
    for k in ("body.0.weight", "body.1.bias"):
        torch.testing.assert_close(fast[k], params[k].expand_as(fast[k]))
    assert not torch.allclose(fast["head.weight"][0], params["head.weight"])


def test_zero_steps_returns_broadcast_initialization_and_padding_is_ignored():
    net = _net()
    params = dict(net.named_parameters())
    sup = _support()
    fast = adapt(net, params, sup, steps=0, update_rule=SGD(0.1))
    for k, v in params.items():
        torch.testing.assert_close(fast[k], v.expand(3, *v.shape))
    # values in padded rows and masked columns do not change the result
    x2 = sup.x.clone()
    x2[0, -2:] = 100.0
    x2[1, :, -1] = -50.0
    a = adapt(net, params, sup, steps=2, update_rule=SGD(0.3))
    b = adapt(net, params, sup._replace(x=x2), steps=2, update_rule=SGD(0.3))
    for k in params:
        torch.testing.assert_close(a[k], b[k])


def test_inner_loop_does_not_mutate_the_module():
    net = _net()
    before = {k: v.detach().clone() for k, v in net.state_dict().items()}
    adapt(net, dict(net.named_parameters()), _support(), steps=3, update_rule=SGD(0.5))
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k])


def test_conv4_base_net_under_vmap():
    torch.manual_seed(0)
    net = Conv4(image_shape=(1, 6, 6), c_max=3, channels=4, n_blocks=2)
    params = dict(net.named_parameters())
    sup = _support(T=2, S=6, D=36, C=3, pad=False)
    a = adapt(net, params, sup, steps=2, update_rule=SGD(0.1))
    b = adapt_loop(net, params, sup, steps=2, update_rule=SGD(0.1))
    for k in params:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)


def test_custom_forward_callable_and_regression_loss():
    head = torch.nn.Linear(4, 1)
    params = dict(head.named_parameters())

    def forward(p, x, fm):
        return functional_call(head, dict(p), (x,)).squeeze(-1)

    def mse(pred, y, rm, cm):
        w = rm.to(pred.dtype)
        return ((pred - y) ** 2 * w).sum() / w.sum()

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 10, 4, generator=g)
    y = x.sum(-1)
    sup = Support(
        x,
        y,
        torch.ones(2, 10, dtype=torch.bool),
        torch.ones(2, 4, dtype=torch.bool),
        torch.ones(2, 1, dtype=torch.bool),
    )
    fast0 = adapt(forward, params, sup, steps=0, update_rule=SGD(0.1), loss_fn=mse)
    fast = adapt(forward, params, sup, steps=20, update_rule=SGD(0.1), loss_fn=mse)

    def err(f):
        return float(((torch.vmap(forward)(f, x, sup.feature_mask) - y) ** 2).mean().detach())

    assert err(fast) < 0.1 * err(fast0)


def test_same_seed_same_numbers():
    def run():
        net = _net(7)
        params = dict(net.named_parameters())
        fast = adapt(net, params, _support(seed=8), steps=3, update_rule=SGD(0.4))
        return _meta_loss(net, fast, _support(seed=8), _query(seed=9))

    assert run().item() == run().item()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": -1}, "non-negative int"),
        ({"steps": 1.5}, "non-negative int"),
        ({"steps": 1, "params_to_adapt": ["nope"]}, "unknown parameters"),
        ({"steps": 1, "params_to_adapt": []}, "nothing to adapt"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    net = _net()
    with pytest.raises(ValueError, match=match):
        adapt(net, dict(net.named_parameters()), _support(), update_rule=SGD(0.1), **kwargs)


@pytest.mark.parametrize("lr", [0.0, -0.1])
def test_sgd_rejects_non_positive_lr(lr):
    with pytest.raises(ValueError, match="must be > 0"):
        SGD(lr)


class _PerTaskSGD:
    """SGD with a per-task state counter and no ``batched`` method: the inference mode vmaps it."""

    def __init__(self, lr: float) -> None:
        self.lr = lr

    def init_state(self, params):
        return torch.zeros(())

    def __call__(self, params, grads, loss, state):
        return {k: p - self.lr * grads[k] for k, p in params.items()}, state + 1


@pytest.mark.parametrize("rule", [SGD(0.3), _PerTaskSGD(0.3)])
def test_inference_mode_equals_the_graph_mode_without_a_graph(rule):
    torch.manual_seed(0)
    net = MaskedMLP(d_max=5, c_max=3, hidden=(8,))
    params = dict(net.named_parameters())
    reference = adapt(net, params, _support(), steps=3, update_rule=rule)
    with torch.no_grad():
        fast = adapt(net, params, _support(), steps=3, update_rule=rule, inference=True)
    for k in params:
        assert not fast[k].requires_grad
        assert not torch.allclose(fast[k], params[k].expand_as(fast[k]))
        torch.testing.assert_close(fast[k], reference[k].detach(), rtol=1e-5, atol=1e-6)

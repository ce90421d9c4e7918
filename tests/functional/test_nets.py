from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from autometa.functional import Conv4, MaskedMLP, build_net


def test_mlp_ignores_values_in_masked_columns():
    net = MaskedMLP(d_max=6, c_max=3, hidden=(8,))
    mask = torch.tensor([True, True, True, False, False, False])
    x = torch.randn(5, 6)
    x2 = x.clone()
    x2[:, 3:] = 123.0
    torch.testing.assert_close(net(x, mask), net(x2, mask))


def test_functional_call_matches_module_and_config_roundtrip():
    net = MaskedMLP(d_max=4, c_max=3, hidden=(8, 8))
    params = {k: v.detach() for k, v in net.named_parameters()}
    x = torch.randn(2, 4)
    torch.testing.assert_close(functional_call(net, params, (x,)), net(x))
    clone = build_net(net.get_config())
    assert clone.get_config() == net.get_config()


def test_conv4_shapes_and_stateless_batchnorm():
    net = Conv4(image_shape=(1, 8, 8), c_max=5, channels=4)
    out = net(torch.rand(3, 64))
    assert out.shape == (3, 5)
    assert net.embedding_dim == 4  # 8 -> 4 -> 2 -> 1 -> 1
    assert not list(net.buffers())  # no running statistics


def test_build_net_rejects_unknown_kind():
    with pytest.raises(ValueError, match="Unknown base net kind"):
        build_net({"kind": "transformer"})
    with pytest.raises(ValueError, match="c_max >= 1"):
        MaskedMLP(d_max=3, c_max=0)
    assert MaskedMLP(d_max=3, c_max=1).c_max == 1  # a one-output regression net

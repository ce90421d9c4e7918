"""Augmentation ops: shapes, dtypes, masks, labels, identity at zero, seeding, gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from autometa.augment import IMAGE_OPS, OPS, TABULAR_OPS, apply_op, get_op

IMAGE_SHAPE = (1, 6, 6)


def _tabular_batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    t, n, d, c = 3, 12, 5, 3
    x = torch.randn(t, n, d, generator=g)
    y = torch.randint(0, c, (t, n), generator=g)
    row_mask = torch.ones(t, n, dtype=torch.bool)
    row_mask[1, 9:] = False
    row_mask[2, 6:] = False
    feature_mask = torch.ones(t, d, dtype=torch.bool)
    feature_mask[0, 4:] = False
    feature_mask[2, 2:] = False
    x = x * row_mask.unsqueeze(-1) * feature_mask.unsqueeze(1)
    y = y * row_mask
    y_soft = F.one_hot(y, c).float() * row_mask.unsqueeze(-1)
    return x, y_soft, row_mask, feature_mask


def _image_batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    t, n, d = 2, 5, 36
    x = torch.rand(t, n, d, generator=g)
    row_mask = torch.ones(t, n, dtype=torch.bool)
    row_mask[1, 3:] = False
    x = x * row_mask.unsqueeze(-1)
    y = F.one_hot(torch.arange(n).remainder(2).expand(t, n), 2).float() * row_mask.unsqueeze(-1)
    return x, y, row_mask, torch.ones(t, d, dtype=torch.bool)


def _batch_for(name):
    return _image_batch() if OPS[name].kind == "image" else _tabular_batch()


def _run(name, magnitude, seed=0, batch=None):
    x, y, rm, fm = batch if batch is not None else _batch_for(name)
    g = torch.Generator().manual_seed(seed)
    return get_op(name)(x, y, rm, fm, magnitude, generator=g, image_shape=IMAGE_SHAPE)


@pytest.mark.parametrize("name", sorted(OPS))
def test_shapes_dtypes_masks_and_labels(name):
    x, y, rm, fm = _batch_for(name)
    x_new, y_new = _run(name, OPS[name].max_magnitude or 0.5, batch=(x, y, rm, fm))
    assert x_new.shape == x.shape and x_new.dtype == x.dtype
    assert y_new.shape == y.shape and y_new.dtype == y.dtype
    # padded rows and padded columns stay exactly zero
    assert torch.all(x_new[~rm] == 0)
    assert torch.all(x_new.masked_select(~fm.unsqueeze(1).expand_as(x)) == 0)
    assert torch.all(y_new[~rm] == 0)
    assert torch.isfinite(x_new).all()
    # every real row keeps a valid label distribution; hard labels are the parent's
    assert torch.allclose(y_new[rm].sum(-1), torch.ones(int(rm.sum())))
    assert torch.equal(y_new[rm].argmax(-1), y[rm].argmax(-1))
    if not OPS[name].soft_labels:
        assert torch.equal(y_new, y)


@pytest.mark.parametrize("name", sorted(OPS))
def test_magnitude_zero_is_identity(name):
    x, y, rm, fm = _batch_for(name)
    x_new, y_new = _run(name, 0.0, batch=(x, y, rm, fm))
    assert torch.equal(x_new, x) and torch.equal(y_new, y)
    # per-row magnitudes: rows with magnitude 0 are unchanged
    m = torch.zeros(x.shape[:2])
    m[:, ::2] = 0.3
    x_new, _ = _run(name, m, batch=(x, y, rm, fm))
    assert torch.equal(x_new[:, 1::2], x[:, 1::2])


@pytest.mark.parametrize("name", [n for n in sorted(OPS) if n != "identity"])
def test_seed_fixes_output_and_positive_magnitude_changes_rows(name):
    a, _ = _run(name, 0.4, seed=1)
    b, _ = _run(name, 0.4, seed=1)
    c, _ = _run(name, 0.4, seed=2)
    x = _batch_for(name)[0]
    assert torch.equal(a, b)
    assert not torch.equal(a, x)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", [n for n in sorted(OPS) if OPS[n].differentiable])
def test_differentiable_in_magnitude(name):
    x, y, rm, fm = _batch_for(name)
    m = torch.tensor(0.3, requires_grad=True)
    x_new, y_new = get_op(name)(
        x, y, rm, fm, m, generator=torch.Generator().manual_seed(0), image_shape=IMAGE_SHAPE
    )
    target = torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
    ((x_new - target) ** 2).sum().add((y_new**2).sum()).backward()
    assert m.grad is not None and torch.isfinite(m.grad) and m.grad != 0


def test_mixup_cross_gives_soft_labels_dominated_by_parent():
    x, y, rm, fm = _tabular_batch()
    _, y_new = _run("mixup_cross", 0.5, batch=(x, y, rm, fm))
    real = y_new[rm]
    assert (real.max(-1).values < 1).any()
    assert (real.max(-1).values >= 0.5).all()


def test_within_class_partners_only():
    # two far-apart classes: within-class ops never move a row toward the other class
    x = torch.cat([torch.zeros(4, 2), torch.full((4, 2), 100.0)])[None]
    y = F.one_hot(torch.tensor([0] * 4 + [1] * 4), 2).float()[None]
    rm, fm = torch.ones(1, 8, dtype=torch.bool), torch.ones(1, 2, dtype=torch.bool)
    for name in ("mixup", "smote"):
        x_new, _ = get_op(name)(x, y, rm, fm, 1.0, generator=torch.Generator().manual_seed(0))
        assert torch.equal(x_new, x)  # same-class rows are identical here


def test_apply_op_single_task():
    x = torch.randn(10, 3)
    y = torch.tensor([0, 1] * 5)
    x_new, y_soft = apply_op(
        "gaussian_noise", x, y, 0.2, generator=torch.Generator().manual_seed(0)
    )
    assert x_new.shape == (10, 3) and y_soft.shape == (10, 2)
    assert torch.equal(y_soft.argmax(-1), y)


def test_op_lists():
    assert "smote" in TABULAR_OPS and "identity" in TABULAR_OPS and "hflip" not in TABULAR_OPS
    assert "affine" in IMAGE_OPS and "smote" not in IMAGE_OPS


@pytest.mark.parametrize(
    ("magnitude", "match"),
    [
        (-0.1, "must be >= 0"),
        (float("inf"), "must be finite"),
        (float("nan"), "must be finite"),
        ("big", "non-negative number"),
    ],
)
def test_bad_magnitude_raises(magnitude, match):
    x, y, rm, fm = _tabular_batch()
    with pytest.raises(ValueError, match=match):
        get_op("gaussian_noise")(x, y, rm, fm, magnitude)


def test_unknown_op_and_bad_shapes_raise():
    with pytest.raises(ValueError, match="Unknown augmentation op 'blur'"):
        get_op("blur")
    x, y, rm, fm = _tabular_batch()
    with pytest.raises(ValueError, match=r"x must have shape \[T, N, D\]"):
        get_op("smote")(x[0], y, rm, fm, 0.1)
    with pytest.raises(ValueError, match="does not broadcast"):
        get_op("smote")(x, y, rm, fm, torch.ones(2, 2))
    xi, yi, rmi, fmi = _image_batch()
    with pytest.raises(ValueError, match="image_shape"):
        get_op("affine")(xi, yi, rmi, fmi, 0.1)
    with pytest.raises(ValueError, match="C\\*H\\*W=16"):
        get_op("affine")(xi, yi, rmi, fmi, 0.1, image_shape=(1, 4, 4))

"""AugmentationPolicy / UniformPolicy: augmented supports, gradients, config and checkpoints."""

from __future__ import annotations

import pytest
import torch

from autometa.augment import (
    DEFAULT_IMAGE_OPS,
    AugmentationPolicy,
    UniformPolicy,
    build_policy,
    load_policy,
    save_policy,
    task_statistics,
)


def _support(seed=0):
    g = torch.Generator().manual_seed(seed)
    t, s, d, c = 2, 10, 4, 3
    x = torch.randn(t, s, d, generator=g)
    y = torch.randint(0, c, (t, s), generator=g)
    rm = torch.ones(t, s, dtype=torch.bool)
    rm[1, 7:] = False
    fm = torch.ones(t, d, dtype=torch.bool)
    fm[0, 3] = False
    x = x * rm.unsqueeze(-1) * fm.unsqueeze(1)
    return x, y * rm, rm, fm


@pytest.mark.parametrize("policy_cls", [AugmentationPolicy, UniformPolicy])
def test_augment_appends_rows_and_keeps_originals(policy_cls):
    x, y, rm, fm = _support()
    policy = policy_cls(n_augment=3)
    aug = policy.augment(x, y, rm, fm, n_classes=3, generator=torch.Generator().manual_seed(0))
    assert aug.x.shape == (2, 40, 4) and aug.y.shape == (2, 40, 3)
    assert torch.equal(aug.x[:, :10], x)
    assert torch.equal(aug.row_mask, rm.repeat(1, 4))
    assert torch.all(aug.x[~aug.row_mask] == 0)
    assert torch.all(aug.x[..., 3][0] == 0)
    # the hard label of every augmented row is its parent's
    parents_y = torch.gather(y, 1, aug.parent)
    assert torch.equal(aug.hard_labels[aug.row_mask], parents_y[aug.row_mask])
    assert torch.all(aug.op_index[:, :10] == -1) and torch.all(aug.op_index[:, 10:] >= 0)


def test_seed_fixes_augmentation():
    x, y, rm, fm = _support()
    policy = AugmentationPolicy()
    a = policy.augment(x, y, rm, fm, generator=torch.Generator().manual_seed(3))
    b = policy.augment(x, y, rm, fm, generator=torch.Generator().manual_seed(3))
    c = policy.augment(x, y, rm, fm, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a.x, b.x) and torch.equal(a.op_index, b.op_index)
    assert not torch.equal(a.x, c.x)


def test_zero_magnitude_policy_only_duplicates_rows():
    x, y, rm, fm = _support()
    policy = AugmentationPolicy.fixed({"gaussian_noise": 1.0, "smote": 1.0}, {}, n_augment=2)
    aug = policy.augment(x, y, rm, fm, generator=torch.Generator().manual_seed(0))
    assert torch.equal(aug.x, x.repeat(1, 3, 1))


def test_n_augment_zero_returns_support():
    x, y, rm, fm = _support()
    aug = AugmentationPolicy(n_augment=0).augment(x, y, rm, fm)
    assert torch.equal(aug.x, x)


def test_policy_parameters_get_gradients_through_augmented_rows():
    x, y, rm, fm = _support()
    policy = AugmentationPolicy(n_augment=2)
    aug = policy.augment(x, y, rm, fm, generator=torch.Generator().manual_seed(0))
    target = torch.randn(aug.x.shape, generator=torch.Generator().manual_seed(1))
    ((aug.x - target) ** 2).sum().backward()
    assert policy.op_logits.grad is not None and policy.op_logits.grad.abs().sum() > 0
    assert policy.magnitude_logits.grad.abs().sum() > 0
    assert policy.context[-1].weight.grad.abs().sum() > 0


def test_conditional_policy_depends_on_task_statistics():
    policy = AugmentationPolicy()
    with torch.no_grad():
        policy.context[-1].weight.normal_()
    x, y, rm, fm = _support()
    stats = task_statistics(torch.nn.functional.one_hot(y, 3).float(), rm, fm)
    probs, mags = policy.distribution(stats)
    assert probs.shape == (2, 8) and mags.shape == (2, 8)
    assert not torch.allclose(probs[0], probs[1])
    assert torch.all(mags <= policy.max_magnitude) and torch.all(mags >= 0)


def test_fixed_policy_describe_and_frozen():
    policy = AugmentationPolicy.fixed(
        {"identity": 1.0, "gaussian_noise": 3.0}, {"gaussian_noise": 0.1}
    )
    d = policy.describe()
    assert d["gaussian_noise"]["probability"] == pytest.approx(0.75)
    assert d["gaussian_noise"]["magnitude"] == pytest.approx(0.1)
    assert not any(p.requires_grad for p in policy.parameters())


def test_image_policy():
    policy = AugmentationPolicy(ops=DEFAULT_IMAGE_OPS, image_shape=(1, 4, 4), n_augment=1)
    x = torch.rand(1, 3, 16)
    aug = policy.augment(x, torch.tensor([[0, 1, 0]]), generator=torch.Generator().manual_seed(0))
    assert aug.x.shape == (1, 6, 16)


def test_config_and_checkpoint_round_trip(tmp_path):
    policy = AugmentationPolicy(n_augment=1, hidden=8)
    with torch.no_grad():
        policy.op_logits.normal_()
    path = save_policy(policy, tmp_path / "p.pt", metadata={"note": "x"})
    loaded, meta = load_policy(path)
    assert meta == {"note": "x"}
    assert loaded.get_config() == policy.get_config()
    assert torch.equal(loaded.op_logits, policy.op_logits)
    assert build_policy(UniformPolicy().get_config()).get_config() == UniformPolicy().get_config()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ops": ["identity", "blur"]}, "Unknown augmentation op 'blur'"),
        ({"ops": []}, "non-empty list"),
        ({"ops": ["smote", "affine"], "image_shape": (1, 2, 2)}, "cannot mix tabular and image"),
        ({"n_augment": -1}, "n_augment"),
        ({"init_magnitude": 1.5}, "init_magnitude"),
        ({"temperature": float("inf")}, "temperature"),
        ({"ops": ["affine"]}, "needs image_shape"),
    ],
)
def test_bad_policy_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AugmentationPolicy(**kwargs)


def test_bad_fixed_policy_and_files_raise(tmp_path):
    with pytest.raises(ValueError, match="must be finite and >= 0"):
        AugmentationPolicy.fixed({"smote": 1.0}, {"smote": -0.5})
    with pytest.raises(ValueError, match="below its max_magnitude"):
        AugmentationPolicy.fixed({"smote": 1.0}, {"smote": 5.0})
    with pytest.raises(ValueError, match="No augmentation policy file"):
        load_policy(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="Could not read an augmentation policy"):
        load_policy(bad)
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="is not an autometa augmentation policy"):
        load_policy(tmp_path / "other.pt")

from __future__ import annotations

import pytest
import torch

from autometa.tasks import Task, collate_tasks


def _task(n_s: int, n_q: int, d: int = 6, c: int = 3, n_feat: int = 4) -> Task:
    g = torch.Generator().manual_seed(n_s * 100 + n_q)
    mask = torch.zeros(d, dtype=torch.bool)
    mask[:n_feat] = True
    xs = torch.randn(n_s, d, generator=g) * mask
    xq = torch.randn(n_q, d, generator=g) * mask
    return Task(xs, torch.arange(n_s) % c, xq, torch.arange(n_q) % c, mask, c, name="t")


def test_collate_pads_and_masks_rows_and_classes():
    a, b = _task(5, 7, c=2), _task(3, 9, c=3)
    batch = collate_tasks([a, b], c_max=4)
    assert batch.x_support.shape == (2, 5, 6)
    assert batch.x_query.shape == (2, 9, 6)
    assert batch.support_mask.sum(1).tolist() == [5, 3]
    assert batch.query_mask.sum(1).tolist() == [7, 9]
    assert batch.class_mask.tolist() == [[True, True, False, False], [True, True, True, False]]
    assert torch.equal(batch.x_support[1, 3:], torch.zeros(2, 6))
    torch.testing.assert_close(batch.x_query[0, :7], a.x_query)
    half = batch.slice(1, 2)
    assert half.n_tasks == 1 and half.names == ["t"]


def test_task_validates_shapes_and_labels():
    t = _task(4, 4)
    with pytest.raises(ValueError, match="x_support must have shape"):
        Task(t.x_support[:, :3], t.y_support, t.x_query, t.y_query, t.feature_mask, 3)
    with pytest.raises(ValueError, match="y_query must have shape"):
        Task(t.x_support, t.y_support, t.x_query, t.y_query[:2], t.feature_mask, 3)
    with pytest.raises(ValueError, match="outside range"):
        Task(t.x_support, t.y_support + 5, t.x_query, t.y_query, t.feature_mask, 3)


def test_collate_rejects_mixed_widths_and_too_many_classes():
    with pytest.raises(ValueError, match="share d_max"):
        collate_tasks([_task(3, 3, d=6), _task(3, 3, d=8)])
    with pytest.raises(ValueError, match="c_max"):
        collate_tasks([_task(3, 3, c=3)], c_max=2)
    with pytest.raises(ValueError, match="at least one"):
        collate_tasks([])


def test_for_inference_equals_collating_the_same_task_without_query_labels():
    from dataclasses import fields

    from autometa.tasks._task import TaskBatch

    g = torch.Generator().manual_seed(0)
    xs, xq = torch.randn(7, 3, generator=g), torch.randn(4, 3, generator=g)
    ys = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    fm = torch.tensor([True, True, True, False, False])
    pad = torch.zeros(7, 2), torch.zeros(4, 2)
    task = Task(
        torch.cat([xs, pad[0]], 1),
        ys,
        torch.cat([xq, pad[1]], 1),
        torch.zeros(4, dtype=torch.long),
        fm,
        3,
    )
    want = collate_tasks([task], c_max=5)
    got = TaskBatch.for_inference(xs, ys, xq, n_classes=3, c_max=5, d_max=5)
    for f in fields(TaskBatch):
        if f.name != "names":
            assert torch.equal(getattr(got, f.name), getattr(want, f.name)), f.name
    # batched, support rows masked, no queries, regression targets
    many = TaskBatch.for_inference(torch.zeros(2, 3, 4), torch.zeros(2, 3), n_classes=1,
                                   support_mask=torch.tensor([[1, 1, 0], [1, 0, 0]], dtype=torch.bool))  # fmt: skip
    assert many.x_query.shape == (2, 0, 4) and many.y_query.dtype == torch.float32
    assert many.class_mask.tolist() == [[True], [True]] and many.support_mask.sum() == 3
    with pytest.raises(ValueError, match="d_max=2"):
        TaskBatch.for_inference(xs, ys, n_classes=3, d_max=2)

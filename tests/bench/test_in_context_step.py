"""``autometa bench in-context-step``: a step's CPU time, saved activations and FLOPs per row."""

from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from autometa.bench import in_context_step


def test_cpu_attention_flops_are_counted_and_grow_with_the_keys():
    mapping = {
        torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: (
            in_context_step._cpu_attention_flops
        )
    }
    q = torch.randn(2, 3, 5, 8)
    counts = []
    for keys in (10, 20):
        k = torch.randn(2, 3, keys, 8)
        with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
            torch.nn.functional.scaled_dot_product_attention(q, k, k)
        counts.append(counter.get_total_flops())
    assert counts == [2 * 6 * 5 * 10 * 16, 2 * 6 * 5 * 20 * 16]


def test_quick_run_measures_both_recipes_and_v2_costs_more_per_row():
    args = argparse.Namespace(
        presets="in-context,in-context-v2",
        dtypes="fp32",
        support="16",
        tasks=2,
        repeats=1,
        flop_support="64",
        quick=True,
    )
    result = in_context_step.compute(args)
    rows = {r["preset"]: r for r in result.rows}
    assert set(rows) == {"in-context", "in-context-v2"}
    assert all(r["step_cpu_s"] > 0 and r["saved_mb"] > 0 for r in rows.values())
    per_row = result.summary
    assert (
        per_row["in-context-v2_mflop_per_query_row@support=64"]
        > per_row["in-context_mflop_per_query_row@support=64"]
        > 0
    )

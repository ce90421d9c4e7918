"""Benchmark harnesses behind ``autometa bench <name>``."""

from autometa.bench._common import BenchResult, add_common_arguments, format_table, report

__all__ = ["BENCHMARKS", "BenchResult", "add_common_arguments", "format_table", "report"]

#: benchmark name -> module (imported only when that benchmark runs)
BENCHMARKS: dict[str, str] = {
    "speed": "autometa.bench.speed",
    "sinusoid": "autometa.bench.sinusoid",
    "fewshot": "autometa.bench.fewshot",
    "augment": "autometa.bench.augment",
    "sampler": "autometa.bench.sampler",
    "classifier": "autometa.bench.classifier",
    "regressor": "autometa.bench.regressor",
    "in-context": "autometa.bench.in_context",
    "in-context-step": "autometa.bench.in_context_step",
    "costs": "autometa.bench.costs",
    "train-cores": "autometa.bench.train_cores",
}

"""Optuna's own sampler contract suites, run against MetaSampler."""

from __future__ import annotations

from collections.abc import Callable

import optuna
import pytest
from optuna.samplers import BaseSampler
from optuna.testing.pytest_samplers import (
    BasicSamplerTestCase,
    RelativeSamplerTestCase,
    SingleOnlySamplerTestCase,
)

from autometa.optuna import MetaSampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


class _Fixture:
    @pytest.fixture(params=["shipped", "none"])
    def sampler(self, request: pytest.FixtureRequest) -> Callable[[], BaseSampler]:
        knowledge = "default" if request.param == "shipped" else None
        return lambda: MetaSampler(knowledge=knowledge, seed=0)


class TestBasicSampler(_Fixture, BasicSamplerTestCase):
    pass


class TestRelativeSampler(_Fixture, RelativeSamplerTestCase):
    pass


class TestSingleOnlySampler(_Fixture, SingleOnlySamplerTestCase):
    pass

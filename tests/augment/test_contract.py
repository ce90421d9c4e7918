"""scikit-learn's estimator contract for MetaAugmenter (it is a resampler: ``fit`` validates
and records the input, ``fit_resample`` does the work)."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from autometa.augment import MetaAugmenter

#: checks MetaAugmenter is known to fail, with the reason (kept empty on purpose).
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@parametrize_with_checks(
    [MetaAugmenter(policy={"gaussian_noise": 0.2}, n_augment=1, random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_contract(estimator, check):
    check(estimator)

"""The scikit-learn estimator contract, run on AutoMetaClassifier with the shipped checkpoint."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from autometa.estimators import AutoMetaClassifier

#: checks AutoMetaClassifier is known to fail, with the reason (kept empty on purpose).
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@parametrize_with_checks(
    [
        AutoMetaClassifier(
            members=["neural", "lr", "knn"], n_ensemble=2, blend="uniform", random_state=0
        )
    ],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_contract(estimator, check):
    check(estimator)

"""scikit-learn estimators built on the meta-learned parts (:class:`AutoMetaClassifier`)."""

from autometa.estimators._classifier import (
    DEFAULT_CHECKPOINT,
    DEFAULT_PORTFOLIO,
    HYPERNET_CHECKPOINT,
    AutoMetaClassifier,
    load_classifier_meta_learner,
)
from autometa.estimators._portfolio import (
    META_FEATURES,
    Portfolio,
    fit_portfolio,
    landmarkers,
    meta_features,
)

__all__ = [
    "DEFAULT_CHECKPOINT",
    "DEFAULT_PORTFOLIO",
    "HYPERNET_CHECKPOINT",
    "META_FEATURES",
    "AutoMetaClassifier",
    "Portfolio",
    "fit_portfolio",
    "landmarkers",
    "load_classifier_meta_learner",
    "meta_features",
]

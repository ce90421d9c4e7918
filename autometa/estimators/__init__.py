"""scikit-learn estimators built on the meta-learned parts (:class:`AutoMetaClassifier`)."""

from autometa.estimators._classifier import (
    DEFAULT_CHECKPOINT,
    DEFAULT_PORTFOLIO,
    AutoMetaClassifier,
    load_classifier_meta_learner,
)
from autometa.estimators._portfolio import META_FEATURES, Portfolio, fit_portfolio, meta_features

__all__ = [
    "DEFAULT_CHECKPOINT",
    "DEFAULT_PORTFOLIO",
    "META_FEATURES",
    "AutoMetaClassifier",
    "Portfolio",
    "fit_portfolio",
    "load_classifier_meta_learner",
    "meta_features",
]

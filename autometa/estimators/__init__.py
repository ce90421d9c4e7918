"""scikit-learn estimators built on the meta-learned parts (:class:`AutoMetaClassifier`, :class:`AutoMetaRegressor`)."""

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
from autometa.estimators._regressor import (
    DEFAULT_REGRESSOR_MEMBERS,
    REGRESSOR_PORTFOLIO,
    AutoMetaRegressor,
    TargetTransform,
)

__all__ = [
    "DEFAULT_CHECKPOINT",
    "DEFAULT_PORTFOLIO",
    "HYPERNET_CHECKPOINT",
    "META_FEATURES",
    "AutoMetaClassifier",
    "AutoMetaRegressor",
    "DEFAULT_REGRESSOR_MEMBERS",
    "REGRESSOR_PORTFOLIO",
    "TargetTransform",
    "Portfolio",
    "fit_portfolio",
    "landmarkers",
    "load_classifier_meta_learner",
    "meta_features",
]

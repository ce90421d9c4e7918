"""Meta-learners (one interface: adapt / predict / meta_loss) and the MetaTrainer."""

from autometa.meta._base import LEARNERS, MetaLearner, build_learner, register_learner
from autometa.meta._checkpoint import load_meta_learner, save_meta_learner
from autometa.meta._hypernet import HyperNet, HyperNetMAML, SetEncoder
from autometa.meta._in_context import InContextLearner, InContextState
from autometa.meta._in_context_regression import InContextRegressionLearner
from autometa.meta._in_context_tta import InContextTTA
from autometa.meta._in_context_v2 import InContextRegressionV2, InContextV2
from autometa.meta._maml import ANIL, FOMAML, MAML, AdaptedTask, GradientLearner, MetaSGD, Reptile
from autometa.meta._maml_regression import MAMLRegression
from autometa.meta._meta_lstm import MetaLSTM, MetaLSTMRule
from autometa.meta._metric import MatchingNet, ProtoNet, RelationNet, SiameseNet
from autometa.meta._mlflow_model import LoggedMetaLearner, log_meta_learner
from autometa.meta._trainer import MetaTrainer, TrainResult
from autometa.meta._trainer_config import (
    CheckpointConfig,
    OptimizerConfig,
    ScheduleConfig,
    TrackingConfig,
    ValidationConfig,
)

__all__ = [
    "ANIL",
    "AdaptedTask",
    "CheckpointConfig",
    "FOMAML",
    "GradientLearner",
    "HyperNet",
    "HyperNetMAML",
    "InContextLearner",
    "InContextRegressionLearner",
    "InContextRegressionV2",
    "MAMLRegression",
    "InContextState",
    "InContextTTA",
    "InContextV2",
    "LEARNERS",
    "LoggedMetaLearner",
    "MAML",
    "MatchingNet",
    "MetaLSTM",
    "MetaLSTMRule",
    "MetaLearner",
    "MetaSGD",
    "MetaTrainer",
    "OptimizerConfig",
    "ProtoNet",
    "RelationNet",
    "Reptile",
    "ScheduleConfig",
    "SetEncoder",
    "SiameseNet",
    "TrackingConfig",
    "TrainResult",
    "ValidationConfig",
    "build_learner",
    "load_meta_learner",
    "log_meta_learner",
    "register_learner",
    "save_meta_learner",
]

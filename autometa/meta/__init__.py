"""Meta-learners (one interface: adapt / predict / meta_loss) and the MetaTrainer."""

from autometa.meta._base import LEARNERS, MetaLearner, build_learner, register_learner
from autometa.meta._checkpoint import load_meta_learner, log_meta_learner, save_meta_learner
from autometa.meta._maml import ANIL, FOMAML, MAML, AdaptedTask, GradientLearner, MetaSGD, Reptile
from autometa.meta._trainer import MetaTrainer, TrainResult

__all__ = [
    "ANIL",
    "FOMAML",
    "LEARNERS",
    "MAML",
    "AdaptedTask",
    "GradientLearner",
    "MetaLearner",
    "MetaSGD",
    "MetaTrainer",
    "Reptile",
    "TrainResult",
    "build_learner",
    "load_meta_learner",
    "log_meta_learner",
    "register_learner",
    "save_meta_learner",
]

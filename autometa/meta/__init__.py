"""Meta-learners (one interface: adapt / predict / meta_loss) and the MetaTrainer."""

from autometa.meta._base import LEARNERS, MetaLearner, build_learner, register_learner
from autometa.meta._maml import ANIL, FOMAML, MAML, AdaptedTask, GradientLearner, MetaSGD, Reptile

__all__ = [
    "ANIL",
    "FOMAML",
    "LEARNERS",
    "MAML",
    "AdaptedTask",
    "GradientLearner",
    "MetaLearner",
    "MetaSGD",
    "Reptile",
    "build_learner",
    "register_learner",
]

"""Meta-learners (one interface: adapt / predict / meta_loss) and the MetaTrainer."""

from autometa.meta._base import LEARNERS, MetaLearner, build_learner, register_learner

__all__ = sorted(["LEARNERS", "MetaLearner", "build_learner", "register_learner"])

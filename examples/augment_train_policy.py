"""Meta-train an augmentation policy for a fixed meta-learner, then use it with MetaAugmenter.

Run: python examples/augment_train_policy.py   (about a minute on a laptop CPU)

The same bilevel loop trains the shipped default policy (see ``python -m autometa.augment.train``):
each episode's support sets are augmented by the policy, MAML adapts on them, and the policy takes
a gradient step to lower the query loss after adaptation. Joint training with the learner is
``autometa meta-train --algo maml --augment learned ...`` (AugmentedLearner inside the MetaTrainer).
"""

from __future__ import annotations

import numpy as np

from autometa.augment import AugmentationPolicy, MetaAugmenter, save_policy, train_policy
from autometa.meta import build_learner
from autometa.tasks import SyntheticPrior, collate_tasks

pool = SyntheticPrior(d_max=8, c_max=4, n_range=(16, 48), n_query=64)
learner = build_learner(
    "maml", net={"kind": "mlp", "d_max": 8, "c_max": 4, "hidden": [32, 32]}, inner_steps=3
)


def sample_batch(rng: np.random.Generator):
    return collate_tasks([pool.sample(rng) for _ in range(4)], c_max=4)


policy = train_policy(
    learner,
    sample_batch,
    policy=AugmentationPolicy(n_augment=1),
    steps=60,
    lr=0.05,
    seed=0,
    callback=lambda step, m: step % 20 == 0 and print(f"step {step}: query loss {m['loss']:.3f}"),
)
print({op: round(d["probability"], 3) for op, d in policy.describe().items()})
path = save_policy(policy, "my_augment_policy.pt", metadata={"note": "example"})

X = np.random.default_rng(0).normal(size=(40, 5))
y = (X[:, 0] > 0).astype(int)
X_res, y_res = MetaAugmenter(policy=str(path), random_state=0).fit_resample(X, y)
print(X_res.shape, y_res.shape)

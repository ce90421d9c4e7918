"""Warm 128-row ``AutoMetaClassifier`` fit + predict wall and CPU time per ``n_jobs``.

Run from the repository root: ``python docs/reliability_threads.py`` (about a minute on two
cores). Prints the median of 3 repeats; the table in ``docs/reliability.md`` came from it.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import make_classification

from autometa import AutoMetaClassifier

X, y = make_classification(n_samples=628, n_features=12, n_informative=6, random_state=0)
Xtr, ytr, Xte = X[:128], y[:128], X[128:]
AutoMetaClassifier(random_state=0).fit(Xtr, ytr).predict_proba(Xte)  # warm the checkpoint cache
for n_jobs in (None, 2, -1):
    walls, cpus = [], []
    for rep in range(3):
        t, c = time.perf_counter(), time.process_time()
        AutoMetaClassifier(random_state=rep, n_jobs=n_jobs).fit(Xtr, ytr).predict_proba(Xte)
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    print(f"n_jobs={n_jobs!s:>4}  wall {np.median(walls):.2f} s  cpu {np.median(cpus):.2f} s  "
          f"(walls {', '.join(f'{w:.2f}' for w in walls)})", flush=True)  # fmt: skip

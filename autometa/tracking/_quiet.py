"""Keep MLflow's (and its helpers') chatter off the user's terminal.

MLflow logs INFO lines when it creates a store ("Creating initial MLflow database tables"),
warns about CloudPickle and type hints when a pyfunc model is logged, validates the input
example with a progress bar, and pulls in setuptools/pip warnings on some installs. None of
it is actionable for an autometa user; real failures still surface (errors propagate, and
autometa's own :class:`~autometa.tracking.TrackingWarning` is not filtered).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from collections.abc import Iterator

__all__ = ["quiet_mlflow"]

_LOGGERS = ("mlflow", "alembic", "urllib3", "git")
_WARNING_MODULES = r"(mlflow|setuptools|pip|_distutils_hack|pkg_resources|alembic|pydantic)(\.|$)"
_THIRD_PARTY = re.compile(
    r"/(mlflow|setuptools|pip|_distutils_hack|pkg_resources|alembic|pydantic)/"
)


@contextlib.contextmanager
def quiet_mlflow() -> Iterator[None]:
    """Inside the block: MLflow-side loggers at ERROR, their warnings ignored, no download bars."""
    levels = {name: logging.getLogger(name).level for name in _LOGGERS}
    added_env = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR" not in os.environ
    if added_env:
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    try:
        for name in _LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=_WARNING_MODULES)
            # MLflow re-enables some of its own warnings inside its functions
            # (simplefilter("once")), so the filter above is not enough: drop them at display
            shown = warnings.showwarning

            def showwarning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
                if _THIRD_PARTY.search(str(filename).replace(os.sep, "/")):
                    return
                shown(message, category, filename, lineno, file, line)

            warnings.showwarning = showwarning
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        if added_env:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)

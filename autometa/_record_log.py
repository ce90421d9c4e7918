"""A resumable collection of task records: an append-only pickle file keyed by task."""

from __future__ import annotations

import pickle
from pathlib import Path
from types import TracebackType
from typing import IO, Any

__all__ = ["RecordLog"]


class RecordLog:
    """Task records appended one pickle at a time to ``path``, keyed by ``(dataset, n, seed)``.

    Records already in the file are read back on construction, so a collection that was
    stopped resumes where it left off: skip the keys that are ``in`` the log, ``add`` the
    others (each is written and flushed at once). Use it as a context manager around the
    ``add`` calls.

    Parameters
    ----------
    path : Path
        The file (created on the first ``add``).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.done: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._file: IO[bytes] | None = None
        if self.path.is_file():
            good = 0  # bytes of whole records: a run killed mid-write leaves a partial last one
            with self.path.open("rb") as f:
                while True:
                    try:
                        record = pickle.load(f)
                    except (EOFError, pickle.UnpicklingError, ValueError):
                        break
                    self.done[self.key(record)] = record
                    good = f.tell()
            if good < self.path.stat().st_size:
                with self.path.open("r+b") as f:
                    f.truncate(good)  # drop the partial record; its task is collected again

    @staticmethod
    def key(record: dict[str, Any]) -> tuple[Any, ...]:
        return (record["dataset"], record["n"], record["seed"])

    def __contains__(self, key: tuple[Any, ...]) -> bool:
        return key in self.done

    def __enter__(self) -> RecordLog:
        self._file = self.path.open("ab")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def add(self, record: dict[str, Any]) -> None:
        """Append ``record`` to the file (flushed) and to :attr:`done`."""
        if self._file is None:
            raise RuntimeError(
                "RecordLog.add is called inside `with log:` (the file is open there)."
            )
        pickle.dump(record, self._file)
        self._file.flush()
        self.done[self.key(record)] = record

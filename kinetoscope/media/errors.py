"""The one error type that media I/O raises for problems a user can cause."""

from __future__ import annotations

import os


class MediaError(ValueError):
    """A file (or frame array) that cannot be read or written, said plainly.

    The message names the file (when there is one) and the problem, and the
    allowed range where there is one, e.g.
    ``clip.mp4: 2048 frames is more than the limit of 1024``.
    """

    def __init__(self, problem: str, path: str | os.PathLike | None = None):
        self.problem = problem
        self.path = None if path is None else os.fspath(path)
        super().__init__(problem if self.path is None else f"{self.path}: {problem}")

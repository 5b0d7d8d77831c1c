"""Where video files live. `LocalStorage` (a folder, atomic writes) is the default; anything
with the same four methods (e.g. an S3-compatible bucket) can stand in for it."""

from __future__ import annotations

import glob
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

VARIANTS = {  # the files of a completed video: variant -> (file name, content type)
    "video": ("video.mp4", "video/mp4"),
    "thumbnail": ("thumbnail.webp", "image/webp"),
    "spritesheet": ("spritesheet.jpg", "image/jpeg"),
}
_KEY = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*$")


class StorageError(OSError):
    """Storage could not take or give a file (disk full, read-only, missing)."""


class Storage(Protocol):
    def put_file(self, key: str, src: Path) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def path(self, key: str) -> Path: ...  # a local path to read (a cache for remote stores)
    def delete_prefix(self, prefix: str) -> None: ...


def check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key:
        raise ValueError(f"storage key {key!r} is not allowed")
    return key


def _temp_prefix(dest: Path) -> str:
    """The name prefix of `dest`'s temporary copies while it is written (beside it, then renamed)."""
    return f".tmp-{dest.name}-"


def _sweep_temps(dest: Path) -> None:
    """Remove `dest`'s temporary copies (none where there is no folder)."""
    for orphan in dest.parent.glob(glob.escape(_temp_prefix(dest)) + "*"):
        orphan.unlink(missing_ok=True)


class LocalStorage:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _atomic(self, key: str, write) -> None:
        dest = self.path(key)
        tmp = None
        made_dir = not dest.parent.exists()
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=_temp_prefix(dest), suffix=dest.suffix)
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, dest)
            _sweep_temps(dest)  # a writer killed before its os.replace (a retried job's first try)
        except OSError as e:
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)
            if made_dir:  # leave no empty folder behind either
                try:
                    dest.parent.rmdir()
                except OSError:
                    pass
            raise StorageError(e.errno, f"could not store {key}: {e.strerror or e}") from e

    def put_bytes(self, key: str, data: bytes) -> None:
        self._atomic(key, lambda f: f.write(data))

    def put_file(self, key: str, src: Path) -> None:
        def copy(f):
            with open(src, "rb") as s:
                shutil.copyfileobj(s, f, 1 << 20)

        self._atomic(key, copy)

    def delete_prefix(self, prefix: str) -> None:
        """Delete a key's file, or every key under a folder; a file key's temporary copies go too (a
        writer killed mid-write leaves one behind: os.replace never ran)."""
        target = self.path(prefix)
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            return
        if target.exists():
            target.unlink()
        _sweep_temps(target)

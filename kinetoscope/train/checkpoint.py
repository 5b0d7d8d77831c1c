"""Checkpoints: one file per run folder, written atomically (a crash mid-write keeps the last one)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

NAME = "checkpoint.pt"


def exists(run: Path) -> bool:
    return (Path(run) / NAME).is_file()


def save(run: Path, state: dict) -> Path:
    run = Path(run)
    run.mkdir(parents=True, exist_ok=True)
    tmp = run / (NAME + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, run / NAME)
    return run / NAME


def load(run: Path) -> dict:
    path = Path(run) / NAME
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: has this run started?")
    return torch.load(path, map_location="cpu", weights_only=False)

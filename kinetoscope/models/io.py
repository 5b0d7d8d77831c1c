"""save_pretrained / from_pretrained: a folder of config.json + model.safetensors."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def config_to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def config_from_dict(cls, d: dict):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kw = {}
    for k, v in d.items():
        if k in fields:
            kw[k] = tuple(v) if isinstance(v, list) else v
    return cls(**kw)


class PretrainedMixin:
    """Mixed into nn.Modules that have `config` (a dataclass) and `config_class`."""

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        tmp = folder / "model.safetensors.tmp"
        save_file(state, str(tmp))
        os.replace(tmp, folder / "model.safetensors")
        cfg = {"class": type(self).__name__, **config_to_dict(self.config)}
        (folder / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, device: str | torch.device = "cpu",
                        grow: dict | None = None):
        """Load a model folder. `grow`: config fields to change on top of the folder's (e.g.
        {"fine_cross": True}); parameters the grown model adds keep their fresh (zero-initialised)
        values, every parameter the folder holds must still fit."""
        folder = Path(folder)
        cfg_path, w_path = folder / "config.json", folder / "model.safetensors"
        for p in (cfg_path, w_path):
            if not p.is_file():
                raise FileNotFoundError(f"{p} not found: a model folder holds config.json and model.safetensors")
        d = json.loads(cfg_path.read_text())
        d.pop("class", None)
        model = cls(config_from_dict(cls.config_class, {**d, **(grow or {})}))
        state = load_file(str(w_path), device=str(device))
        own = model.state_dict()
        wrong = [f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items() if k in own and v.shape != own[k].shape]
        if wrong:
            raise ValueError(f"{w_path} does not fit the config {grow or {}} asks for: {wrong[:3]}")
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or (missing and not grow):
            raise ValueError(f"{w_path} does not match its config: missing {missing[:5]}, unexpected {unexpected[:5]}")
        return model.to(device).eval()

"""GenerationRequest -> Video. The only place that glues the models together.

A model folder holds `pipeline.json` (defaults and supported range), `vae/`
and `denoiser/` (each config.json + model.safetensors). The text encoder is
the frozen one from `models/text.py`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from kinetoscope import __version__, limits
from kinetoscope.diffusion import SAMPLERS, denoise, timesteps, token_shift
from kinetoscope.models import CausalVAE, DiT, load_autoencoder, load_denoiser
from kinetoscope.models.io import config_from_dict
from kinetoscope.models.experts import NoiseExperts, expert_folder, with_experts
from kinetoscope.progress import preview_hook
from kinetoscope.request import (BUILTIN_WEIGHTS, GenerationRequest, PipelineConfig, RequestError,  # noqa: F401
                                 _in_range, check_request)

# the request and its check live in kinetoscope/request.py (no torch), so that a command line can refuse a bad
# value before the model loads; they are named here too, where the rest of the code has always found them
__all__ = ["BUILTIN_WEIGHTS", "GenerationRequest", "Pipeline", "PipelineConfig", "RequestError", "Video", "recipe_hash"]


@dataclass
class Video:
    frames: np.ndarray  # (T, H, W, 3) uint8
    fps: int
    metadata: dict

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps


class Pipeline:
    def __init__(self, vae: CausalVAE, denoiser: DiT, config: PipelineConfig, text_encoder=None, folder: Path | None = None):
        self.vae, self.denoiser, self.config = vae.eval(), denoiser.eval(), config
        self._text = text_encoder
        self.folder = folder
        self._weights_hash: str | None = None

    # --- loading -----------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, folder: str | Path | None = None, text_encoder=None, fast: bool = False) -> "Pipeline":
        """`fast`: the folder's fast setting: its distilled denoiser (kinetoscope train --stage
        distill) with the steps and guidance it was distilled for, or, where the entry names no
        denoiser, the full one at the entry's steps (and guidance)."""
        folder = Path(folder) if folder else BUILTIN_WEIGHTS
        if not (folder / "pipeline.json").is_file():
            hint = (
                "No trained built-in weights are installed yet. Train them with `kinetoscope train` and "
                "`kinetoscope train export RUN --out DIR`, or pass `--weights DIR` pointing at a model folder."
                if folder == BUILTIN_WEIGHTS
                else "A model folder holds pipeline.json, vae/ and denoiser/."
            )
            raise FileNotFoundError(f"no model at {folder}: {hint}")
        cfg = config_from_dict(PipelineConfig, json.loads((folder / "pipeline.json").read_text()))
        vae = load_autoencoder(folder / "vae")
        if fast and not cfg.fast:
            raise FileNotFoundError(f"{folder} has no fast (distilled) denoiser: its pipeline.json has no \"fast\" entry")
        if fast and cfg.fast.get("denoiser"):
            den = load_denoiser(folder / cfg.fast["denoiser"])
        else:
            den = with_experts(load_denoiser(folder / "denoiser"), folder, cfg.experts)
        if fast:
            cfg = dataclasses.replace(cfg, name=f"{cfg.name}-fast", steps=int(cfg.fast["steps"]),
                                      guidance=float(cfg.fast.get("guidance", cfg.guidance)),
                                      guidance_floor=float(cfg.fast.get("guidance_floor", cfg.guidance_floor)), fast=None)
        return cls(vae, den, cfg, text_encoder=text_encoder, folder=folder)

    def save_pretrained(self, folder: str | Path) -> Path:
        folder = Path(folder)
        self.vae.save_pretrained(folder / "vae")
        if isinstance(self.denoiser, NoiseExperts):
            names = [e["denoiser"] for e in self.config.experts or []]
            entries = []
            for k, ((lo, hi), model) in enumerate(zip(self.denoiser.ranges, self.denoiser.experts)):
                entries.append({"denoiser": names[k] if k < len(names) else expert_folder(lo, hi), "from": lo, "below": hi})
                model.save_pretrained(folder / entries[-1]["denoiser"])
            self.denoiser.main.save_pretrained(folder / "denoiser")
            self.config = dataclasses.replace(self.config, experts=entries)
        else:
            self.denoiser.save_pretrained(folder / "denoiser")
        (folder / "pipeline.json").write_text(json.dumps(dataclasses.asdict(self.config), indent=2) + "\n")
        return folder

    @property
    def text_encoder(self):
        if self._text is None:
            from kinetoscope.models.text import text_encoder

            self._text = text_encoder(self.config.text, self.config.vocabulary, self.config.world)
        return self._text

    def unknown_words(self, *prompts: str) -> list[str]:
        """Words of the prompts that no training caption of this model used (none if it records no
        vocabulary): the model draws nothing reliable for them, so callers warn, naming them."""
        from kinetoscope.vocabulary import unknown_in

        return unknown_in(self.config.vocabulary, *prompts)

    @property
    def weights_hash(self) -> str:
        if self._weights_hash is None:
            h = hashlib.sha256()
            for m in (self.vae, self.denoiser):
                for k, v in sorted(m.state_dict().items()):
                    h.update(k.encode())
                    h.update(v.detach().cpu().contiguous().numpy().tobytes())
            self._weights_hash = h.hexdigest()
        return self._weights_hash

    # --- validation ----------------------------------------------------------------------------
    @property
    def size_multiple(self) -> int:
        """Widths and heights are multiples of this: one latent patch in pixels (at least limits.SIZE_MULTIPLE)."""
        return max(limits.SIZE_MULTIPLE, self.vae.config.space_factor * self.denoiser.config.patch[1])

    def resolve(self, req: GenerationRequest) -> GenerationRequest:
        """Fill defaults and check every field; raise RequestError naming the bad value."""
        return check_request(req, self.config, size_multiple=self.size_multiple,
                             time_factor=self.vae.config.time_factor, samplers=SAMPLERS)

    # --- generation ----------------------------------------------------------------------------
    def _given_latents(self, req: GenerationRequest, latent_t: int):
        if req.given_frames is None:
            return None, None
        k = self.vae.config.time_factor
        mask = list(req.given_mask)
        # latent frame 0 <-> frame 0; latent j <-> frames 4j-3 .. 4j: given only if all of them are
        lat_given = [mask[0]] + [all(mask[1 + k * (j - 1) : 1 + k * j]) for j in range(1, latent_t)]
        return self._encode(req.given_frames), torch.tensor([lat_given])

    def _encode(self, frames: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(frames).permute(3, 0, 1, 2)[None].float() / 127.5 - 1  # (1, 3, T, H, W)
        with torch.no_grad():
            return self.vae.encode(x)

    def generate(self, request: GenerationRequest, progress: Callable[[str, int, int], None] | None = None) -> Video:
        req = self.resolve(request)
        t0 = time.perf_counter()
        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        cond = self.text_encoder([req.prompt])
        uncond = self.text_encoder([req.negative_prompt]) if req.guidance != 1.0 else None
        shape = self.vae.latent_shape(req.frames, req.height, req.width)
        gen = torch.Generator().manual_seed(req.seed)
        noise = eps = torch.randn((1, *shape), generator=gen)
        given_z, given = self._given_latents(req, shape[1])
        release = None if given is None or req.given_release <= 0 else next_to_new(given)
        pt, ph, pw = self.denoiser.config.patch
        tokens = shape[1] // pt * shape[2] // ph * shape[3] // pw
        shift = self.config.shift or token_shift(tokens)
        t_start = 1.0
        if req.init_frames is not None and req.strength < 1.0:  # SDEdit: noise the input to the first step at or below strength
            ts = timesteps(req.steps, shift)
            t_start = float(ts[ts <= req.strength + 1e-6][0])
            noise = (1 - t_start) * self._encode(req.init_frames) + t_start * noise
        step_cb = (lambda i, n: progress("denoise", i, n)) if progress else None
        look = preview_hook(progress)  # previews of the clean estimate, decoded only when the hook asks
        look_cb = (lambda i, n, z0: look(i, n, lambda count: self.preview_frames(z0, count))) if look else None
        stats: dict = {}
        z = denoise(self.denoiser, noise, cond, uncond, steps=req.steps, guidance=req.guidance, guidance_floor=req.guidance_floor, shift=shift,
                    sampler=req.sampler, given_latents=given_z, given=given, t_start=t_start, release=release,
                    release_at=req.given_release, release_noise=eps, cache=req.step_cache,
                    progress=step_cb, preview=look_cb, stats=stats)
        with torch.no_grad():
            x = self.vae.decode(z)  # (1, 3, T, H, W)
        if progress:
            progress("decode", 1, 1)
        frames = ((x[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0).numpy()
        meta = {
            "generator": f"kinetoscope {__version__}",
            "model": self.config.name,
            "weights_sha256": self.weights_hash,
            "request": req.to_dict(),
            "seconds_to_generate": round(time.perf_counter() - t0, 3),
            "model_calls": stats.get("model_calls"),
        }
        return Video(frames=frames, fps=req.fps, metadata=meta)

    def preview_frames(self, z: torch.Tensor, count: int = 3) -> np.ndarray:
        """A cheap look at latents (1, C, T, h, w): `count` latent frames spread over the clip (one: the
        middle), each decoded alone (as a clip's first frame) -> (count, H, W, 3) uint8."""
        last = z.shape[2] - 1
        picks = sorted({round(j) for j in np.linspace(0, last, count)}) if count > 1 else [last // 2]
        with torch.no_grad():
            x = torch.cat([self.vae.decode(z[:, :, j : j + 1]) for j in picks], dim=2)  # (1, 3, count, H, W)
        return ((x[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0).numpy()


def next_to_new(given: torch.Tensor) -> torch.Tensor:
    """(B, T) bool: the given latent frames with a generated neighbour."""
    new = ~given
    near = torch.zeros_like(given)
    near[:, 1:] |= new[:, :-1]
    near[:, :-1] |= new[:, 1:]
    return given & near


def recipe_hash(request: dict) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()



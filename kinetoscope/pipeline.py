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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from kinetoscope import __version__, limits
from kinetoscope.diffusion import SAMPLERS, denoise, timesteps, token_shift
from kinetoscope.models import CausalVAE, DiT, load_denoiser
from kinetoscope.models.io import config_from_dict
from kinetoscope.models.experts import NoiseExperts, expert_folder, with_experts

BUILTIN_WEIGHTS = Path(__file__).parent / "weights" / "builtin"


class RequestError(ValueError):
    """A request a user can fix: the message names the value and the allowed range."""


@dataclass
class PipelineConfig:
    name: str = "kinetoscope-builtin"
    width: int = 64
    height: int = 64
    fps: int = 8
    seconds: float = 2.0
    min_size: int = 32
    max_size: int = 256
    max_frames: int = 257
    steps: int = 20
    guidance: float = 3.5
    sampler: str = "euler"
    step_cache: float = 0.0  # TeaCache-style step caching threshold; 0 keeps every model call
    shift: float | None = None  # None: from the token count
    threads: int | None = None
    # the "fast" setting, if the folder has one: {"denoiser": subfolder, "steps": n, "guidance": 1.0} for a
    # distilled denoiser, or {"steps": n, "guidance": g} for the full denoiser (and its experts) at fewer steps
    fast: dict | None = None
    # denoisers for parts of the noise levels, if the folder ships them: [{"denoiser": subfolder, "from": t0, "below": t1}]
    # (models/experts.py); denoiser/ takes the noise levels none of them covers
    experts: list | None = None


@dataclass
class GenerationRequest:
    prompt: str
    negative_prompt: str = ""
    width: int | None = None
    height: int | None = None
    seconds: float | None = None
    frames: int | None = None
    fps: int | None = None
    steps: int | None = None
    guidance: float | None = None
    seed: int = 0
    sampler: str | None = None
    given_frames: np.ndarray | None = field(default=None, repr=False)  # (T, H, W, 3) uint8, T = output frames
    given_mask: list[bool] | None = None  # per output frame: keep this frame as given
    init_frames: np.ndarray | None = field(default=None, repr=False)  # (T, H, W, 3) uint8: start from these (SDEdit)
    strength: float | None = None  # with init_frames: noise level to start from, 0 (keep them) to 1 (ignore them)
    step_cache: float | None = None  # skip model calls while latents change less than this (0: off)
    # given latent frames next to generated ones are held only while the noise level is at least this,
    # then denoised with the rest (0: held to the end); extend uses it so its overlap meets the new frames
    given_release: float = 0.0

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("given_frames")
        d.pop("init_frames")
        d["has_given_frames"] = self.given_frames is not None
        d["has_init_frames"] = self.init_frames is not None
        return d


@dataclass
class Video:
    frames: np.ndarray  # (T, H, W, 3) uint8
    fps: int
    metadata: dict

    @property
    def seconds(self) -> float:
        return len(self.frames) / self.fps


def _in_range(name, value, lo, hi):
    if not (lo <= value <= hi):
        raise RequestError(f"{name} {value} is out of range: allowed {lo} to {hi}")


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
        vae = CausalVAE.from_pretrained(folder / "vae")
        if fast and not cfg.fast:
            raise FileNotFoundError(f"{folder} has no fast (distilled) denoiser: its pipeline.json has no \"fast\" entry")
        if fast and cfg.fast.get("denoiser"):
            den = load_denoiser(folder / cfg.fast["denoiser"])
        else:
            den = with_experts(load_denoiser(folder / "denoiser"), folder, cfg.experts)
        if fast:
            cfg = dataclasses.replace(cfg, name=f"{cfg.name}-fast", steps=int(cfg.fast["steps"]),
                                      guidance=float(cfg.fast.get("guidance", cfg.guidance)), fast=None)
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
            from kinetoscope.models.text import default_text_encoder

            self._text = default_text_encoder()
        return self._text

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
    def resolve(self, req: GenerationRequest) -> GenerationRequest:
        """Fill defaults and check every field; raise RequestError naming the bad value."""
        c = self.config
        prompt = (req.prompt or "").strip()
        if not prompt:
            raise RequestError("prompt is empty: give 1 to 1000 characters describing the video")
        if len(prompt) > limits.PROMPT_MAX_CHARS:
            raise RequestError(f"prompt has {len(prompt)} characters: allowed 1 to {limits.PROMPT_MAX_CHARS}")
        if len(req.negative_prompt) > limits.PROMPT_MAX_CHARS:
            raise RequestError(f"negative prompt has {len(req.negative_prompt)} characters: allowed 0 to {limits.PROMPT_MAX_CHARS}")
        width, height = req.width or c.width, req.height or c.height
        m = max(limits.SIZE_MULTIPLE, self.vae.config.space_factor * self.denoiser.config.patch[1])
        for name, v in (("width", width), ("height", height)):
            if v % m or not (c.min_size <= v <= c.max_size):
                raise RequestError(f"{name} {v} is not allowed: use a multiple of {m} from {c.min_size} to {c.max_size}")
        fps = req.fps or c.fps
        _in_range("fps", fps, *limits.FPS)
        k = self.vae.config.time_factor
        if req.frames is not None:
            frames = req.frames
            if frames < 1 or (frames - 1) % k:
                raise RequestError(f"frames {frames} is not allowed: use 1+{k}k (1, {1 + k}, {1 + 2 * k}, ...) up to {c.max_frames}")
        else:
            seconds = c.seconds if req.seconds is None else req.seconds
            max_s = (c.max_frames - 1) / fps
            if not (0 <= seconds <= max_s):
                raise RequestError(f"seconds {seconds} is out of range: allowed 0 to {max_s:g} at {fps} fps")
            frames = 1 + k * round(seconds * fps / k)
        _in_range("frames", frames, 1, c.max_frames)
        steps = c.steps if req.steps is None else req.steps
        _in_range("steps", steps, *limits.STEPS)
        guidance = c.guidance if req.guidance is None else req.guidance
        _in_range("guidance", guidance, *limits.GUIDANCE)
        _in_range("seed", req.seed, *limits.SEED)
        step_cache = c.step_cache if req.step_cache is None else req.step_cache
        _in_range("step_cache", step_cache, *limits.STEP_CACHE)
        sampler = req.sampler or c.sampler
        if sampler not in SAMPLERS:
            raise RequestError(f"sampler {sampler!r} is not allowed: use one of {', '.join(SAMPLERS)}")
        if req.given_frames is not None:
            g = req.given_frames
            if g.shape != (frames, height, width, 3) or g.dtype != np.uint8:
                raise RequestError(f"given frames have shape {g.shape} {g.dtype}: need ({frames}, {height}, {width}, 3) uint8")
            if req.given_mask is None or len(req.given_mask) != frames:
                raise RequestError(f"given_mask must list {frames} booleans, one per frame")
        _in_range("given_release", req.given_release, *limits.GIVEN_RELEASE)
        strength = req.strength
        if req.init_frames is not None:
            g = req.init_frames
            if g.shape != (frames, height, width, 3) or g.dtype != np.uint8:
                raise RequestError(f"init frames have shape {g.shape} {g.dtype}: need ({frames}, {height}, {width}, 3) uint8")
            strength = 1.0 if strength is None else strength
            _in_range("strength", strength, *limits.STRENGTH)
        elif strength not in (None, 1.0):
            raise RequestError(f"strength {strength} needs init frames (a video to start from)")
        return dataclasses.replace(
            req, prompt=prompt, width=width, height=height, frames=frames, fps=fps, seconds=(frames - 1) / fps if frames > 1 else 0.0,
            steps=steps, guidance=guidance, sampler=sampler, strength=strength, step_cache=step_cache,
        )

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
        stats: dict = {}
        z = denoise(self.denoiser, noise, cond, uncond, steps=req.steps, guidance=req.guidance, shift=shift,
                    sampler=req.sampler, given_latents=given_z, given=given, t_start=t_start, release=release,
                    release_at=req.given_release, release_noise=eps, cache=req.step_cache,
                    progress=step_cb, stats=stats)
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


def next_to_new(given: torch.Tensor) -> torch.Tensor:
    """(B, T) bool: the given latent frames with a generated neighbour."""
    new = ~given
    near = torch.zeros_like(given)
    near[:, 1:] |= new[:, :-1]
    near[:, :-1] |= new[:, 1:]
    return given & near


def recipe_hash(request: dict) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()



"""What a user asks for, and the check of it: `GenerationRequest`, a model folder's `PipelineConfig`
and `check_request`, which fills defaults and refuses a bad value with a message naming it and the
allowed range.

No torch here (nor anything that imports it), so the command line can refuse a bad value in a
fraction of a second, before the model loads; `Pipeline.resolve` runs the same check with the
loaded model's figures (its size multiple and frame rule).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from kinetoscope import limits

BUILTIN_WEIGHTS = Path(__file__).parent / "weights" / "builtin"


class RequestError(ValueError):
    """A request a user can fix: the message names the value and the allowed range; `field` is the
    request field it is about (a `GenerationRequest` field name, or a task's option), where one is."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


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
    guidance_floor: float = 0.0  # below this noise level the conditional prediction alone (diffusion/samplers.denoise)
    sampler: str = "euler"
    step_cache: float = 0.0  # TeaCache-style step caching threshold; 0 keeps every model call
    shift: float | None = None  # None: from the token count
    threads: int | None = None
    # the "fast" setting, if the folder has one: {"denoiser": subfolder, "steps": n, "guidance": 1.0} for a
    # distilled denoiser, or {"steps": n, "guidance": g} for the full denoiser (and its experts) at fewer steps;
    # it may name its own "guidance_floor" (else the one above)
    fast: dict | None = None
    # denoisers for parts of the noise levels, if the folder ships them: [{"denoiser": subfolder, "from": t0, "below": t1}]
    # (models/experts.py); denoiser/ takes the noise levels none of them covers
    experts: list | None = None
    text: str = "minilm"  # the text encoder the denoiser was trained with (models/text.text_encoder)
    vocabulary: list | None = None  # the words the model was trained on, if it knows only those (a warning names others)
    world: dict | None = None  # the procedural world's vocabulary it was trained on (WorldConfig overrides), if narrowed
    # what the model was trained on, where it says (interfaces offer these and mark anything else as beyond it):
    trained_sizes: list | None = None  # ["WxH", ...]
    trained_seconds: float | None = None  # the longest clip it saw in training


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
    given_frames: np.ndarray | None = field(default=None, repr=False)  # noqa: F821 (T, H, W, 3) uint8, T = output frames
    given_mask: list[bool] | None = None  # per output frame: keep this frame as given
    init_frames: np.ndarray | None = field(default=None, repr=False)  # noqa: F821 (T, H, W, 3) uint8: start from these (SDEdit)
    strength: float | None = None  # with init_frames: noise level to start from, 0 (keep them) to 1 (ignore them)
    step_cache: float | None = None  # skip model calls while latents change less than this (0: off)
    guidance_floor: float | None = None  # below this noise level, the conditional prediction alone (0: guided to the end)
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


def new_seed() -> int:
    """The seed a request gets when it names none (the command line and the studio alike): a fresh
    one each time, reported with the video so that it can be made again."""
    return secrets.randbelow(2**31)


def read_config(folder: str | Path | None = None) -> PipelineConfig | None:
    """A model folder's pipeline.json (the built-in model's when None), or None where there is none."""
    path = Path(folder or BUILTIN_WEIGHTS) / "pipeline.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    names = {f.name for f in dataclasses.fields(PipelineConfig)}
    return PipelineConfig(**{k: v for k, v in data.items() if k in names}) if isinstance(data, dict) else None


def _in_range(name, value, lo, hi):
    if not (lo <= value <= hi):
        raise RequestError(f"{name} {value} is out of range: allowed {lo} to {hi}", name)


def check_request(req: GenerationRequest, c: PipelineConfig, size_multiple: int = limits.SIZE_MULTIPLE,
                  time_factor: int | None = None, samplers: tuple[str, ...] | None = None) -> GenerationRequest:
    """Fill defaults from `c` and check every field; raise RequestError naming the bad value.

    `size_multiple`, `time_factor` (frames are 1 + time_factor * k) and `samplers` come from the
    loaded model; without it (time_factor, samplers None) those checks are left to the full one."""
    prompt = (req.prompt or "").strip()
    if not prompt:
        raise RequestError("prompt is empty: give 1 to 1000 characters describing the video", "prompt")
    if len(prompt) > limits.PROMPT_MAX_CHARS:
        raise RequestError(f"prompt has {len(prompt)} characters: allowed 1 to {limits.PROMPT_MAX_CHARS}", "prompt")
    if len(req.negative_prompt) > limits.PROMPT_MAX_CHARS:
        raise RequestError(f"negative prompt has {len(req.negative_prompt)} characters: allowed 0 to {limits.PROMPT_MAX_CHARS}",
                           "negative_prompt")
    width = c.width if req.width is None else req.width
    height = c.height if req.height is None else req.height
    m = size_multiple
    for name, v in (("width", width), ("height", height)):
        if v % m or not (c.min_size <= v <= c.max_size):
            raise RequestError(f"{name} {v} is not allowed: use a multiple of {m} from {c.min_size} to {c.max_size}", name)
    fps = c.fps if req.fps is None else req.fps
    _in_range("fps", fps, *limits.FPS)
    k = time_factor
    if req.frames is not None:
        frames = req.frames
        if frames < 1 or (k and (frames - 1) % k):
            rule = f"1+{k}k (1, {1 + k}, {1 + 2 * k}, ...)" if k else "1 or more"
            raise RequestError(f"frames {frames} is not allowed: use {rule} up to {c.max_frames}", "frames")
    else:
        seconds = c.seconds if req.seconds is None else req.seconds
        max_s = (c.max_frames - 1) / fps
        if not (0 <= seconds <= max_s):
            raise RequestError(f"seconds {seconds} is out of range: allowed 0 to {max_s:g} at {fps} fps", "seconds")
        step = k or 1
        frames = 1 + step * round(seconds * fps / step)
    _in_range("frames", frames, 1, c.max_frames)
    steps = c.steps if req.steps is None else req.steps
    _in_range("steps", steps, *limits.STEPS)
    guidance = c.guidance if req.guidance is None else req.guidance
    _in_range("guidance", guidance, *limits.GUIDANCE)
    _in_range("seed", req.seed, *limits.SEED)
    step_cache = c.step_cache if req.step_cache is None else req.step_cache
    _in_range("step_cache", step_cache, *limits.STEP_CACHE)
    guidance_floor = c.guidance_floor if req.guidance_floor is None else req.guidance_floor
    _in_range("guidance_floor", guidance_floor, *limits.GUIDANCE_FLOOR)
    sampler = req.sampler or c.sampler
    if samplers is not None and sampler not in samplers:
        raise RequestError(f"sampler {sampler!r} is not allowed: use one of {', '.join(samplers)}", "sampler")
    for name, g in (("given", req.given_frames), ("init", req.init_frames)):
        if g is not None and (tuple(g.shape) != (frames, height, width, 3) or str(g.dtype) != "uint8"):
            raise RequestError(f"{name} frames have shape {tuple(g.shape)} {g.dtype}: need ({frames}, {height}, {width}, 3) uint8",
                               f"{name}_frames")
    if req.given_frames is not None and (req.given_mask is None or len(req.given_mask) != frames):
        raise RequestError(f"given_mask must list {frames} booleans, one per frame", "given_mask")
    _in_range("given_release", req.given_release, *limits.GIVEN_RELEASE)
    strength = req.strength
    if req.init_frames is not None:
        strength = 1.0 if strength is None else strength
        _in_range("strength", strength, *limits.STRENGTH)
    elif strength not in (None, 1.0):
        raise RequestError(f"strength {strength} needs init frames (a video to start from)", "strength")
    return dataclasses.replace(
        req, prompt=prompt, width=width, height=height, frames=frames, fps=fps, seconds=(frames - 1) / fps if frames > 1 else 0.0,
        steps=steps, guidance=guidance, sampler=sampler, strength=strength, step_cache=step_cache,
        guidance_floor=guidance_floor,
    )

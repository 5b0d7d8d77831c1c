"""The diffusers engine: open-weight video models (Wan 2.x, LTX-Video, CogVideoX, HunyuanVideo) from a local folder.

    load_engine("diffusers:/models/Wan2.1-T2V-1.3B-Diffusers")
    load_engine("diffusers:/models/HunyuanVideo?dtype=bf16&offload=model&tiling=1")

The folder is a diffusers model folder (model_index.json + one subfolder per component), as
written by `save_pretrained` or downloaded ahead of time; nothing is fetched at run time. The
pipeline class comes from model_index.json; `families.py` says what each family can do and how
our request maps onto it. diffusers is imported lazily: `pip install kinetoscope[engines]`.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kinetoscope import __version__, limits
from kinetoscope.engines import families
from kinetoscope.engines.base import Capabilities, Progress, task_of
from kinetoscope.pipeline import GenerationRequest, RequestError, Video, _in_range

INSTALL_HINT = "the diffusers engine needs extra packages: pip install kinetoscope[engines]"
DTYPES = {"bf16": "bfloat16", "bfloat16": "bfloat16", "fp16": "float16", "float16": "float16",
          "fp32": "float32", "float32": "float32"}
OFFLOAD = ("none", "model", "sequential")
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass
class DiffusersOptions:
    """Memory and speed settings; each can come from the spec string (`?dtype=bf16&offload=model`)."""

    dtype: str | None = None  # bf16 | fp16 | fp32 (default: bf16 on an accelerator, fp32 on CPU)
    device: str | None = None  # cuda | cuda:1 | mps | cpu (default: cuda when available, else cpu)
    offload: str = "none"  # none | model (whole models to the GPU in turn) | sequential (layer by layer: least memory)
    tiling: bool | None = None  # VAE tiled decode (default: on for CogVideoX and HunyuanVideo on a GPU)
    slicing: bool = False  # VAE decodes one video of a batch at a time
    attention: str | None = None  # diffusers attention backend: native, flash, sage, _native_cudnn, ...
    true_cfg: float | None = None  # HunyuanVideo only: real CFG scale used when a negative prompt is given

    @classmethod
    def from_dict(cls, values: dict) -> "DiffusersOptions":
        fields = {f.name: f for f in dataclasses.fields(cls)}
        out = {}
        for key, value in values.items():
            if key not in fields:
                raise ValueError(f"engine option {key!r} is not known: use {', '.join(fields)}")
            out[key] = _parse(key, value)
        return cls(**out)


def _parse(key: str, value):
    if not isinstance(value, str):
        return value
    if key in ("tiling", "slicing"):
        if value.lower() not in TRUE_WORDS + FALSE_WORDS:
            raise ValueError(f"engine option {key}={value!r} is not a yes/no value: use 1 or 0")
        return value.lower() in TRUE_WORDS
    if key == "true_cfg":
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"engine option true_cfg={value!r} is not a number, e.g. 6") from None
    return value


def _import_diffusers():
    try:
        import accelerate  # noqa: F401  (diffusers needs it to load Wan and to offload)
        import diffusers
        import transformers
        from diffusers.utils import logging
    except ImportError as e:
        raise ImportError(f"{INSTALL_HINT} ({e})") from None
    for log in (logging, transformers.utils.logging):  # our progress callback reports steps; keep stderr quiet
        log.set_verbosity_error()
        log.disable_progress_bar()
    return diffusers


def read_model_index(folder: str | Path) -> dict:
    """The folder's model_index.json; says which pipeline class runs it."""
    index = Path(folder) / "model_index.json"
    if not index.is_file():
        raise FileNotFoundError(f"no diffusers model at {folder}: a model folder holds model_index.json "
                                f"and one subfolder per component (download it first, e.g. with `hf download`)")
    info = json.loads(index.read_text())
    cls = info.get("_class_name")
    if cls not in families.PIPELINES:
        raise ValueError(f"model folder {folder} has pipeline class {cls!r}: the diffusers engine supports "
                         f"{', '.join(families.PIPELINES)}")
    return info


class DiffusersEngine:
    def __init__(self, pipe, folder: Path, options: DiffusersOptions | None = None, name: str | None = None):
        self.pipe, self.folder = pipe, Path(folder)
        self.options = options or DiffusersOptions()
        self.name = name or self.folder.name
        self.family = families.for_pipeline(pipe)
        self.tasks = families.tasks(pipe)
        self.k, self.multiple = families.frame_step(pipe), families.size_multiple(pipe, self.family)
        self.scheduler = type(pipe.scheduler).__name__
        self._variants = {type(pipe).__name__: pipe}
        self._lock = threading.Lock()  # a diffusers pipeline keeps per-call state (its scheduler): one call at a time

    # --- loading -----------------------------------------------------------------------------
    @classmethod
    def from_folder(cls, folder: str | Path, name: str | None = None,
                    options: DiffusersOptions | dict | None = None, **kw) -> "DiffusersEngine":
        if not isinstance(options, DiffusersOptions):
            options = DiffusersOptions.from_dict({**(options or {}), **kw})
        folder = Path(folder).expanduser()
        info = read_model_index(folder)
        diffusers = _import_diffusers()
        import torch

        device = options.device or ("cuda" if torch.cuda.is_available() else "cpu")
        accel = not device.startswith("cpu")
        dtype_name = options.dtype or ("bf16" if accel else "fp32")
        if dtype_name not in DTYPES:
            raise ValueError(f"engine option dtype={dtype_name!r} is not known: use bf16, fp16 or fp32")
        if options.offload not in OFFLOAD:
            raise ValueError(f"engine option offload={options.offload!r} is not known: use {', '.join(OFFLOAD)}")
        if options.offload != "none" and not accel:
            raise ValueError(f"engine option offload={options.offload} moves models to an accelerator and back: "
                             f"device is {device}; drop offload or run on a GPU")
        if options.attention:  # checked before the (possibly many GB of) weights load
            from diffusers.models.attention_dispatch import AttentionBackendName

            allowed = [b.value for b in AttentionBackendName]
            if options.attention not in allowed:
                raise ValueError(f"engine option attention={options.attention!r} is not known: use one of {', '.join(allowed)}")
        dtype = getattr(torch, DTYPES[dtype_name])
        fam = families.FAMILIES[families.PIPELINES[info["_class_name"]][0]]
        if fam.vae_fp32 and dtype != torch.float32:  # Wan's VAE and CLIP image encoder lose detail in 16 bits
            dtype = {"default": dtype, "vae": torch.float32, "image_encoder": torch.float32}
        pipe = getattr(diffusers, info["_class_name"]).from_pretrained(folder, dtype=dtype, local_files_only=True)
        options = dataclasses.replace(options, device=device, dtype=dtype_name)
        engine = cls(pipe, folder, options, name=name)
        engine._place(pipe)
        return engine

    def _place(self, pipe) -> None:
        """Device, offload, VAE tiling/slicing and attention backend for one pipeline object."""
        o = self.options
        pipe.set_progress_bar_config(disable=True)
        if o.offload == "model":
            pipe.enable_model_cpu_offload(device=o.device)
        elif o.offload == "sequential":
            pipe.enable_sequential_cpu_offload(device=o.device)
        else:
            pipe.to(o.device)
        tiling = o.tiling if o.tiling is not None else (self.family.gpu_tiling and not o.device.startswith("cpu"))
        if tiling:
            pipe.vae.enable_tiling()
        if o.slicing:
            pipe.vae.enable_slicing()
        if o.attention:
            for t in (getattr(pipe, "transformer", None), getattr(pipe, "transformer_2", None)):
                if t is not None:
                    try:
                        t.set_attention_backend(o.attention)
                    except (ImportError, RuntimeError, ValueError) as e:
                        raise ValueError(f"attention backend {o.attention!r} cannot run here: {e}") from None

    def _pipeline_for(self, task: str):
        """The folder's own pipeline, or a sibling class sharing its components (LTX t2v <-> i2v)."""
        fam = self.family
        cls_name = fam.i2v_class if task in ("i2v", "interpolate") else fam.t2v_class
        if cls_name not in self._variants:
            diffusers = _import_diffusers()
            pipe = getattr(diffusers, cls_name).from_pipe(self.pipe)
            self._place(pipe)
            self._variants[cls_name] = pipe
        return self._variants[cls_name]

    # --- the protocol ----------------------------------------------------------------------------
    @property
    def capabilities(self) -> Capabilities:
        f = self.family
        return Capabilities(
            tasks=self.tasks, width=f.width, height=f.height, seconds=(f.frames - 1) / f.fps, fps=f.fps,
            min_size=f.min_multiple if not f.fixed_size else min(f.width, f.height),
            max_size=f.max_size if not f.fixed_size else max(f.width, f.height),
            size_multiple=self.multiple, max_frames=f.max_frames,
            trained_sizes=families.trained_sizes(f), trained_seconds=(f.max_frames - 1) / f.fps,
            beyond="refuse" if f.fixed_size else "warn",
            extra={"engine": "diffusers", "family": f.name, "pipeline": type(self.pipe).__name__,
                   "frame_rule": f"1+{self.k}k", "frames": f.frames, "steps": f.steps, "guidance": f.guidance,
                   "fixed_size": f.fixed_size, "scheduler": self.scheduler, "folder": str(self.folder),
                   "dtype": self.options.dtype, "device": self.options.device, "offload": self.options.offload},
        )

    def resolve(self, request: GenerationRequest) -> GenerationRequest:
        """Fill this model's defaults and check every field; raise RequestError naming the bad value.
        A task the model cannot do is refused here when the request carries its given frames, and
        in `generate` otherwise (so an image can be attached to a resolved request)."""
        f, k, m = self.family, self.k, self.multiple
        prompt = (request.prompt or "").strip()
        if not prompt:
            raise RequestError(f"prompt is empty: give 1 to {limits.PROMPT_MAX_CHARS} characters describing the video", "prompt")
        for label, text in (("prompt", prompt), ("negative prompt", request.negative_prompt)):
            if len(text) > limits.PROMPT_MAX_CHARS:
                raise RequestError(f"{label} has {len(text)} characters: allowed up to {limits.PROMPT_MAX_CHARS}",
                                   label.replace(" ", "_"))
        width, height = request.width or f.width, request.height or f.height
        if f.fixed_size and (width, height) != (f.width, f.height):
            raise RequestError(f"size {width}x{height} is not allowed: {self.name} only makes {f.width}x{f.height} "
                               f"(learned positional embeddings)", "width")
        for label, v in (("width", width), ("height", height)):
            if v % m or not (m <= v <= f.max_size):
                raise RequestError(f"{label} {v} is not allowed: use a multiple of {m} from {m} to {f.max_size}", label)
        fps = request.fps or f.fps
        _in_range("fps", fps, *limits.FPS)
        if request.frames is not None:
            frames = request.frames
            if frames < 1 or (frames - 1) % k:
                raise RequestError(f"frames {frames} is not allowed: {self.name} ({f.name}) makes 1+{k}k frames "
                                   f"(1, {1 + k}, {1 + 2 * k}, ...) up to {f.max_frames}", "frames")
        else:
            seconds = (f.frames - 1) / f.fps if request.seconds is None else request.seconds
            max_s = (f.max_frames - 1) / fps
            if not (0 <= seconds <= max_s):
                raise RequestError(f"seconds {seconds} is out of range: allowed 0 to {max_s:g} at {fps} fps "
                                   f"({f.max_frames} frames)", "seconds")
            frames = 1 + k * round(seconds * fps / k)
        _in_range("frames", frames, 1, f.max_frames)
        steps = f.steps if request.steps is None else request.steps
        _in_range("steps", steps, *limits.STEPS)
        guidance = f.guidance if request.guidance is None else request.guidance
        _in_range("guidance", guidance, *limits.GUIDANCE)
        _in_range("seed", request.seed, *limits.SEED)
        if request.sampler not in (None, self.scheduler):
            raise RequestError(f"sampler {request.sampler!r} is not available: {self.name} samples with its "
                               f"scheduler {self.scheduler} (set by the model folder)", "sampler")
        if f.name == "hunyuan" and request.negative_prompt and not (self.options.true_cfg or 0) > 1:
            raise RequestError(f"negative prompt needs true guidance on {self.name}: HunyuanVideo is guidance-distilled; "
                               f"configure the engine with true_cfg (e.g. ?true_cfg=6, twice the time) or drop it",
                               "negative_prompt")
        if request.given_frames is not None:
            g = request.given_frames
            if g.shape != (frames, height, width, 3) or g.dtype != np.uint8:
                raise RequestError(f"given frames have shape {g.shape} {g.dtype}: need ({frames}, {height}, {width}, 3) uint8",
                                   "given_frames")
            if request.given_mask is None or len(request.given_mask) != frames:
                raise RequestError(f"given_mask must list {frames} booleans, one per frame", "given_mask")
        req = dataclasses.replace(
            request, prompt=prompt, width=width, height=height, frames=frames, fps=fps,
            seconds=(frames - 1) / fps if frames > 1 else 0.0, steps=steps, guidance=guidance, sampler=self.scheduler)
        if req.given_frames is not None or req.frames == 1:
            self.check_task(req)
        return req

    def check_task(self, request: GenerationRequest) -> str:
        task = task_of(request)
        if task not in self.tasks:
            raise RequestError(f"task {task!r} is not supported by {self.name} ({type(self.pipe).__name__}): "
                               f"it supports {', '.join(self.tasks)}")
        return task

    def generate(self, request: GenerationRequest, progress: Progress | None = None) -> Video:
        import torch

        req = self.resolve(request)
        task = self.check_task(req)
        with self._lock:
            pipe = self._pipeline_for(task)
        kwargs = families.call_kwargs(pipe, self.family, req, task, self.options.true_cfg)
        if progress:
            def on_step(p, i, t, tensors):
                progress("denoise", i + 1, p.num_timesteps)  # may raise Cancelled: stops between steps
                return {}

            kwargs["callback_on_step_end"] = on_step
        t0 = time.perf_counter()
        with self._lock:
            out = pipe(**kwargs, generator=torch.Generator("cpu").manual_seed(req.seed), output_type="np")
        if progress:
            progress("decode", 1, 1)
        frames = (np.clip(out.frames[0], 0, 1) * 255).round().astype(np.uint8)  # (T, H, W, 3)
        meta = {
            "generator": f"kinetoscope {__version__}",
            "engine": "diffusers",
            "model": self.name,
            "family": self.family.name,
            "pipeline": type(pipe).__name__,
            "model_folder": self.folder.name,
            "scheduler": self.scheduler,
            "dtype": self.options.dtype,
            "device": self.options.device,
            "task": task,
            "request": req.to_dict(),
            "seconds_to_generate": round(time.perf_counter() - t0, 3),
        }
        return Video(frames=frames, fps=req.fps, metadata=meta)

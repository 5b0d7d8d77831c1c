"""Training configuration: one dataclass, loadable from YAML, overridable as key=value."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

TEXT_ENCODERS = ("minilm", "words", "concepts")  # models/text.py text_encoder


@dataclass
class TrainConfig:
    stage: str = "denoiser"  # "vae" (stage 1), "denoiser" (stage 2, on frozen-VAE latents) or "distill" (fewer steps)
    run_dir: str = "runs/default"
    data: str = "world"  # "world" (procedural) or a folder with manifest.jsonl/csv
    width: int = 64
    height: int = 64
    frames: int = 17
    crop: int = 0  # VAE stage: random square crops of this size (0: whole frames)
    image_prob: float = 0.1  # fraction of 1-frame samples (images train jointly with clips)
    max_objects: int = 1
    backgrounds: tuple[str, ...] = ("plain",)
    camera_prob: float = 0.0
    world: dict = field(default_factory=dict)  # WorldConfig overrides: the vocabulary (colours, shapes, motions,
    # speeds, sizes, background_colours) the world draws from
    captions: str = "random"  # random: a fresh phrasing per sample; canonical: one fixed sentence per scene
    text: str = "minilm"  # denoiser stage: minilm (the frozen sentence encoder), words (a fixed vector per word)
    # or concepts (a fixed vector per world concept the words name, data/lexicon.py)
    batch_size: int = 32  # global batch: split across torchrun processes
    steps: int = 3000
    lr: float = 1e-3
    warmup: int = 200
    schedule: str = "constant"  # constant | cosine (both after linear warmup)
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema: float = 0.999
    caption_dropout: float = 0.1
    shift: float = 0.0  # denoiser stage: timestep shift of the training noise levels (0: from the token count);
    # larger puts more samples near pure noise, where only the caption can say what the video shows
    t_range: tuple[float, float] = (0.0, 1.0)  # denoiser stage: noise levels scaled into [from, below): an expert for
    # that range (models/experts.py; `kinetoscope train export RUN --expert-into MODEL`)
    loss_weight_cap: float = 0.0  # denoiser stage: cap the 1/t^2 weight of an x0 model's velocity loss (0: off)
    given_prob: float = 0.0  # denoiser stage: fraction of samples with random conditioning frames
    kl_weight: float = 1e-6
    temporal_weight: float = 0.0  # VAE stage: a loss between the reconstruction's and the clip's frame-to-frame
    # differences, so the decoder does not jump where one latent chunk hands over to the next
    temporal_loss: str = "l1"  # l1 | l2: l1 drives an uncertain difference to zero (hold still, then jump);
    # l2 to its mean (keep moving)
    teacher: str = ""  # distill stage: the teacher's denoiser folder (the student starts from it)
    teacher_steps: int = 20  # distill stage: the teacher's steps; the student learns to take half as many
    teacher_guidance: float = 3.5  # distill stage: the teacher's guidance, folded into the student (which runs at 1)
    init_from: str = ""  # start from this model folder's weights (fine-tuning)
    freeze_encoder: bool = False  # VAE stage: train the decoder only, so latents (and a denoiser on them) stay valid
    vae_sample: bool = False  # decode a sampled latent (True) or the mean; sampling slowed learning ~10x here
    seed: int = 0
    precision: str = "auto"  # auto | fp32 | bf16; auto: bf16 only where measured finite and faster (hardware.precision)
    threads: int = 0  # 0: all cores (split across local processes)
    vae: str = ""  # denoiser stage: folder of the frozen autoencoder
    latent_pool: int = 0  # denoiser stage: encode this many clips once and train on them (0: encode each batch)
    log_every: int = 10
    sample_every: int = 500
    eval_every: int = 250
    checkpoint_minutes: float = 10.0
    checkpoint_every: int = 0  # also every N steps (0: off)
    max_minutes: float = 0.0  # stop (with a checkpoint) after this long; 0: no limit
    vae_model: dict = field(default_factory=dict)  # AutoencoderConfig overrides
    backbone: str = "dit"  # denoiser backbone: dit | unet (same interface)
    dit_model: dict = field(default_factory=dict)  # TransformerConfig overrides
    unet_model: dict = field(default_factory=dict)  # UNetConfig overrides
    sample_prompts: tuple[str, ...] = (
        "a red circle moving right on a blue background",
        "a large yellow star falling on a black background",
        "a green square moving up on a white background",
        "a small purple triangle moving left on a gray background",
    )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _coerce(name: str, current, text: str):
    """`text` as the type of the option's current value (a command-line override, or a number
    YAML left as a string)."""
    if isinstance(current, bool):
        return text.lower() in ("1", "true", "yes", "on")
    if isinstance(current, (int, float)):
        try:
            return type(current)(text)
        except ValueError:
            kind = "a whole number" if isinstance(current, int) else "a number"
            raise ValueError(f"{name} {text!r} is not {kind}") from None
    if isinstance(current, (tuple, list, dict)):
        v = yaml.safe_load(text)
        return tuple(v) if isinstance(current, tuple) else v
    return text


# What a run adds to the config.json it writes (not options): ignored when that file is read back,
# so `--config RUN/config.json --resume` continues a run from its own record.
RUN_RECORD = ("git_commit", "world_size", "precision_used", "precision_reason", "threads_used")


# Options since removed (experiments the built-in recipe does not use) and the value that switched each
# off (None: a setting of another option). A run's record (config.json, a checkpoint) that has them off
# reads as before; one that used them cannot be continued or exported by this version, and says so.
REMOVED = {"high_noise_prob": 0.0, "high_noise_from": None, "frame_noise_prob": 0.0,
           "motion_contrast": 0.0, "motion_margin": None, "motion_contrast_from": None}


def without_removed(values: dict) -> dict:
    """`values` (a run's recorded options) less the REMOVED ones, which must be off."""
    used = [k for k, off in REMOVED.items() if off is not None and k in values and values[k] != off]
    if used:
        raise ValueError(f"this run used {', '.join(f'{k}={values[k]}' for k in used)}: "
                         f"{'an option' if len(used) == 1 else 'options'} removed from this version of kinetoscope "
                         f"(CHANGELOG.md names the last commit that had it)")
    return {k: v for k, v in values.items() if k not in REMOVED}


def load_config(path: str | None = None, overrides: list[str] = (), base: dict | None = None) -> TrainConfig:
    """YAML (or a run's config.json) file (optional), then key=value overrides from the command line."""
    cfg = TrainConfig()
    values = dict(base or {})
    if path:
        record = without_removed(yaml.safe_load(Path(path).read_text()) or {})
        values.update({k: v for k, v in record.items() if k not in RUN_RECORD})
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    for k, v in values.items():
        if k not in names:
            raise ValueError(f"unknown training option {k!r}; known: {', '.join(sorted(names))}")
        current = getattr(cfg, k)
        if isinstance(v, str) and isinstance(current, (int, float)):  # YAML reads 1e-4 (no dot) as a string
            v = _coerce(k, current, v)
        setattr(cfg, k, tuple(v) if isinstance(current, tuple) else v)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not key=value")
        k, v = item.split("=", 1)
        if k not in names:
            raise ValueError(f"unknown training option {k!r}; known: {', '.join(sorted(names))}")
        setattr(cfg, k, _coerce(k, getattr(cfg, k), v))
    if cfg.stage not in ("vae", "denoiser", "distill"):
        raise ValueError(f"stage {cfg.stage!r} is not one of vae, denoiser, distill")
    rng = tuple(cfg.t_range)
    if len(rng) != 2 or not all(isinstance(v, (int, float)) for v in rng) or not 0 <= rng[0] < rng[1] <= 1:
        raise ValueError(f"t_range {list(rng)} is out of range: need [from, below] with 0 <= from < below <= 1")
    cfg.t_range = (float(rng[0]), float(rng[1]))
    if cfg.captions not in ("random", "canonical"):
        raise ValueError(f"captions {cfg.captions!r} is not one of random, canonical")
    if cfg.text not in TEXT_ENCODERS:
        raise ValueError(f"text {cfg.text!r} is not one of {', '.join(TEXT_ENCODERS)}")
    if cfg.temporal_loss not in ("l1", "l2"):
        raise ValueError(f"temporal_loss {cfg.temporal_loss!r} is not one of l1, l2")
    if cfg.stage == "distill" and not cfg.teacher:
        raise ValueError("stage distill needs teacher=FOLDER (the denoiser folder to distil)")
    return cfg


def save_config(cfg: TrainConfig, path: Path, extra: dict | None = None) -> None:
    path.write_text(json.dumps({**cfg.to_dict(), **(extra or {})}, indent=2, default=list) + "\n")

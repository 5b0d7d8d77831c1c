"""Turn a run folder into a model folder: EMA weights only, no optimiser state."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import torch

from kinetoscope.diffusion.distill import student_setting
from kinetoscope.models import PIXELS, AutoencoderConfig, CausalVAE, load_autoencoder, load_denoiser
from kinetoscope.models.io import config_from_dict
from kinetoscope.train import checkpoint as ckpt
from kinetoscope.train.config import TrainConfig, without_removed
from kinetoscope.train.data import FIXED_BATCH


@torch.no_grad()
def latent_stats(vae: CausalVAE, cfg: TrainConfig, n: int = 64) -> tuple[float, float]:
    from kinetoscope.train.data import FIXED_BATCH, world_batch

    video, _ = world_batch(cfg, FIXED_BATCH + 1, range(n))
    mean, _ = vae.encode_moments(video)
    return float(mean.mean()), float(mean.std())


def same_encoder(a: CausalVAE, b: CausalVAE) -> bool:
    sa, sb = a.encoder.state_dict(), b.encoder.state_dict()
    same_norm = (a.config.scaling_factor, a.config.shift_factor) == (b.config.scaling_factor, b.config.shift_factor)
    return same_norm and sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def training_vocabulary(cfg: TrainConfig, n: int = 4000) -> list[str]:
    """The words of the captions a run trains on (n scenes of its world captioned its way, and as
    many images where it trains on images), sorted: what the model can have learned to read."""
    from kinetoscope.train.data import clip_caption, world_clips
    from kinetoscope.vocabulary import words_of

    words: set[str] = set()
    for frames in (2, 1) if cfg.image_prob > 0 else (2,):
        for clip in world_clips(cfg, FIXED_BATCH + 2, range(n), frames=frames):
            words.update(words_of(clip_caption(cfg, clip)))
    return sorted(words)


def load_run(run: Path) -> tuple[dict, TrainConfig, dict]:
    """A run folder's checkpoint, its config, and the training.json record shipped with its weights."""
    state = ckpt.load(run)
    cfg = TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in without_removed(state["config"]).items()})
    training = {"run": str(run), "stage": cfg.stage, "steps": state["step"], "train_seconds": round(state["elapsed"], 1),
                "config": state["config"]}
    return state, cfg, training


def distilled_student(cfg: TrainConfig, state: dict):
    """A distill run's EMA student, in its teacher's architecture."""
    from kinetoscope.train.loop import teacher_folder

    student = load_denoiser(teacher_folder(cfg.teacher))
    student.load_state_dict(state["ema"])
    return student


def trained_denoiser(cfg: TrainConfig, state: dict):
    """A denoiser run's EMA weights in the architecture the run trained: the one its checkpoint records
    (an `init_from` model's config grown by the run's overrides), or for checkpoints written before
    they recorded it, the one `build_model` makes from the run's config."""
    from kinetoscope.models import denoiser_from_config
    from kinetoscope.train.loop import build_model

    den = denoiser_from_config(state["model_config"]) if "model_config" in state else build_model(cfg)
    den.load_state_dict(state["ema"])
    return den


def export(run: str | Path, out: str | Path, vae: str | Path | None = None) -> Path:
    """`vae`: ship this autoencoder instead of the one the denoiser trained on; it must have the
    same encoder (e.g. a decoder fine-tuned with freeze_encoder=true), so the latents still match."""
    run, out, vae_path = Path(run), Path(out), vae
    state, cfg, training = load_run(run)
    if cfg.stage == "vae":
        if cfg.init_from:  # fine-tuned: the starting model's latent normalisation, grown as the run grew it
            from kinetoscope.train.loop import model_overrides

            vae = CausalVAE.from_pretrained(cfg.init_from, grow=model_overrides(cfg))
        else:
            vae = CausalVAE(config_from_dict(AutoencoderConfig, cfg.vae_model))
        vae.load_state_dict(state["ema"])
        if not cfg.freeze_encoder:  # a frozen encoder keeps its latent statistics (and the denoiser's inputs)
            shift, std = latent_stats(vae.eval(), cfg)
            vae.config.shift_factor, vae.config.scaling_factor = shift, 1.0 / std
        vae.save_pretrained(out)
    else:
        from kinetoscope.pipeline import Pipeline, PipelineConfig

        vae = load_autoencoder(cfg.vae)
        if vae_override := vae_path:
            other = CausalVAE.from_pretrained(vae_override)
            if not same_encoder(vae, other):
                raise ValueError(f"{vae_override} has a different encoder from {cfg.vae}: its latents do not match the denoiser's")
            vae = other
        seconds = (cfg.frames - 1) / 8
        world = {**cfg.world, "max_objects": cfg.max_objects} if cfg.world else None
        pcfg = PipelineConfig(width=cfg.width, height=cfg.height, seconds=seconds, fps=8, text=cfg.text,
                              shift=cfg.shift or None, world=world, vocabulary=training_vocabulary(cfg),
                              trained_sizes=[f"{cfg.width}x{cfg.height}"], trained_seconds=cfg.frames / 8)  # clips of 16 frames: 2 s
        if cfg.stage == "distill":  # sample as it was taught: half the teacher's steps, guidance folded in
            dit = distilled_student(cfg, state)
            pcfg = dataclasses.replace(pcfg, **student_setting(cfg.teacher_steps))
        else:
            dit = trained_denoiser(cfg, state)
        Pipeline(vae, dit, pcfg, folder=out).save_pretrained(out)
        vae_training = Path(vae_path or cfg.vae) / "training.json"
        if cfg.vae != PIXELS and vae_training.is_file():
            shutil.copy(vae_training, out / "vae" / "training.json")
    (out / "training.json").write_text(json.dumps(training, indent=2, default=list) + "\n")
    return out


FAST_FOLDER = "denoiser-fast"


def attach_fast(run: str | Path, model: str | Path) -> Path:
    """Add a distill run's student to an existing model folder as its fast setting: the weights
    in MODEL/denoiser-fast/ (with the run's training.json) and a "fast" entry in pipeline.json
    naming them and the steps and guidance they were distilled for (`generate --fast`)."""
    state, cfg, training = load_run(Path(run))
    if cfg.stage != "distill":
        raise ValueError(f"{run} is a {cfg.stage} run: only a distill run's student can be a fast setting")
    return _attach(cfg, training, distilled_student(cfg, state), Path(model), FAST_FOLDER,
                   lambda p: {**p, "fast": {"denoiser": FAST_FOLDER, **student_setting(cfg.teacher_steps)}})


def attach_expert(run: str | Path, model: str | Path) -> Path:
    """Add a denoiser run trained on part of the noise levels (`t_range` [from, below), not [0, 1]) to an
    existing model folder as the expert for that range: its weights in MODEL/denoiser-tFROM-BELOW/ and
    an entry in pipeline.json's "experts" (replacing one for the same range), so sampling switches to
    it there and keeps the main denoiser everywhere else (models/experts.py). Ranges must not overlap."""
    from kinetoscope.models.experts import expert_folder, range_problem

    state, cfg, training = load_run(Path(run))
    lo, hi = (float(v) for v in cfg.t_range)
    if cfg.stage != "denoiser" or (lo, hi) == (0, 1):
        raise ValueError(f"{run} is not an expert run (stage {cfg.stage}, t_range {[lo, hi]}): "
                         f"train one with stage=denoiser and t_range=[from, below], not [0, 1]")
    sub = expert_folder(lo, hi)

    def entry(pipeline: dict) -> dict:
        experts = [e for e in pipeline.get("experts") or [] if (e["from"], e["below"]) != (lo, hi)]
        experts = sorted(experts + [{"denoiser": sub, "from": lo, "below": hi}], key=lambda e: e["below"])
        if problem := range_problem([(e["from"], e["below"]) for e in experts]):
            raise ValueError(f"{problem}: {model}/pipeline.json has {[[e['from'], e['below']] for e in experts if e['denoiser'] != sub]}")
        return {**pipeline, "experts": experts}

    return _attach(cfg, training, trained_denoiser(cfg, state), Path(model), sub, entry)


def replace_main(run: str | Path, model: str | Path) -> Path:
    """Make a denoiser run's EMA weights an existing model folder's main denoiser (MODEL/denoiser/, the one
    sampling uses at every noise level no expert covers), its training.json the folder's; the autoencoder,
    the experts and the fast setting stay. A run trained on part of the levels (`t_range`) fits here when
    the experts cover the rest. Refused, with nothing written, if an expert could not sample beside it."""
    from kinetoscope.models.experts import with_experts

    state, cfg, training = load_run(Path(run))
    model = Path(model)
    if cfg.stage != "denoiser":
        raise ValueError(f"{run} is a {cfg.stage} run: only a denoiser run can be a model's main denoiser")
    den = trained_denoiser(cfg, state)
    if (model / "pipeline.json").is_file():  # the experts' checks (patch, channels, prediction) before writing
        with_experts(den, model, json.loads((model / "pipeline.json").read_text()).get("experts"))
    return _attach(cfg, training, den, model, "denoiser", lambda p: p, record=model / "training.json")


def _attach(cfg: TrainConfig, training: dict, den, model: Path, sub: str, update, record: Path | None = None) -> Path:
    """Write `den` to MODEL/sub/ with its training.json (or at `record`) and name it in pipeline.json
    (`update`: old -> new, which may refuse; it runs before anything is written)."""
    if not (model / "pipeline.json").is_file():
        raise FileNotFoundError(f"no model at {model}: a model folder holds pipeline.json, vae/ and denoiser/")
    if not same_encoder(CausalVAE.from_pretrained(cfg.vae), CausalVAE.from_pretrained(model / "vae")):
        raise ValueError(f"{model}/vae has a different encoder from {cfg.vae}: the {sub} latents would not match")
    pipeline = update(json.loads((model / "pipeline.json").read_text()))
    den.save_pretrained(model / sub)
    (record or model / sub / "training.json").write_text(json.dumps(training, indent=2, default=list) + "\n")
    tmp = model / "pipeline.json.tmp"
    tmp.write_text(json.dumps(pipeline, indent=2) + "\n")
    tmp.replace(model / "pipeline.json")
    return model / sub

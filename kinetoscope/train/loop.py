"""The training loop, as a straight script: data -> loss -> step -> log -> checkpoint.

Runs as one process, or under `torchrun --nproc_per_node=N` (DDP). Stage "vae" trains the autoencoder; stage "denoiser" trains the
denoiser on latents of a frozen autoencoder; stage "distill" teaches a copy of a denoiser to
sample in half its teacher's steps, with guidance folded in (diffusion/distill.py).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from kinetoscope.diffusion import flow_loss, shift_t, token_shift
from kinetoscope.diffusion.distill import distill_loss, student_grid, student_setting
from kinetoscope.hardware import default_threads, device, precision
from kinetoscope.models import BACKBONES, PIXELS, AutoencoderConfig, CausalVAE, load_autoencoder, load_denoiser
from kinetoscope.models.io import config_from_dict, config_to_dict
from kinetoscope.train import checkpoint as ckpt
from kinetoscope.train.card import write_dataset_card
from kinetoscope.train.config import TrainConfig, save_config
from kinetoscope.train.data import (POOL_BATCHES, VAL_BATCH, random_crop, random_given, sample_noise,
                                    sample_rng, scene_caption, source_batch, step_rng, to_tensor, world_clips)
from kinetoscope.train.ema import EMA


def lr_at(cfg: TrainConfig, step: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    if cfg.schedule == "cosine":
        p = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, p)))
    return cfg.lr


def git_commit() -> str:
    try:
        here = Path(__file__).resolve().parent
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def setup_distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def build_model(cfg: TrainConfig):
    if cfg.stage == "vae":
        return CausalVAE(config_from_dict(AutoencoderConfig, cfg.vae_model))
    if cfg.stage == "distill":  # the student starts as a copy of its teacher
        return load_denoiser(teacher_folder(cfg.teacher)).train()
    latent_channels = 3 if cfg.vae == PIXELS else json.loads((Path(cfg.vae) / "config.json").read_text())["latent_channels"]
    if cfg.backbone not in BACKBONES:
        raise ValueError(f"backbone {cfg.backbone!r} is not one of {', '.join(BACKBONES)}")
    cls = BACKBONES[cfg.backbone]
    over = {"in_channels": latent_channels, **model_overrides(cfg)}
    return cls(config_from_dict(cls.config_class, over))


def model_overrides(cfg: TrainConfig) -> dict:
    """The run's architecture fields for its stage (with init_from: what to grow the model by)."""
    if cfg.stage == "vae":
        return dict(cfg.vae_model)
    if cfg.stage == "distill":
        return {}
    return dict(cfg.dit_model if cfg.backbone == "dit" else cfg.unet_model)


def teacher_folder(path: str) -> Path:
    """A denoiser folder, or a model folder holding one in denoiser/."""
    p = Path(path)
    return p / "denoiser" if (p / "denoiser" / "config.json").is_file() else p


def load_teacher(path: str, device="cpu"):
    """The denoiser a distill run learns from: a model folder's noise-level experts join its denoiser
    (the student, one network, learns what they sample together)."""
    from kinetoscope.models.experts import with_experts

    p = Path(path)
    experts = json.loads((p / "pipeline.json").read_text()).get("experts") if (p / "pipeline.json").is_file() else None
    return with_experts(load_denoiser(teacher_folder(path), device=device), p, experts, device)


class Trainer:
    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.rank, self.world = setup_distributed()
        if cfg.batch_size % self.world:
            raise ValueError(f"batch_size {cfg.batch_size} must divide evenly across {self.world} processes")
        self.per_rank = cfg.batch_size // self.world
        torch.set_num_threads(cfg.threads or max(1, default_threads() // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
        self.device = device()
        self.precision = precision(cfg.precision)  # dtype, and why (auto: measured on this machine)
        self.dtype = self.precision.dtype
        self.run = Path(cfg.run_dir)
        torch.manual_seed(cfg.seed)  # identical initial weights on every rank
        self.model = build_model(cfg).to(self.device)
        if cfg.init_from:
            self.model = type(self.model).from_pretrained(cfg.init_from, device=self.device, grow=model_overrides(cfg)).train()
        if cfg.freeze_encoder:
            if cfg.stage != "vae":
                raise ValueError("freeze_encoder=true only applies to stage vae")
            self.model.encoder.requires_grad_(False)
        self.ema = EMA(self.model, cfg.ema)
        self.net = self._wrap(self.model)
        self.params = [p for p in self.model.parameters() if p.requires_grad]  # frozen encoder excluded
        self.opt = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99))
        self.step, self.elapsed = 0, 0.0
        self.stop_requested = False
        self.vae = self.text = self.pool = self.teacher = None
        if cfg.stage == "distill":
            self.teacher = load_teacher(cfg.teacher, self.device).eval().requires_grad_(False)
        if cfg.stage in ("denoiser", "distill"):
            self.vae = load_autoencoder(cfg.vae, device=self.device).requires_grad_(False)
            from kinetoscope.models.text import text_encoder

            self.text = text_encoder(cfg.text)
            if getattr(self.model.config, "text_whiten", False) and not cfg.init_from:
                self._fit_whitening()

    def _fit_whitening(self, n: int = 2048) -> None:
        """Set the denoiser's pooled-caption whitening from n training captions (a resumed run loads its own)."""
        from kinetoscope.models.transformer import pool_text
        from kinetoscope.models.unet import whitening
        from kinetoscope.train.data import FIXED_BATCH

        # 2-frame clips: a clip's caption does not depend on its length (only a 1-frame image's does)
        caps = [c for i in range(0, n, 64) for c in source_batch(self.cfg, FIXED_BATCH + 3 + i, range(64), frames=2)[1]]
        p = self.cfg.caption_dropout
        caps += [""] * round(len(caps) * p / (1 - p))  # the dropped caption is one of the inputs: whitened like the rest
        mean, w = whitening(pool_text(*self.text(caps), getattr(self.model.config, "text_pool", "mean")))
        for model in (self.model, self.ema.model):
            model.pool_mean.copy_(mean)
            model.pool_whiten.copy_(w)

    def _wrap(self, model):
        if self.world == 1:
            return model
        return torch.nn.parallel.DistributedDataParallel(model)

    # --- state ----------------------------------------------------------------------------------
    def state(self) -> dict:
        return {"model": self.model.state_dict(), "ema": self.ema.model.state_dict(), "opt": self.opt.state_dict(),
                "step": self.step, "elapsed": self.elapsed, "config": self.cfg.to_dict(),
                "model_config": {"class": type(self.model).__name__, **config_to_dict(self.model.config)}}

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.ema.model.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        self.step, self.elapsed = state["step"], state["elapsed"]

    def save(self) -> None:
        bad = [k for k, v in self.model.state_dict().items() if v.is_floating_point() and not torch.isfinite(v).all()]
        if bad:  # every rank holds the same weights, so every rank stops here
            raise FloatingPointError(f"weights {', '.join(bad[:3])} are not finite at step {self.step}: "
                                     f"not writing a checkpoint of them")
        if self.rank == 0:
            ckpt.save(self.run, self.state())
        if self.world > 1:
            dist.barrier()

    # --- data -----------------------------------------------------------------------------------
    def indices(self) -> range:
        """Global indices of this process's samples in the global batch."""
        return range(self.rank * self.per_rank, (self.rank + 1) * self.per_rank)

    def batch(self, step: int):
        """-> inputs (clips or latents), captions."""
        cfg, rng = self.cfg, step_rng(self.cfg, step)
        frames = 1 if rng.random() < cfg.image_prob else cfg.frames
        if cfg.stage == "vae":
            video, _ = source_batch(cfg, step, self.indices(), frames)
            return random_crop(video, cfg.crop, rng), None
        if self.pool is not None:
            idx = [int(sample_rng(cfg, step, i).integers(len(self.pool["scenes"]))) for i in self.indices()]
            z = self.pool["latents"][idx]
            scenes = [self.pool["scenes"][k] for k in idx]
            caps = [scene_caption(s, sample_rng(cfg, step, i, 5), cfg.captions) for s, i in zip(scenes, self.indices())]
            if frames == 1:  # causal VAE: latent frame 0 is the first frame as an image
                z = z[:, :, :1]
        else:
            video, caps = source_batch(cfg, step, self.indices(), frames)
            with torch.no_grad():
                z = self.vae.encode(video.to(self.device))
        dropped = [sample_rng(cfg, step, i, 6).random() < cfg.caption_dropout for i in self.indices()]
        return z, ["" if d else c for c, d in zip(caps, dropped)]

    def build_pool(self) -> None:
        """Encode `latent_pool` clips once (cached in the run folder, shared by all processes)."""
        if self.cfg.data != "world":
            raise ValueError("latent_pool works with the procedural world; folder data is encoded per batch")
        path = self.run / "latent_pool.pt"
        if self.rank == 0 and not path.is_file():
            threads = torch.get_num_threads()
            torch.set_num_threads(default_threads())  # a one-off burst: use every core
            lat, scenes, n, chunk = [], [], self.cfg.latent_pool, 16
            for s in tqdm(range(0, n, chunk), desc="encoding latent pool"):
                clips = world_clips(self.cfg, POOL_BATCHES + s, range(min(chunk, n - s)))
                video = torch.stack([to_tensor(c.frames) for c in clips])
                with torch.no_grad():
                    lat.append(self.vae.encode(video.to(self.device)).cpu())
                scenes += [c.scene for c in clips]
            torch.set_num_threads(threads)
            torch.save({"latents": torch.cat(lat), "scenes": scenes}, str(path) + ".tmp")
            os.replace(str(path) + ".tmp", path)
        if self.world > 1:
            dist.barrier()
        self.pool = torch.load(path, weights_only=False)

    # --- one step ---------------------------------------------------------------------------------
    def encode_text(self, caps):
        """The frozen text encoder, in fp32 also inside a bf16 step: its states are cached per caption
        and shared by every run in the process, so they must not depend on the run's precision."""
        with torch.autocast(self.device.type, enabled=False):
            return self.text(caps)

    def loss(self, x, caps, step):
        cfg, idx = self.cfg, self.indices()
        if cfg.stage == "vae":
            lat_shape = (self.model.config.latent_channels, *self.model.latent_shape(x.shape[2], x.shape[3], x.shape[4])[1:])
            noise, _ = sample_noise(cfg, step, idx, lat_shape)
            noise = noise.to(x) if cfg.vae_sample else torch.zeros_like(noise, dtype=x.dtype)
            rec, mean, logvar = (v.float() for v in self.net(x, noise=noise))  # the loss in fp32 under autocast too
            kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()
            loss = (rec - x).abs().mean() + cfg.kl_weight * kl
            if cfg.temporal_weight and x.shape[2] > 1:
                err = rec.diff(dim=2) - x.diff(dim=2)
                loss = loss + cfg.temporal_weight * (err.abs() if cfg.temporal_loss == "l1" else err.pow(2)).mean()
            return loss, {"psnr": psnr(rec, x)}
        text, mask = self.encode_text(caps)
        given = torch.stack([random_given(cfg, x.shape[2], sample_rng(cfg, step, i, 3)) for i in idx])
        pt, ph, pw = self.model.config.patch
        shift = token_shift(x.shape[2] // pt * x.shape[3] // ph * x.shape[4] // pw)
        noise, u = sample_noise(cfg, step, idx, x.shape[1:])
        if cfg.stage == "distill":  # the grid the student will sample on: the pipeline's shift (set `shift` if pipeline.json does)
            ts_teacher, _ = student_grid(cfg.teacher_steps, cfg.shift or shift)
            n = student_setting(cfg.teacher_steps)["steps"]
            i = torch.tensor([int(sample_rng(cfg, step, k, 7).integers(n)) for k in idx])
            uncond = self.encode_text([""] * len(caps)) if cfg.teacher_guidance != 1.0 else None
            dev = self.device
            loss = distill_loss(self.net, self.teacher, x, noise.to(x), i.to(dev), ts_teacher.to(dev), (text.to(dev), mask.to(dev)),
                                None if uncond is None else (uncond[0].to(dev), uncond[1].to(dev)), cfg.teacher_guidance,
                                given.to(dev), weight_cap=cfg.loss_weight_cap or 4.0)
            return loss, {}
        t = shift_t(torch.sigmoid(u), cfg.shift or shift)  # logit-normal, shifted by token count
        if tuple(cfg.t_range) != (0.0, 1.0):  # an expert: the same distribution squeezed into its range
            t = cfg.t_range[0] + (cfg.t_range[1] - cfg.t_range[0]) * t
        loss = flow_loss(self.net, x, text.to(self.device), mask.to(self.device), given.to(self.device), t=t.to(self.device),
                         noise=noise.to(x), prediction=self.model.config.prediction, weight_cap=cfg.loss_weight_cap)
        return loss, {}

    def train(self, resume: bool = False) -> dict:
        cfg = self.cfg
        self.run.mkdir(parents=True, exist_ok=True)
        if resume and ckpt.exists(self.run):
            self.load(ckpt.load(self.run))
        if self.rank == 0:
            save_config(cfg, self.run / "config.json", {"git_commit": git_commit(), "world_size": self.world,
                                                        "precision_used": str(self.dtype), "precision_reason": self.precision.reason,
                                                        "threads_used": torch.get_num_threads()})
            write_dataset_card(cfg, self.run)  # sources, licences, consent counts, what was refused
        if cfg.stage in ("denoiser", "distill") and cfg.latent_pool:
            self.build_pool()
        handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)} if _main_thread() else {}
        log = open(self.run / "metrics.jsonl", "a") if self.rank == 0 else None
        bar = tqdm(total=cfg.steps, initial=self.step, disable=self.rank != 0, desc=f"train {cfg.stage}")
        last_ckpt, t_start, e_start, step0 = time.monotonic(), time.monotonic(), self.elapsed, self.step
        autocast = torch.autocast(self.device.type, dtype=self.dtype) if self.dtype != torch.float32 else nullcontext()
        metrics = {}
        try:
            while self.step < cfg.steps and not self.stop_requested:
                x, caps = self.batch(self.step)
                for g in self.opt.param_groups:
                    g["lr"] = lr_at(cfg, self.step)
                with autocast:
                    loss, extra = self.loss(x.to(self.device), caps, self.step)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                gnorm = torch.nn.utils.clip_grad_norm_(self.params, cfg.grad_clip)
                check_finite(loss, gnorm, self.step + 1, self.precision.name)  # before the weights take it in
                self.opt.step()
                self.ema.update(self.model, self.step)
                self.step += 1
                self.elapsed = e_start + time.monotonic() - t_start
                if self.rank == 0:
                    bar.update(1)
                    if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                        speed = (self.step - step0) / max(1e-9, time.monotonic() - t_start)
                        metrics = {"step": self.step, "loss": _allreduce(loss.item(), self.world), "lr": lr_at(cfg, self.step - 1),
                                   "grad_norm": float(gnorm), "steps_per_s": round(speed, 4),
                                   "samples_per_s": round(speed * cfg.batch_size, 3), "elapsed_s": round(self.elapsed, 1),
                                   **{k: float(v) for k, v in extra.items()}}
                        log.write(json.dumps(metrics) + "\n")
                        log.flush()
                        bar.set_postfix(loss=f"{metrics['loss']:.4f}", it_s=f"{speed:.2f}")
                    if cfg.sample_every and self.step % cfg.sample_every == 0:
                        self.samples()
                    if cfg.stage == "vae" and cfg.eval_every and self.step % cfg.eval_every == 0:
                        val = {"step": self.step, "val_psnr": round(self.val_psnr(), 3)}
                        log.write(json.dumps(val) + "\n")
                        bar.write(f"step {self.step}: held-out PSNR {val['val_psnr']:.2f} dB (EMA weights)")
                elif self.world > 1 and self.step % cfg.log_every == 0:
                    _allreduce(loss.item(), self.world)
                due = cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0
                if due or time.monotonic() - last_ckpt > 60 * cfg.checkpoint_minutes:
                    self.save()
                    last_ckpt = time.monotonic()
                if cfg.max_minutes and time.monotonic() - t_start > 60 * cfg.max_minutes:
                    break
        finally:
            self.save()
            bar.close()
            if log:
                log.close()
            for s, h in handlers.items():
                signal.signal(s, h)
        return metrics

    @torch.no_grad()
    def val_psnr(self, n: int = 8) -> float:
        """PSNR (dB, on [0, 1] pixels) of the EMA autoencoder on fixed full-size clips never trained on."""
        video, _ = source_batch(self.cfg, VAL_BATCH, range(n))
        rec = self.ema.model.decode(self.ema.model.encode(video.to(self.device)))
        return float(psnr(rec, video.to(self.device)))

    def _on_signal(self, signum, frame):
        self.stop_requested = True  # finish this step, checkpoint, exit

    def samples(self) -> None:
        from kinetoscope.train.samples import write_samples

        write_samples(self)


def check_finite(loss: torch.Tensor, grad_norm: torch.Tensor, step: int, precision: str) -> None:
    """Stop a run whose loss or gradient went non-finite before the optimizer step: AdamW would
    carry one NaN into every weight, and the checkpoint would keep them."""
    for what, value in (("loss", float(loss.detach())), ("gradient norm", float(grad_norm.detach()))):
        if not math.isfinite(value):
            raise FloatingPointError(f"training {what} is {value} at step {step} (precision {precision}): stopping "
                                     f"without writing a checkpoint of non-finite weights (it keeps step {step - 1}'s)")


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    mse = ((a.detach().clamp(-1, 1) - b) / 2).pow(2).mean()
    return -10 * torch.log10(mse.clamp(min=1e-10))


def _allreduce(v: float, world: int) -> float:
    if world == 1:
        return v
    t = torch.tensor([v])
    dist.all_reduce(t)
    return t.item() / world


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()

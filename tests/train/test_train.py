import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from kinetoscope.data.world import HELD_OUT_SET
from kinetoscope.models import CausalVAE
from kinetoscope.pipeline import GenerationRequest, Pipeline
from kinetoscope.train import checkpoint as ckpt
from kinetoscope.train.config import load_config
from kinetoscope.train.data import world_clips
from kinetoscope.train.export import export
from kinetoscope.train.loop import Trainer
from tests.conftest import TINY_VAE

TINY_DIT = "{width: 32, depth: 1, heads: 2}"
TINY_VAE_OPT = "{channels: [8, 8, 16, 16], latent_channels: 4}"


@pytest.fixture(scope="module")
def vae_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("vae")
    torch.manual_seed(0)
    CausalVAE(TINY_VAE).save_pretrained(d)
    return d


def denoiser_cfg(run, vae_dir, steps, **kw):
    """A tiny denoiser run, in fp32 unless `precision` says otherwise: the same test on every CPU."""
    over = [f"run_dir={run}", f"vae={vae_dir}", f"dit_model={TINY_DIT}", "batch_size=2", "frames=5", "width=32",
            "height=32", f"steps={steps}", "sample_every=0", "log_every=5", "threads=1", "warmup=5", "given_prob=0.5",
            "image_prob=0.2", "precision=fp32"]
    return load_config(None, over + [f"{k}={v}" for k, v in kw.items()], base={"stage": "denoiser"})


def trained(cfg) -> Trainer:
    """Train `cfg`'s run; its logged losses and its weights must come out finite."""
    trainer = Trainer(cfg)
    trainer.train()
    assert_finite(trainer)
    return trainer


def assert_finite(trainer: Trainer) -> None:
    rows = [json.loads(x) for x in (trainer.run / "metrics.jsonl").read_text().splitlines()]
    assert rows and all(math.isfinite(r["loss"]) for r in rows if "loss" in r), rows
    for model in (trainer.model, trainer.ema.model):
        for k, v in model.state_dict().items():
            assert torch.isfinite(v).all(), f"{k} is not finite after {trainer.cfg.precision} training"


def test_resume_continues_bit_for_bit(tmp_path, vae_dir):
    whole = Trainer(denoiser_cfg(tmp_path / "whole", vae_dir, 20))
    whole.train()
    Trainer(denoiser_cfg(tmp_path / "split", vae_dir, 10)).train()
    resumed = Trainer(denoiser_cfg(tmp_path / "split", vae_dir, 20))
    resumed.train(resume=True)
    assert resumed.step == 20
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(whole.ema.model.state_dict().values(), resumed.ema.model.state_dict().values()):
        assert torch.equal(a, b)
    # the run folder records what is needed to reproduce it
    cfg = json.loads((tmp_path / "whole" / "config.json").read_text())
    assert cfg["steps"] == 20 and "git_commit" in cfg
    assert (cfg["precision_used"], cfg["precision_reason"]) == ("torch.float32", "fp32: asked for")
    again = load_config(str(tmp_path / "whole" / "config.json"))  # a run resumes from its own record
    assert again.to_dict() == whole.cfg.to_dict()
    lines = (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [5, 10, 15, 20]


def test_a_non_finite_loss_stops_the_run_naming_the_step(tmp_path, vae_dir):
    trainer = Trainer(denoiser_cfg(tmp_path, vae_dir, 10, checkpoint_every=2))
    real = trainer.loss

    def loss(x, caps, step):
        value, extra = real(x, caps, step)
        return (value * float("nan") if step == 4 else value), extra  # the fifth step's loss

    trainer.loss = loss
    with pytest.raises(FloatingPointError, match=r"training loss is nan at step 5 \(precision fp32\): stopping without "
                                                 r"writing a checkpoint of non-finite weights"):
        trainer.train()
    state = ckpt.load(tmp_path)  # the checkpoint holds the last finite weights
    assert state["step"] == 4 and all(torch.isfinite(v).all() for v in state["model"].values())
    # a run that diverges on its own stops the same way, at the step where it happened
    with pytest.raises(FloatingPointError, match=r"training (loss|gradient norm) is (nan|inf) at step \d+ \(precision fp32\)"):
        Trainer(denoiser_cfg(tmp_path / "diverges", vae_dir, 10, lr=1e30, warmup=0)).train()
    assert all(torch.isfinite(v).all() for v in ckpt.load(tmp_path / "diverges")["model"].values())
    # and weights that are not finite are never written
    with torch.no_grad():
        next(trainer.model.parameters()).fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="not writing a checkpoint"):
        trainer.save()
    assert ckpt.load(tmp_path)["step"] == 4


def test_export_gives_a_model_that_generates(tmp_path, vae_dir, text_encoder):
    Trainer(denoiser_cfg(tmp_path / "run", vae_dir, 3)).train()
    out = export(tmp_path / "run", tmp_path / "model")
    pipe = Pipeline.from_pretrained(out, text_encoder=text_encoder)
    v = pipe.generate(GenerationRequest(prompt="a red circle", frames=5, steps=2))
    assert v.frames.shape == (5, 32, 32, 3)
    assert json.loads((out / "training.json").read_text())["steps"] == 3


def test_training_batches_never_show_held_out_compositions():
    cfg = load_config(None, ["max_objects=3"])
    for step in range(20):
        for clip in world_clips(cfg, step, range(16)):
            for o in clip.scene.objects:
                assert (o.colour, o.shape, o.motion) not in HELD_OUT_SET


def cli(*args, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


VAE_ARGS = ["train", "--stage", "vae", "batch_size=4", "frames=5", "width=32", "height=32", "log_every=1",
            "sample_every=0", f"vae_model={TINY_VAE_OPT}", "threads=1", "image_prob=0", "precision=fp32"]


@pytest.mark.slow
def test_interrupted_run_leaves_a_loadable_checkpoint(tmp_path):
    run = tmp_path / "run"
    p = cli("-m", "kinetoscope.cli", *VAE_ARGS, f"run_dir={run}", "steps=100000")
    metrics = run / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not metrics.exists() or len(metrics.read_text().splitlines()) < 3):
        time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    state = ckpt.load(run)
    assert state["step"] >= 3
    vae = export(run, tmp_path / "vae")
    assert CausalVAE.from_pretrained(vae).config.scaling_factor > 0


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(tmp_path):
    """torchrun with 2 gloo processes and the same global batch follows the same loss curve."""
    one = cli("-m", "kinetoscope.cli", *VAE_ARGS, f"run_dir={tmp_path / 'one'}", "steps=6")
    two = cli("-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517", "-m", "kinetoscope.cli",
              *VAE_ARGS, f"run_dir={tmp_path / 'two'}", "steps=6")
    for p in (one, two):
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    def curve(run):
        rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        return [r["loss"] for r in rows if "loss" in r]

    a, b = curve(tmp_path / "one"), curve(tmp_path / "two")
    assert len(a) == len(b) == 6
    for x, y in zip(a, b):
        assert abs(x - y) < 1e-4 * max(1.0, abs(x)), (a, b)
    assert json.loads((tmp_path / "two" / "config.json").read_text())["world_size"] == 2



def test_unet_backbone_trains_and_ships_with_a_finetuned_decoder(tmp_path, vae_dir, text_encoder):
    over = {"backbone": "unet", "unet_model": "{channels: [16, 32], blocks: 1, heads: 2}"}
    Trainer(denoiser_cfg(tmp_path / "unet", vae_dir, 2, **over)).train()
    # a decoder fine-tuned with a frozen encoder may replace the autoencoder in the shipped folder ...
    tuned = CausalVAE.from_pretrained(vae_dir)
    with torch.no_grad():
        for p in tuned.decoder.parameters():
            p.add_(0.01)
    tuned.save_pretrained(tmp_path / "tuned")
    out = export(tmp_path / "unet", tmp_path / "model", vae=tmp_path / "tuned")
    pipe = Pipeline.from_pretrained(out, text_encoder=text_encoder)
    assert type(pipe.denoiser).__name__ == "ConvUNet"
    assert torch.equal(pipe.vae.decoder.conv_out.weight, tuned.decoder.conv_out.weight)
    assert pipe.generate(GenerationRequest(prompt="a blue ring", frames=5, steps=2)).frames.shape == (5, 32, 32, 3)
    # ... but one with another encoder is refused: its latents would not match the denoiser's
    with torch.no_grad():
        for p in tuned.encoder.parameters():
            p.add_(0.01)
    tuned.save_pretrained(tmp_path / "other")
    with pytest.raises(ValueError, match="different encoder"):
        export(tmp_path / "unet", tmp_path / "model2", vae=tmp_path / "other")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_distilled_student_ships_as_the_fast_setting(tmp_path, vae_dir, text_encoder, precision):
    from kinetoscope.train.export import attach_fast

    over = {"backbone": "unet", "unet_model": "{channels: [16, 32], blocks: 1, heads: 2}", "precision": precision}
    trained(denoiser_cfg(tmp_path / "teacher", vae_dir, 2, **over))
    model = export(tmp_path / "teacher", tmp_path / "model")
    with pytest.raises(FileNotFoundError, match="no fast"):
        Pipeline.from_pretrained(model, fast=True)
    cfg = denoiser_cfg(tmp_path / "student", model / "vae", 3, teacher=model, teacher_steps=4, teacher_guidance=2.0,
                       precision=precision)
    cfg.stage = "distill"
    student = trained(cfg)
    teacher_w = Pipeline.from_pretrained(model).denoiser.state_dict()
    assert any(not torch.equal(v, teacher_w[k]) for k, v in student.ema.model.state_dict().items())  # it learned
    with pytest.raises(ValueError, match="only a distill run"):
        attach_fast(tmp_path / "teacher", model)
    attach_fast(tmp_path / "student", model)
    fast = Pipeline.from_pretrained(model, fast=True, text_encoder=text_encoder)
    assert (fast.config.steps, fast.config.guidance, fast.config.name) == (2, 1.0, "kinetoscope-builtin-fast")
    for k, v in student.ema.model.state_dict().items():
        assert torch.equal(fast.denoiser.state_dict()[k], v)
    full = Pipeline.from_pretrained(model, text_encoder=text_encoder)
    assert full.config.steps == 20 and all(torch.equal(full.denoiser.state_dict()[k], v) for k, v in teacher_w.items())
    v = fast.generate(GenerationRequest(prompt="a red circle", frames=5))
    assert v.frames.shape == (5, 32, 32, 3) and v.metadata["model_calls"] == 2
    with pytest.raises(ValueError, match="teacher=FOLDER"):
        load_config(None, [], base={"stage": "distill"})


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_init_from_grows_the_model_by_the_runs_architecture_fields(tmp_path, vae_dir, precision):
    small = {"backbone": "unet", "unet_model": "{channels: [16, 32], blocks: 1, heads: 2}", "precision": precision}
    trained(denoiser_cfg(tmp_path / "a", vae_dir, 1, **small))
    start = export(tmp_path / "a", tmp_path / "m") / "denoiser"
    grown = {"backbone": "unet", "unet_model": "{channels: [16, 32], blocks: 1, heads: 2, fine_cross: true}",
             "precision": precision}
    t = Trainer(denoiser_cfg(tmp_path / "b", vae_dir, 1, init_from=start, **grown))
    assert t.model.config.fine_cross and len(t.model.fine_cross) == 2
    before = load_denoiser_state(start)
    for k, v in before.items():  # everything the folder held is where training starts
        assert torch.equal(t.model.state_dict()[k], v)
    t.train()
    assert_finite(t)
    assert load_denoiser_state(export(tmp_path / "b", tmp_path / "m2") / "denoiser").keys() > before.keys()
    # a run continuing the grown model need not repeat its fields: export builds what the run trained
    trained(denoiser_cfg(tmp_path / "c", vae_dir, 1, init_from=tmp_path / "m2" / "denoiser", **small))
    out = export(tmp_path / "c", tmp_path / "m3") / "denoiser"
    assert json.loads((out / "config.json").read_text())["fine_cross"] is True
    assert load_denoiser_state(out).keys() == load_denoiser_state(tmp_path / "m2" / "denoiser").keys()


def load_denoiser_state(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.mark.parametrize("norm", ["l1", "l2"])
def test_temporal_weight_adds_the_frame_difference_loss(tmp_path, norm):
    def cfg(w):
        over = [f"run_dir={tmp_path / str(w)}", f"vae_model={TINY_VAE_OPT}", "batch_size=2", "frames=5", "width=32",
                "height=32", "threads=1", "image_prob=0", f"temporal_weight={w}", f"temporal_loss={norm}", "precision=fp32"]
        return load_config(None, over, base={"stage": "vae"})

    x, _ = Trainer(cfg(0.0)).batch(0)
    torch.manual_seed(0)
    plain = Trainer(cfg(0.0))
    torch.manual_seed(0)
    temporal = Trainer(cfg(2.0))
    with torch.no_grad():
        mean, _ = plain.model.encode_moments(x)
        rec, _, _ = plain.model(x, noise=torch.zeros_like(mean))  # the stage decodes the mean
        a, b = plain.loss(x, None, 0)[0], temporal.loss(x, None, 0)[0]
    err = rec.diff(dim=2) - x.diff(dim=2)
    expected = 2.0 * (err.abs() if norm == "l1" else err.pow(2)).mean()
    assert torch.allclose(b - a, expected, rtol=1e-4)


def test_temporal_loss_names_the_allowed_norms():
    with pytest.raises(ValueError, match="temporal_loss 'l3' is not one of l1, l2"):
        load_config(None, ["temporal_loss=l3"], base={"stage": "vae"})


def test_a_decoder_grown_to_look_ahead_trains_and_exports_with_the_same_encoder(tmp_path, vae_dir):
    from kinetoscope.train.export import same_encoder

    over = [f"run_dir={tmp_path / 'run'}", f"init_from={vae_dir}", "vae_model={lookahead: 1}", "freeze_encoder=true",
            "batch_size=2", "frames=5", "width=32", "height=32", "threads=1", "steps=2", "sample_every=0", "eval_every=0",
            "image_prob=0", "lr=1e-2", "warmup=0", "precision=fp32"]
    Trainer(load_config(None, over, base={"stage": "vae"})).train()
    start, out = CausalVAE.from_pretrained(vae_dir), CausalVAE.from_pretrained(export(tmp_path / "run", tmp_path / "out"))
    assert out.config.lookahead == 1 and same_encoder(start, out)  # latents (and a denoiser on them) still match
    assert out.decoder.ahead.weight.abs().sum() > 0  # the new input learned from zero


def test_a_config_file_reads_numbers_yaml_leaves_as_strings(tmp_path):
    f = tmp_path / "run.yaml"
    f.write_text("stage: vae\nlr: 3e-4\nkl_weight: 1e-06\nsteps: 10\n")  # YAML 1.1: no dot, so these are strings
    cfg = load_config(str(f))
    assert (cfg.lr, cfg.kl_weight, cfg.steps) == (3e-4, 1e-6, 10)
    f.write_text("stage: vae\nlr: fast\n")
    with pytest.raises(ValueError, match="lr 'fast' is not a number"):
        load_config(str(f))
    with pytest.raises(ValueError, match="steps '1.5' is not a whole number"):  # the same check for a command-line override
        load_config(None, ["steps=1.5"])


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_noise_level_experts_train_in_their_range_and_ship_beside_the_denoiser(tmp_path, vae_dir, text_encoder, precision):
    from kinetoscope.models.experts import NoiseExperts
    from kinetoscope.train.export import attach_expert, replace_main
    from kinetoscope.train.loop import load_teacher

    over = {"backbone": "unet", "unet_model": "{channels: [16, 32], blocks: 1, heads: 2}", "precision": precision}
    trained(denoiser_cfg(tmp_path / "all", vae_dir, 2, **over))
    model = export(tmp_path / "all", tmp_path / "model")
    plain = Pipeline.from_pretrained(model, text_encoder=text_encoder)
    low = Trainer(denoiser_cfg(tmp_path / "low", vae_dir, 2, **{"t_range": "[0, 0.4]"}, shift=1.0, init_from=model / "denoiser", **over))
    seen, forward = [], low.model.forward
    low.net = lambda x, t, *a: seen.append(t) or forward(x, t, *a)
    for step in range(20):
        x, caps = low.batch(step)
        low.loss(x, caps, step)
    ts = torch.cat(seen)
    assert float(ts.max()) < 0.4 and float(ts.min()) > 0 and float(ts.std()) > 0.05  # spread over [0, 0.4)
    low.net = low.model
    low.train()
    assert_finite(low)  # the expert nearest the clean sample, where the 1/t weights are largest
    mid = trained(denoiser_cfg(tmp_path / "mid", vae_dir, 1, **{"t_range": "[0.4, 0.8]"}, **over))
    with pytest.raises(ValueError, match="not an expert run"):
        attach_expert(tmp_path / "all", model)
    attach_expert(tmp_path / "mid", model)  # the main denoiser keeps [0, 0.4) and [0.8, 1] until experts cover them
    assert json.loads((model / "pipeline.json").read_text())["experts"] == [{"denoiser": "denoiser-t0.4-0.8", "from": 0.4, "below": 0.8}]
    wide = trained(denoiser_cfg(tmp_path / "wide", vae_dir, 1, **{"t_range": "[0.3, 0.5]"}, **over))
    with pytest.raises(ValueError, match=r"\[0.3, 0.5\) and \[0.4, 0.8\) overlap"):
        attach_expert(tmp_path / "wide", model)
    assert not (model / "denoiser-t0.3-0.5").exists()  # nothing half-written
    attach_expert(tmp_path / "low", model)
    assert json.loads((model / "pipeline.json").read_text())["experts"] == [
        {"denoiser": "denoiser-t0-0.4", "from": 0.0, "below": 0.4}, {"denoiser": "denoiser-t0.4-0.8", "from": 0.4, "below": 0.8}]
    pipe = Pipeline.from_pretrained(model, text_encoder=text_encoder)
    assert isinstance(pipe.denoiser, NoiseExperts) and pipe.denoiser.ranges == [(0.0, 0.4), (0.4, 0.8)]
    for k, v in low.ema.model.state_dict().items():
        assert torch.equal(pipe.denoiser.experts[0].state_dict()[k], v)
    assert pipe.weights_hash != plain.weights_hash  # the recipe's weights hash covers both experts
    assert pipe.generate(GenerationRequest(prompt="a blue ring", frames=5, steps=3)).frames.shape == (5, 32, 32, 3)
    assert isinstance(load_teacher(str(model)), NoiseExperts)  # a fast student learns from the pair
    with pytest.raises(FileNotFoundError, match="no model at"):
        replace_main(tmp_path / "wide", tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()  # nothing half-written
    replace_main(tmp_path / "wide", model)  # a new main denoiser beside the same experts
    pipe = Pipeline.from_pretrained(model, text_encoder=text_encoder)
    assert pipe.denoiser.ranges == [(0.0, 0.4), (0.4, 0.8)] and json.loads((model / "training.json").read_text())["run"] == str(tmp_path / "wide")
    for k, v in wide.ema.model.state_dict().items():
        assert torch.equal(pipe.denoiser.main.state_dict()[k], v)
    resaved = pipe.save_pretrained(tmp_path / "copy")
    assert isinstance(Pipeline.from_pretrained(resaved, text_encoder=text_encoder).denoiser, NoiseExperts)


@pytest.mark.parametrize("over, message", [(["t_range=[0.5, 0.5]"], r"t_range \[0.5, 0.5\] is out of range"),
                                           (["t_range=[0.2, 1.5]"], r"t_range \[0.2, 1.5\] is out of range")])
def test_t_range_names_its_range(over, message):
    with pytest.raises(ValueError, match=message):
        load_config(None, over, base={"stage": "denoiser"})


def test_a_run_recorded_with_removed_options_reads_where_they_were_off(tmp_path):
    from kinetoscope.train.config import without_removed

    record = tmp_path / "config.json"
    record.write_text('{"stage": "denoiser", "steps": 7, "motion_contrast": 0.0, "motion_margin": 0.05, "frame_noise_prob": 0.0}')
    assert load_config(str(record)).steps == 7
    assert without_removed({"steps": 7, "high_noise_from": 0.85}) == {"steps": 7}
    record.write_text('{"stage": "denoiser", "motion_contrast": 1.0}')
    with pytest.raises(ValueError, match=r"this run used motion_contrast=1.0: an option removed"):
        load_config(str(record))
    with pytest.raises(ValueError, match="unknown training option 'frame_noise_prob'"):
        load_config(None, ["frame_noise_prob=0.5"])

"""The diffusers engine on tiny random pipelines of every supported family, loaded from a folder like a download.

Each family's folder is written once per session with `save_pretrained`; the engine loads it
offline, and every test generates a few frames at 16-32 px with 2 steps.
"""

from __future__ import annotations

import json
import sys
from unittest import mock

import numpy as np
import pytest

pytest.importorskip("diffusers")

from kinetoscope.engines import Cancelled, load_engine  # noqa: E402
from kinetoscope.pipeline import GenerationRequest, RequestError  # noqa: E402
from tests.engines.tiny import FAMILIES, build, save_tiny  # noqa: E402

TASKS = {  # what a user can ask of each kind of folder
    "wan": ("t2v", "image"),
    "wan-i2v": ("i2v",),
    "wan22-i2v": ("i2v", "interpolate"),
    "wan-ti2v": ("t2v", "image", "i2v"),
    "ltx": ("t2v", "image", "i2v"),
    "cogvideox": ("t2v",),
    "cogvideox-i2v": ("i2v",),
    "hunyuan": ("t2v", "image"),
}
PIPELINE = {"wan": "WanPipeline", "wan-i2v": "WanImageToVideoPipeline", "wan22-i2v": "WanImageToVideoPipeline",
            "wan-ti2v": "WanPipeline", "ltx": "LTXPipeline", "cogvideox": "CogVideoXPipeline",
            "cogvideox-i2v": "CogVideoXImageToVideoPipeline", "hunyuan": "HunyuanVideoPipeline"}


@pytest.fixture(scope="session")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("diffusers-models")
    return {f: save_tiny(f, root / f"tiny-{f}") for f in FAMILIES}


@pytest.fixture(scope="session")
def engines(folders):
    return {f: load_engine(f"diffusers:{folders[f]}") for f in FAMILIES}


def size(engine) -> int:
    c = engine.capabilities
    return c.width if c.extra["fixed_size"] else max(32, c.size_multiple)


def request(engine, task="t2v", frames=9, seed=0, image_value=200, **kw) -> GenerationRequest:
    s = size(engine)
    kw = {"width": s, "height": s, "steps": 2, "seed": seed, **kw}
    frames = 1 if task == "image" else frames
    if task in ("i2v", "interpolate"):
        given = np.zeros((frames, s, s, 3), np.uint8)
        given[0] = image_value
        given[-1] = 255 - image_value
        mask = [True] + [False] * (frames - 1)
        if task == "interpolate":
            mask[-1] = True
        kw.update(given_frames=given, given_mask=mask)
    return GenerationRequest(prompt="a red circle bouncing", frames=frames, **kw)


def float_frames(engine, req: GenerationRequest) -> np.ndarray:
    """The frames the engine's pipeline made for `req`, (T, H, W, 3) floats in [0, 1], before the engine
    rounds them to uint8: a tiny random pipeline's two videos may differ by less than a uint8 step."""
    pipe = engine._pipeline_for(engine.check_task(engine.resolve(req)))
    made, call = [], type(pipe).__call__

    def spy(self, *args, **kw):
        out = call(self, *args, **kw)
        made.append(out.frames[0])
        return out

    with mock.patch.object(type(pipe), "__call__", spy):
        engine.generate(req)
    return made[0]


def assert_differ(a: np.ndarray, b: np.ndarray) -> None:
    """Two videos differ by a quarter of a uint8 step or more somewhere: not float noise, on any CPU."""
    assert float(np.abs(a - b).max()) > 1e-3, float(np.abs(a - b).max())


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_makes_every_task_it_lists(family, engines, folders):
    engine = engines[family]
    caps = engine.capabilities
    assert caps.tasks == TASKS[family]
    assert caps.extra["pipeline"] == PIPELINE[family]
    for task in caps.tasks:
        calls = []
        video = engine.generate(request(engine, task), progress=lambda *a: calls.append(a))
        s, n = size(engine), 1 if task == "image" else 9
        assert video.frames.shape == (n, s, s, 3) and video.frames.dtype == np.uint8
        assert video.fps == caps.fps
        assert calls == [("denoise", 1, 2), ("denoise", 2, 2), ("decode", 1, 1)]
        meta = video.metadata
        assert meta["engine"] == "diffusers" and meta["task"] == task
        assert meta["model_folder"] == folders[family].name and meta["model"] == folders[family].name
        assert meta["pipeline"].endswith("ImageToVideoPipeline") == (task in ("i2v", "interpolate"))
        assert meta["request"]["frames"] == n and meta["request"]["steps"] == 2
        json.dumps(meta)  # provenance is written into the file: it must serialise


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_same_video_other_seed_other_video(family, engines):
    engine = engines[family]
    task = engine.capabilities.tasks[0]
    a = engine.generate(request(engine, task, seed=3)).frames
    b = engine.generate(request(engine, task, seed=3)).frames
    assert np.array_equal(a, b)
    assert_differ(float_frames(engine, request(engine, task, seed=3)), float_frames(engine, request(engine, task, seed=4)))


@pytest.mark.parametrize("family", ["wan-i2v", "wan-ti2v", "ltx", "cogvideox-i2v"])
def test_the_given_first_frame_drives_image_to_video(family, engines):
    engine = engines[family]
    assert_differ(float_frames(engine, request(engine, "i2v", image_value=30)),
                  float_frames(engine, request(engine, "i2v", image_value=220)))


def test_interpolation_uses_the_last_frame(engines):
    engine = engines["wan22-i2v"]
    # 17 frames: at 9 the tiny random VAE passes a new last frame on to the output at ~3e-7, which
    # rounds away; at 17 it moves the output by ~0.08
    a = request(engine, "interpolate", frames=17, image_value=100)
    b = request(engine, "interpolate", frames=17, image_value=100)
    b.given_frames[-1] = 0  # same first frame, another last frame
    assert_differ(float_frames(engine, a), float_frames(engine, b))


@pytest.mark.parametrize("family", ["wan", "ltx", "cogvideox", "hunyuan"])
def test_engine_output_equals_calling_the_pipeline_directly(family, engines, folders):
    """Our request maps onto exactly the pipeline call a diffusers user would write."""
    import torch

    engine = engines[family]
    req = engine.resolve(request(engine, negative_prompt="" if family == "hunyuan" else "blurry"))
    pipe = type(engine.pipe).from_pretrained(folders[family], local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    extra = {"frame_rate": req.fps} if family == "ltx" else {}
    if family == "cogvideox":
        extra["max_sequence_length"] = pipe.transformer.config.max_text_seq_length
    if family != "hunyuan":
        extra["negative_prompt"] = req.negative_prompt
    out = pipe(prompt=req.prompt, height=req.height, width=req.width, num_frames=req.frames,
               num_inference_steps=req.steps, guidance_scale=req.guidance, output_type="np",
               generator=torch.Generator().manual_seed(req.seed), **extra).frames[0]
    direct = (np.clip(out, 0, 1) * 255).round().astype(np.uint8)
    assert np.array_equal(engine.generate(req).frames, direct)


def test_cancel_stops_between_steps(engines):
    engine = engines["wan"]
    seen = []

    def progress(stage, i, n):
        seen.append((stage, i))
        if i == 1:
            raise Cancelled()

    with pytest.raises(Cancelled):
        engine.generate(request(engine, steps=4), progress=progress)
    assert seen == [("denoise", 1)]  # no second step, no decode


@pytest.mark.parametrize("family,task", [("wan", "i2v"), ("wan-i2v", "interpolate"), ("wan", "extend"),
                                         ("cogvideox", "image"), ("hunyuan", "i2v"), ("ltx", "interpolate")])
def test_tasks_a_model_cannot_do_are_refused_by_name(family, task, engines):
    engine = engines[family]
    if task == "extend":
        req = request(engine, "i2v")
        req.given_mask = [True] * 5 + [False] * 4
    else:
        req = request(engine, task)
    with pytest.raises(RequestError) as e:
        engine.generate(req)
    msg = str(e.value)
    assert f"task {task!r} is not supported" in msg and ", ".join(TASKS[family]) in msg


def test_text_to_video_on_an_image_to_video_folder_is_refused(engines):
    engine = engines["cogvideox-i2v"]
    req = engine.resolve(request(engine))  # resolvable: an image may still be attached
    with pytest.raises(RequestError, match="task 't2v' is not supported .* it supports i2v"):
        engine.generate(req)


def test_requests_are_checked_against_each_models_rules(engines):
    wan, cog_i2v, ltx = engines["wan"], engines["cogvideox-i2v"], engines["ltx"]
    with pytest.raises(RequestError, match=r"frames 10 is not allowed: .*1\+4k"):
        wan.resolve(request(wan, frames=10))
    with pytest.raises(RequestError, match="width 40 is not allowed: use a multiple of 16"):
        wan.resolve(request(wan, width=40))
    with pytest.raises(RequestError, match="multiple of 32"):
        ltx.resolve(request(ltx, width=48))  # LTX wants multiples of 32
    with pytest.raises(RequestError, match="only makes 16x16"):
        cog_i2v.resolve(request(cog_i2v, "i2v", width=32, height=32))
    with pytest.raises(RequestError, match="sampler 'heun' is not available.*FlowMatchEulerDiscreteScheduler"):
        wan.resolve(request(wan, sampler="heun"))
    with pytest.raises(RequestError, match="steps 0 is out of range"):
        wan.resolve(request(wan, steps=0))
    with pytest.raises(RequestError, match="seconds 60.0 is out of range: allowed 0 to 5"):
        wan.resolve(GenerationRequest(prompt="x", seconds=60.0))


def test_defaults_and_seconds_follow_each_model(engines):
    wan, cog = engines["wan"], engines["cogvideox"]
    r = wan.resolve(GenerationRequest(prompt="x"))
    assert (r.width, r.height, r.frames, r.fps, r.steps, r.guidance) == (832, 480, 81, 16, 50, 5.0)
    assert wan.resolve(GenerationRequest(prompt="x", seconds=1.0)).frames == 17  # 1 + 4k at 16 fps
    r = cog.resolve(GenerationRequest(prompt="x", seconds=1.0))
    assert (r.fps, r.frames) == (8, 9)  # CogVideoX's own 8 fps
    assert engines["wan-ti2v"].resolve(GenerationRequest(prompt="x")).fps == 24
    r = wan.resolve(GenerationRequest(prompt="x", seconds=1.0))
    assert wan.resolve(r) == r  # resolving twice changes nothing


def test_ltx_conditions_on_the_frame_rate(engines):
    ltx = engines["ltx"]
    assert ltx.generate(request(ltx, fps=12)).fps == 12
    assert_differ(float_frames(ltx, request(ltx, fps=24)), float_frames(ltx, request(ltx, fps=12)))


def test_hunyuan_negative_prompt_needs_true_guidance(engines, folders):
    with pytest.raises(RequestError, match="true_cfg"):
        engines["hunyuan"].resolve(request(engines["hunyuan"], negative_prompt="blurry"))
    engine = load_engine(f"diffusers:{folders['hunyuan']}?true_cfg=4")
    with_neg = float_frames(engine, request(engine, negative_prompt="blurry"))
    assert with_neg.shape == (9, 32, 32, 3)
    assert_differ(with_neg, float_frames(engines["hunyuan"], request(engine)))


def test_memory_options_from_the_spec_string(folders):
    import torch

    engine = load_engine(f"diffusers:{folders['wan']}?dtype=bf16&tiling=1&slicing=yes&attention=native", name="wan-bf16")
    assert engine.name == "wan-bf16"
    assert engine.pipe.transformer.dtype == torch.bfloat16
    assert engine.pipe.vae.dtype == torch.float32  # Wan's VAE stays in float32
    assert engine.pipe.vae.use_tiling and engine.pipe.vae.use_slicing
    video = engine.generate(request(engine))
    assert video.frames.shape == (9, 32, 32, 3) and video.metadata["dtype"] == "bf16"


@pytest.mark.parametrize("spec,message", [
    ("?dtype=fp8", "dtype='fp8' is not known: use bf16, fp16 or fp32"),
    ("?offload=model", "offload=model moves models to an accelerator"),
    ("?attention=warp", "attention='warp' is not known"),
    ("?tiling=maybe", "tiling='maybe' is not a yes/no value"),
    ("?speed=max", "engine option 'speed' is not known: use dtype, device, offload"),
])
def test_bad_engine_options_are_refused_by_name(spec, message, folders):
    with pytest.raises(ValueError) as e:
        load_engine(f"diffusers:{folders['wan']}{spec}")
    assert message in str(e.value)


def test_folders_that_are_not_supported_models(tmp_path):
    with pytest.raises(FileNotFoundError, match="no diffusers model at .*model_index.json"):
        load_engine(f"diffusers:{tmp_path}")
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(ValueError, match="pipeline class 'StableDiffusionPipeline'.*supports WanPipeline"):
        load_engine(f"diffusers:{tmp_path}")
    with pytest.raises(ValueError, match="takes only the option fast, got dtype"):
        load_engine("builtin?dtype=bf16")
    with pytest.raises(ValueError, match="fast='maybe'"):
        load_engine("builtin?fast=maybe")


def test_missing_diffusers_says_how_to_install(monkeypatch, folders):
    monkeypatch.setitem(sys.modules, "diffusers", None)  # as if the [engines] extra were not installed
    with pytest.raises(ImportError, match=r"pip install kinetoscope\[engines\]"):
        load_engine(f"diffusers:{folders['wan']}")


def test_tiny_pipelines_build_offline():
    """The test pipelines need no network: their tokenizers come from a vocabulary in the test."""
    pipe = build("hunyuan")
    assert pipe.tokenizer("a red circle").input_ids and pipe.tokenizer_2("a red circle").input_ids


def test_concurrent_requests_on_one_engine_match_one_at_a_time(engines):
    """Studio workers share an engine: two threads at once get what they would get alone."""
    from concurrent.futures import ThreadPoolExecutor

    engine = engines["cogvideox"]
    alone = [engine.generate(request(engine, seed=s)).frames for s in (5, 6)]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(lambda s: engine.generate(request(engine, seed=s)).frames, (5, 6)))
    assert all(np.array_equal(a, b) for a, b in zip(alone, together))

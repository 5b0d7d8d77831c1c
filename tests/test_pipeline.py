import numpy as np
import pytest

from kinetoscope.pipeline import GenerationRequest, Pipeline, RequestError
from tests.conftest import tiny_pipeline


@pytest.fixture(scope="module")
def pipe(text_encoder):
    p = tiny_pipeline()
    p._text = text_encoder
    return p


def test_video_has_requested_frames_size_and_metadata(pipe):
    v = pipe.generate(GenerationRequest(prompt="a red circle", width=48, height=32, seconds=1, fps=8))
    assert v.frames.shape == (9, 32, 48, 3) and v.frames.dtype == np.uint8
    assert v.fps == 8
    assert v.metadata["request"]["prompt"] == "a red circle"
    assert len(v.metadata["weights_sha256"]) == 64


def test_same_seed_same_video_other_seed_other_video(pipe):
    req = GenerationRequest(prompt="a blue square moving left", frames=5, seed=3)
    a, b = pipe.generate(req), pipe.generate(req)
    c = pipe.generate(GenerationRequest(prompt="a blue square moving left", frames=5, seed=4))
    assert np.array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, c.frames)


@pytest.mark.parametrize(
    "field,value,needle",
    [
        ("prompt", "", "prompt is empty"),
        ("prompt", "x" * 1001, "1001 characters"),
        ("width", 100, "width 100"),
        ("height", 37, "height 37"),
        ("width", 512, "32 to 256"),
        ("frames", 6, "frames 6"),
        ("steps", 0, "steps 0 is out of range: allowed 1 to 200"),
        ("steps", 201, "allowed 1 to 200"),
        ("guidance", 21.0, "guidance 21.0 is out of range: allowed 0.0 to 20.0"),
        ("seconds", -1.0, "seconds -1.0"),
        ("sampler", "ddim", "sampler 'ddim'"),
        ("given_release", 1.5, "given_release 1.5 is out of range: allowed 0.0 to 1.0"),
        ("guidance_floor", -0.1, "guidance_floor -0.1 is out of range: allowed 0.0 to 1.0"),
    ],
)
def test_bad_requests_name_the_value_and_range(pipe, field, value, needle):
    req = GenerationRequest(prompt="a red circle")
    setattr(req, field, value)
    with pytest.raises(RequestError, match=needle.replace("(", r"\(").replace(".", r"\.")):
        pipe.resolve(req)


def test_seconds_map_to_1_plus_4k_frames(pipe):
    assert pipe.resolve(GenerationRequest(prompt="x", seconds=2, fps=8)).frames == 17
    assert pipe.resolve(GenerationRequest(prompt="x", seconds=0)).frames == 1


def test_given_frames_are_kept(pipe):
    frames = np.zeros((5, 32, 32, 3), np.uint8)
    mask = [True, False, False, False, False]
    v = pipe.generate(GenerationRequest(prompt="a dot", frames=5, width=32, height=32, given_frames=frames, given_mask=mask))
    assert v.frames.shape == (5, 32, 32, 3)
    with pytest.raises(RequestError, match="given frames"):
        pipe.resolve(GenerationRequest(prompt="a dot", frames=5, width=32, height=32, given_frames=frames[:3], given_mask=mask))


def test_save_load_gives_identical_video(pipe, tmp_path, text_encoder):
    pipe.save_pretrained(tmp_path)
    again = Pipeline.from_pretrained(tmp_path, text_encoder=text_encoder)
    req = GenerationRequest(prompt="a green star", frames=5, seed=1)
    assert np.array_equal(pipe.generate(req).frames, again.generate(req).frames)
    assert again.weights_hash == pipe.weights_hash


def test_missing_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="pipeline.json"):
        Pipeline.from_pretrained(tmp_path / "nowhere")


def test_a_fast_setting_without_a_distilled_denoiser_is_the_full_one_at_fewer_steps(pipe, tmp_path, text_encoder):
    import json

    pipe.save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "pipeline.json").read_text())
    (tmp_path / "pipeline.json").write_text(json.dumps({**cfg, "fast": {"steps": 2}}))
    fast = Pipeline.from_pretrained(tmp_path, text_encoder=text_encoder, fast=True)
    assert (fast.config.steps, fast.config.guidance, fast.config.name) == (2, cfg["guidance"], f"{cfg['name']}-fast")
    req = GenerationRequest(prompt="a green star", frames=5, seed=1, steps=2)
    assert np.array_equal(fast.generate(req).frames, pipe.generate(req).frames)  # the same denoiser
    assert fast.generate(GenerationRequest(prompt="a green star", frames=5, seed=1)).metadata["model_calls"] == 2
    # the guidance floor: the model's, unless the fast setting names its own
    (tmp_path / "pipeline.json").write_text(json.dumps({**cfg, "guidance_floor": 0.3, "fast": {"steps": 2}}))
    assert Pipeline.from_pretrained(tmp_path, text_encoder=text_encoder, fast=True).config.guidance_floor == 0.3
    (tmp_path / "pipeline.json").write_text(json.dumps({**cfg, "guidance_floor": 0.3,
                                                        "fast": {"steps": 2, "guidance_floor": 0.0}}))
    fast = Pipeline.from_pretrained(tmp_path, text_encoder=text_encoder, fast=True)
    assert fast.config.guidance_floor == 0.0 and fast.resolve(GenerationRequest(prompt="x")).guidance_floor == 0.0

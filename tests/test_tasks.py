import numpy as np
import pytest

from kinetoscope import tasks
from kinetoscope.cli import main
from kinetoscope.media import read_video, write_video
from kinetoscope.pipeline import RequestError
from tests.conftest import tiny_pipeline


@pytest.fixture(scope="module")
def pipe(text_encoder):
    p = tiny_pipeline()
    p._text = text_encoder
    return p


def image(h=40, w=60, colour=(200, 30, 30)):
    return np.full((h, w, 3), colour, np.uint8)


def test_image_is_one_frame(pipe):
    assert pipe.generate(tasks.image_request("a red star")).frames.shape == (1, 64, 64, 3)


def test_i2v_gives_the_first_frame(pipe):
    req = tasks.i2v_request(pipe, image(), "a red ball rolling", width=32, height=32, frames=9)
    assert req.given_mask == [True] + [False] * 8
    assert req.given_frames.shape == (9, 32, 32, 3) and (req.given_frames[0] == (200, 30, 30)).all()
    assert pipe.generate(req).frames.shape == (9, 32, 32, 3)


def test_interpolate_holds_both_ends(pipe):
    req = tasks.interpolate_request(pipe, image(), image(colour=(0, 0, 255)), "a morph", width=32, height=32, frames=13)
    assert req.given_mask == [True] + [False] * 8 + [True] * 4
    assert (req.given_frames[-1] == (0, 0, 255)).all()
    with pytest.raises(RequestError, match="too short"):
        tasks.interpolate_request(pipe, image(), image(), "x", width=32, height=32, frames=5)


def test_extend_appends_new_frames_and_keeps_the_old(pipe):
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 255, (9, 32, 32, 3), dtype=np.uint8)
    v = tasks.extend(pipe, clip, "keep going", seconds=2, fps=8, frames=9, steps=2)
    assert v.frames.shape == (9 + 16, 32, 32, 3)
    assert np.array_equal(v.frames[:9], clip)
    with pytest.raises(RequestError, match="needs at least"):
        tasks.extend(pipe, clip[:3], "x", seconds=1, frames=9)


def test_cli_tasks(tiny_model_dir, tmp_path, capsys):
    from PIL import Image

    Image.fromarray(image()).save(tmp_path / "a.png")
    out = tmp_path / "i2v.mp4"
    assert main(["generate", "a ball", "--weights", str(tiny_model_dir), "--image", str(tmp_path / "a.png"),
                 "--size", "32x32", "--frames", "5", "--steps", "2", "--out", str(out), "--quiet"]) == 0
    assert read_video(out)[0].shape == (5, 32, 32, 3)
    write_video(tmp_path / "src.mp4", np.zeros((5, 32, 32, 3), np.uint8), 8)
    assert main(["generate", "more", "--weights", str(tiny_model_dir), "--extend", str(tmp_path / "src.mp4"),
                 "--seconds", "1", "--frames", "5", "--steps", "1", "--out", str(tmp_path / "ext.mp4"), "--quiet"]) == 0
    assert read_video(tmp_path / "ext.mp4")[0].shape[0] == 13
    assert main(["generate", "x", "--weights", str(tiny_model_dir), "--image", str(tmp_path / "missing.png")]) == 2
    assert "missing.png" in capsys.readouterr().err

"""`kinetoscope generate --engine diffusers:FOLDER`: open-weight models through the same command."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from kinetoscope.cli import main

pytest.importorskip("diffusers")

from tests.engines.tiny import save_tiny  # noqa: E402


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-models")
    return {f: save_tiny(f, root / f) for f in ("wan", "wan22-i2v", "cogvideox-i2v")}


def frames_of(path):
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def generate(*args, engine, tmp_path, name="v.mp4"):
    out = tmp_path / name
    code = main(["generate", "a red circle", "--engine", engine, "--steps", "2", "--quiet", "--out", str(out), *args])
    return code, out


def test_generate_with_an_open_weight_folder(models, tmp_path, capsys):
    code, out = generate("--size", "32x32", "--frames", "9", engine=f"diffusers:{models['wan']}", tmp_path=tmp_path)
    assert code == 0, capsys.readouterr().err
    frames = frames_of(out)
    assert len(frames) == 9 and frames[0].shape == (32, 32, 3)
    assert "9 frames, 32x32, 16 fps" in capsys.readouterr().out  # Wan's own 16 fps


def test_image_to_video_and_interpolation_where_the_model_can(models, tmp_path, capsys):
    first, last = tmp_path / "first.png", tmp_path / "last.png"
    Image.fromarray(np.full((40, 50, 3), 200, np.uint8)).save(first)
    Image.fromarray(np.full((40, 50, 3), 20, np.uint8)).save(last)
    spec = f"diffusers:{models['cogvideox-i2v']}"
    code, out = generate("--image", str(first), engine=spec, tmp_path=tmp_path)
    assert code == 0, capsys.readouterr().err
    assert frames_of(out)[0].shape == (16, 16, 3)  # CogVideoX I2V makes only its trained size
    spec = f"diffusers:{models['wan22-i2v']}"
    code, _ = generate("--image", str(first), "--last-image", str(last), "--size", "32x32", "--frames", "9",
                       engine=spec, tmp_path=tmp_path, name="interp.mp4")
    assert code == 0, capsys.readouterr().err


@pytest.mark.parametrize("args,needle", [
    (["--image", "IMG"], "cannot do i2v (--image): it supports t2v, image"),
    (["--extend", "IMG"], "cannot do extend (--extend): it supports t2v, image"),
    (["--frames", "10"], "frames 10 is not allowed"),
    (["--sampler", "heun"], "sampler 'heun' is not available"),
    (["--weights", "somewhere"], "--weights FOLDER is short for --engine builtin:FOLDER"),
])
def test_what_a_model_cannot_do_exits_2_with_a_clear_message(models, tmp_path, capsys, args, needle):
    img = tmp_path / "img.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(img)
    args = [str(img) if a == "IMG" else a for a in args]
    code, out = generate(*args, engine=f"diffusers:{models['wan']}", tmp_path=tmp_path)
    assert code == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()


def test_text_to_video_on_an_image_to_video_model_is_refused(models, tmp_path, capsys):
    code, out = generate(engine=f"diffusers:{models['cogvideox-i2v']}", tmp_path=tmp_path)
    assert code == 2 and "task 't2v' is not supported" in capsys.readouterr().err and not out.exists()


def test_builtin_engine_spec_is_the_weights_shortcut(tiny_model_dir, tmp_path, capsys):
    code, out = generate("--size", "32x32", "--frames", "5", engine=f"builtin:{tiny_model_dir}", tmp_path=tmp_path)
    assert code == 0, capsys.readouterr().err
    assert len(frames_of(out)) == 5

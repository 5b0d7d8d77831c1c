"""`kinetoscope generate` says in one line when the asked size or length is beyond what the model was
trained for (the judgement of engines.base.beyond_trained, from the model's pipeline.json), and still
makes the video; within it, it says nothing."""

import json
import shutil

import pytest

from kinetoscope.cli import main

QUICK = ["--steps", "1", "--seed", "1", "--quiet"]
BEYOND = "beyond what this model was trained for"


@pytest.fixture(scope="module")
def trained_model(tiny_model_dir, tmp_path_factory):
    """The tiny test model, saying (as the retrained built-in model's pipeline.json will) 32x32 and 2 s."""
    folder = tmp_path_factory.mktemp("trained-model") / "model"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "pipeline.json").read_text())
    (folder / "pipeline.json").write_text(json.dumps({**config, "trained_sizes": ["32x32"], "trained_seconds": 2.0}))
    return folder


def notes(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("note:")]


def test_a_size_and_length_beyond_training_get_one_note_and_the_video_is_made(trained_model, tmp_path, capsys):
    out = tmp_path / "v.mp4"
    assert main(["generate", "a red circle", "--weights", str(trained_model), "--size", "64x48", "--seconds", "3",
                 "--out", str(out), *QUICK]) == 0
    captured = capsys.readouterr()
    assert notes(captured.err) == [f"note: size 64x48 is {BEYOND} (32x32); 3 s is {BEYOND} (up to 2 s)"]
    assert out.is_file() and f"wrote {out}" in captured.out


def test_within_training_there_is_no_note(trained_model, tmp_path, capsys):
    assert main(["generate", "a red circle", "--weights", str(trained_model), "--size", "32x32", "--seconds", "2",
                 "--out", str(tmp_path / "v.mp4"), *QUICK]) == 0
    assert notes(capsys.readouterr().err) == []
    assert main(["generate", "a red circle", "--weights", str(trained_model), "--size", "32x32", "--seconds", "9",
                 "--task", "image", "--out", str(tmp_path / "v.png"), *QUICK]) == 0
    assert notes(capsys.readouterr().err) == []  # a still image has no length
    assert main(["generate", "a red circle", "--weights", str(trained_model), "--size", "64x64",
                 "--task", "image", "--out", str(tmp_path / "w.png"), *QUICK]) == 0
    assert notes(capsys.readouterr().err) == [f"note: size 64x64 is {BEYOND} (32x32)"]

"""A model that knows only its training words (the built-in one) says which words of a prompt it never
saw, and which background colours asked for its world never drew: one warning line from
`kinetoscope generate`, read from pipeline.json before torch loads; the video is still made."""

import json
import shutil
import subprocess
import sys

import pytest

from kinetoscope.cli import main
from kinetoscope.request import BUILTIN_WEIGHTS, read_config
from kinetoscope.vocabulary import (prompt_warning, read_vocabulary, unknown_in, unknown_words, unseen_backgrounds,
                                    warning, words_of)

BUILTIN_VOCABULARY = json.loads((BUILTIN_WEIGHTS / "pipeline.json").read_text())["vocabulary"]
QUICK = ["--size", "32x32", "--frames", "5", "--steps", "1", "--seed", "1", "--quiet"]
# a model trained on black backgrounds only, whose colour words stay known because objects have them
BLACK_WORLD = {"vocabulary": ["a", "background", "black", "blue", "circle", "on", "red"],
               "world": {"colours": ["red", "blue"], "background_colours": ["black"]}}


def write_pipeline_json(folder, config: dict):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pipeline.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def vocab_model(tiny_model_dir, tmp_path_factory):
    """The tiny test model, told it knows the built-in model's words."""
    folder = tmp_path_factory.mktemp("vocab-model") / "model"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "pipeline.json").read_text())
    (folder / "pipeline.json").write_text(json.dumps({**config, "vocabulary": BUILTIN_VOCABULARY}))
    return folder


@pytest.fixture(scope="module")
def black_model(tiny_model_dir, tmp_path_factory):
    """The tiny test model, told it knows BLACK_WORLD's words and drew black backgrounds only."""
    folder = tmp_path_factory.mktemp("black-model") / "model"
    shutil.copytree(tiny_model_dir, folder)
    return write_pipeline_json(folder, {**json.loads((folder / "pipeline.json").read_text()), **BLACK_WORLD})


def test_importing_the_vocabulary_loads_no_torch():
    code = ("import sys\nimport kinetoscope.vocabulary as v\n"
            "assert v.read_vocabulary() and v.unknown_in(v.read_vocabulary(), 'a crimson circle') == ['crimson']\n"
            "print([m for m in ('torch', 'numpy') if m in sys.modules])\n"
            "assert v.unseen_backgrounds({'background_colours': ['black']}, 'on a blue background') == ['blue']\n"
            "print([m for m in ('torch',) if m in sys.modules])")  # the background check reads the lexicon: no torch
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["[]", "[]"], r.stdout + r.stderr


def test_words_and_the_unknown_ones():
    assert words_of("a Red-ish circle, 2s") == ["a", "red-ish", "circle", "2s"]
    assert unknown_words("a crimson dragon and a crimson circle", {"a", "and", "circle"}) == ["crimson", "dragon"]
    assert unknown_words("0s a circle\n2s a crimson one", {"a", "circle"}) == ["crimson", "one"]  # shot times are not words
    assert unknown_in(None, "anything at all") == [] and unknown_in(["a"], None, "", "a b") == ["b"]
    from kinetoscope.models.words import unknown_words as old, words_of as old_words  # where they were first

    assert (old, old_words) == (unknown_words, words_of)


def test_a_folder_reads_its_vocabulary_or_none(tiny_model_dir, vocab_model, tmp_path):
    assert read_vocabulary() == BUILTIN_VOCABULARY  # the shipped model's
    assert read_vocabulary(vocab_model) == BUILTIN_VOCABULARY
    assert read_vocabulary(tiny_model_dir) is None and read_vocabulary(tmp_path / "nowhere") is None


def test_the_warning_names_the_words_and_what_the_model_knows():
    line = warning(["crimson", "dragon"], BUILTIN_VOCABULARY)
    assert "\n" not in line
    assert "never saw these words in training" in line and "crimson, dragon" in line
    assert "colours red, orange" in line and "circle" in line and "bounce" in line


def test_a_background_colour_the_world_never_drew_is_named(tmp_path):
    config = read_config(write_pipeline_json(tmp_path / "black", BLACK_WORLD))
    line = prompt_warning(config, "a red circle on a blue background")
    assert line is not None and "\n" not in line
    assert "never saw these backgrounds in training, so it draws nothing reliable for them: blue background (" in line
    assert "backgrounds black;" in line
    assert prompt_warning(config, "a red circle on a black background") is None
    assert prompt_warning(config, "a blue circle") is None  # blue is an object's colour here, not a background
    both = prompt_warning(config, "a crimson circle on a blue background", see="its card")
    assert both == ("the model never saw these words and backgrounds in training, so it draws nothing reliable "
                    "for them: crimson, blue background (it knows: colours red, blue; shapes circle; "
                    "backgrounds black; see its card)")
    assert unseen_backgrounds(config.world, "a red circle against a blue backdrop", None, "",
                              "a circle in front of a red one", "a red dot on blue") == ["blue", "red"]


def test_the_built_in_warning_lists_black_with_the_backgrounds_not_the_colours():
    line = prompt_warning(read_config(None), "a red circle on a blue background")
    assert "colours red, orange, yellow, green, cyan, blue, purple, pink, white; shapes" in line
    assert "backgrounds black;" in line


def test_a_folder_without_background_colours_names_no_background(tmp_path):
    for world in ({}, {"world": None}, {"world": {"colours": ["red"]}}, {"world": {"background_colours": []}}):
        folder = write_pipeline_json(tmp_path / "plain", {"vocabulary": BLACK_WORLD["vocabulary"], **world})
        config = read_config(folder)
        assert unseen_backgrounds(config.world, "a red circle on a blue background") == [], world
        assert prompt_warning(config, "a red circle on a blue background") is None, world
    assert prompt_warning(read_config(tmp_path / "nowhere"), "a red circle on a blue background") is None


def test_generate_warns_of_unknown_words_and_still_writes_the_video(vocab_model, tmp_path, capsys):
    out = tmp_path / "v.mp4"
    assert main(["generate", "a crimson dragon circle", "--negative", "blurry", "--weights", str(vocab_model),
                 "--out", str(out), *QUICK]) == 0
    captured = capsys.readouterr()
    warnings = [x for x in captured.err.splitlines() if x.startswith("warning:")]
    assert len(warnings) == 1, captured.err
    assert "draws nothing reliable for them: crimson, dragon, blurry (it knows: colours red" in warnings[0]
    assert out.is_file() and f"wrote {out}" in captured.out


def test_a_prompt_of_known_words_gives_no_warning(vocab_model, tiny_model_dir, tmp_path, capsys):
    assert main(["generate", "a red circle bouncing", "--weights", str(vocab_model), "--out", str(tmp_path / "v.mp4"),
                 *QUICK]) == 0
    assert "warning" not in capsys.readouterr().err
    # a model that records no vocabulary is not limited to one: no warning either
    assert main(["generate", "a crimson dragon", "--weights", str(tiny_model_dir), "--out", str(tmp_path / "w.mp4"),
                 *QUICK]) == 0
    assert "warning" not in capsys.readouterr().err


def test_generate_warns_of_a_background_the_model_never_drew(black_model, tmp_path, capsys):
    out = tmp_path / "v.mp4"
    assert main(["generate", "a red circle on a blue background", "--weights", str(black_model), "--out", str(out),
                 *QUICK]) == 0
    captured = capsys.readouterr()
    warnings = [x for x in captured.err.splitlines() if x.startswith("warning:")]
    assert len(warnings) == 1, captured.err
    assert "draws nothing reliable for them: blue background (it knows: " in warnings[0]
    assert "backgrounds black; see" in warnings[0] and out.is_file()
    assert main(["generate", "a red circle on a black background", "--weights", str(black_model),
                 "--out", str(tmp_path / "w.mp4"), *QUICK]) == 0
    assert "warning" not in capsys.readouterr().err


def test_other_engines_get_no_warning(tmp_path, capsys):
    assert main(["generate", "a crimson dragon", "--engine", f"diffusers:{tmp_path / 'none'}",
                 "--out", str(tmp_path / "v.mp4")]) == 2
    assert "warning" not in capsys.readouterr().err


def test_a_refused_value_gives_no_warning(vocab_model, tmp_path, capsys):
    assert main(["generate", "a crimson dragon", "--weights", str(vocab_model), "--steps", "0",
                 "--out", str(tmp_path / "v.mp4")]) == 2
    err = capsys.readouterr().err
    assert "steps 0 is out of range" in err and "warning" not in err


def test_storyboard_shots_are_warned_of_too(vocab_model, tmp_path, capsys):
    board = tmp_path / "board.json"
    board.write_text(json.dumps({"shots": [{"at": "0s", "prompt": "a red circle"},
                                           {"at": "1s", "prompt": "a teal hexagon"}]}))
    base = ["generate", "--weights", str(vocab_model), "--size", "32x32", "--steps", "1", "--seed", "1", "--quiet",
            "--seconds", "2"]
    assert main([*base, "--storyboard", str(board), "--out", str(tmp_path / "a.mp4")]) == 0
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "for them: teal, hexagon (" in err, err
    assert main([*base, "--at", "0s", "a red circle", "--at", "1s", "a mauve circle", "--out", str(tmp_path / "b.mp4")]) == 0
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "for them: mauve (" in err, err


def test_the_built_in_model_reads_only_what_it_was_trained_on():
    """A word the warning names adds nothing to what the built-in model is given: 'falling' (a
    motion its world never drew) and 'on a blue background' (it drew black ones only) are left out."""
    import torch

    from kinetoscope.pipeline import Pipeline

    enc = Pipeline.from_pretrained().text_encoder
    s, m = enc(["a red ball falling on a blue background", "a red ball", "a red ball moving left"])
    assert torch.equal(m[0], m[1]) and torch.equal(s[0], s[1])
    assert not torch.equal(m[1], m[2])

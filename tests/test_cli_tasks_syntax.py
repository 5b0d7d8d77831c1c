"""`kinetoscope generate` has one task syntax, `--task NAME` with its inputs (`--image`, `--last-image`,
`--video`); the flag-only forms (`--image A` alone, `--extend FILE`, `--keep` without `--task`, ...) still
run the same task for one release and print one note naming the `--task` form. `--help` shows the
`--task` form and marks the old ones as deprecated aliases."""

import json

import numpy as np
import pytest
from PIL import Image

from kinetoscope.cli import main
from kinetoscope.media import read_metadata, read_video, write_video

QUICK = ["--size", "32x32", "--steps", "1", "--seed", "3", "--quiet"]
REMOVAL = "is deprecated and will be removed in the next release; use"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    Image.fromarray(np.full((32, 32, 3), (200, 30, 30), np.uint8)).save(folder / "a.png")
    Image.fromarray(np.full((32, 32, 3), (20, 20, 200), np.uint8)).save(folder / "b.png")
    write_video(folder / "src.mp4", np.full((17, 32, 32, 3), 90, np.uint8), 8)
    (folder / "board.json").write_text(json.dumps({"seconds": 2, "shots": [{"at": 0, "prompt": "a red dot"},
                                                                           {"at": "1s", "prompt": "a blue dot"}]}))
    return {"a": str(folder / "a.png"), "b": str(folder / "b.png"), "src": str(folder / "src.mp4"),
            "board": str(folder / "board.json")}


def deprecation_notes(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("note:") and "deprecated" in line]


# (task, the old form, the --task form, the old form as the note names it, the new form as the note names it)
CASES = [
    ("i2v", ["--image", "{a}", "--frames", "5"], ["--task", "i2v", "--image", "{a}", "--frames", "5"],
     "--image {a} without --task", "--task i2v --image {a}"),
    ("interpolate", ["--image", "{a}", "--last-image", "{b}", "--frames", "9"],
     ["--task", "interpolate", "--image", "{a}", "--last-image", "{b}", "--frames", "9"],
     "--image {a} --last-image {b} without --task", "--task interpolate --image {a} --last-image {b}"),
    ("extend", ["--extend", "{src}", "--seconds", "1", "--frames", "9"],
     ["--task", "extend", "--video", "{src}", "--seconds", "1", "--frames", "9"],
     "--extend {src}", "--task extend --video {src}"),
    ("extend", ["--extend", "{src}", "--backward", "--seconds", "1", "--frames", "9"],
     ["--task", "extend", "--video", "{src}", "--backward", "--seconds", "1", "--frames", "9"],
     "--extend {src}", "--task extend --video {src} --backward"),
    ("extend", ["--task", "extend", "--extend", "{src}", "--seconds", "1", "--frames", "9"],
     ["--task", "extend", "--video", "{src}", "--seconds", "1", "--frames", "9"],
     "--extend {src}", "--task extend --video {src}"),
    ("extend", ["--video", "{src}", "--backward", "--seconds", "1", "--frames", "9"],
     ["--task", "extend", "--video", "{src}", "--backward", "--seconds", "1", "--frames", "9"],
     "--backward without --task", "--task extend --video {src} --backward"),
    ("storyboard", ["--at", "0s", "a red dot", "--at", "1s", "a blue dot", "--seconds", "2", "--frames", "5"],
     ["--task", "storyboard", "--at", "0s", "a red dot", "--at", "1s", "a blue dot", "--seconds", "2", "--frames", "5"],
     "--at without --task", "--task storyboard --at TIME PROMPT ..."),
    ("storyboard", ["--storyboard", "{board}", "--frames", "5"],
     ["--task", "storyboard", "--storyboard", "{board}", "--frames", "5"],
     "--storyboard {board} without --task", "--task storyboard --storyboard {board}"),
    ("recut", ["--video", "{src}", "--keep", "0:1"], ["--task", "recut", "--video", "{src}", "--keep", "0:1"],
     "--keep 0:1 without --task", "--task recut --video {src} --keep 0:1"),
    ("edit", ["--video", "{src}", "--strength", "0.5"], ["--task", "edit", "--video", "{src}", "--strength", "0.5"],
     "--strength 0.5 without --task", "--task edit --video {src} --strength 0.5"),
]


@pytest.mark.parametrize("task,old,new,old_named,new_named", CASES,
                         ids=[f"{c[0]}:{' '.join(a for a in c[1] if a.startswith('--'))}" for c in CASES])
def test_an_old_form_makes_what_its_task_form_makes_and_says_it_is_deprecated(
        tiny_model_dir, files, tmp_path, capsys, task, old, new, old_named, new_named):
    fill = lambda args: [a.format_map(files) for a in args]  # noqa: E731
    w = ["--weights", str(tiny_model_dir), *QUICK]
    assert main(["generate", "a red dot", *w, *fill(new), "--out", str(tmp_path / "new.mp4")]) == 0
    captured = capsys.readouterr()
    assert deprecation_notes(captured.err) == [] and "deprecated" not in captured.err, captured.err
    assert main(["generate", "a red dot", *w, *fill(old), "--out", str(tmp_path / "old.mp4")]) == 0
    captured = capsys.readouterr()
    assert deprecation_notes(captured.err) == [
        f"note: {old_named.format_map(files)} {REMOVAL} {new_named.format_map(files)}"], captured.err
    assert f"wrote {tmp_path / 'old.mp4'} ({task}: " in captured.out
    made, expected = read_metadata(tmp_path / "old.mp4")["recipe"], read_metadata(tmp_path / "new.mp4")["recipe"]
    assert made["task"] == task and made == expected
    assert read_video(tmp_path / "old.mp4")[0].shape == read_video(tmp_path / "new.mp4")[0].shape


def test_text_to_video_and_the_task_forms_print_no_note(tiny_model_dir, files, tmp_path, capsys):
    w = ["--weights", str(tiny_model_dir), *QUICK]
    for extra in (["--frames", "5"], ["--task", "t2v", "--frames", "5"], ["--task", "loop", "--video", files["src"]]):
        assert main(["generate", "a red dot", *w, *extra, "--out", str(tmp_path / "v.mp4")]) == 0, extra
        assert "deprecated" not in capsys.readouterr().err, extra


def test_a_bad_old_form_is_refused_before_any_note(tiny_model_dir, files, tmp_path, capsys):
    out = tmp_path / "bad.mp4"
    assert main(["generate", "x", "--weights", str(tiny_model_dir), "--backward", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--backward needs --task extend --video FILE" in err and "deprecated" not in err
    assert main(["generate", "x", "--weights", str(tiny_model_dir), "--extend", files["src"],
                 "--video", files["src"], "--out", str(out)]) == 2
    assert "give the video to extend once" in capsys.readouterr().err and not out.exists()


def test_help_shows_the_task_form_and_marks_the_old_flags_deprecated(capsys):
    with pytest.raises(SystemExit) as e:
        main(["generate", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    tasks, _, deprecated = text.partition("deprecated aliases")
    for line in ("--task i2v --image FILE", "--task interpolate --image FILE --last-image FILE",
                 "--task extend --video FILE [--backward]", "--task recut --video FILE --keep A:B",
                 "--task storyboard --at TIME PROMPT ... | --storyboard FILE", "--task remix --video FILE"):
        assert line in tasks.partition("\ntasks")[2], line
    for old, new in (("--image FILE without --task", "use --task i2v --image FILE"),
                     ("--extend FILE [--backward]", "use --task extend --video FILE [--backward]"),
                     ("--keep A:B without --task", "use --task recut --video FILE --keep A:B")):
        assert any(old in line and new in line for line in deprecated.splitlines()), (old, deprecated)
    options = text.partition("\ndeprecated options:")[2].partition("\n\n")[0]
    assert "--extend VIDEO" in options and "use --task extend --video VIDEO" in " ".join(options.split())

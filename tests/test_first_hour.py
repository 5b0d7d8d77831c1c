"""A new user's first hour with `kinetoscope generate`: a bad value is refused at once, progress in a
log is plain lines, --help states each default once, a .png holds every frame, the seed is reported."""

import re
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from kinetoscope.cli import main
from kinetoscope.media import frame_sheet, read_image, read_metadata, write_video
from kinetoscope.media.write import SHEET_GAP, SHEET_MAX_SIDE

REFUSAL_SECONDS = 3.0  # measured about 0.1 s on 2 busy cores (it was 3 to 7 s while torch and the model loaded first)


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "kinetoscope", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("option,value,needles", [
    ("--size", "7x7", ["width 7", "multiple of 16", "32 to 256"]),
    ("--size", "0x64", ["width 0", "32 to 256"]),
    ("--seconds", "999", ["seconds 999", "0 to 32"]),
    ("--fps", "0", ["fps 0", "1 to 60"]),
    ("--steps", "500", ["steps 500", "1 to 200"]),
    ("--guidance", "-1", ["guidance -1", "0.0 to 20.0"]),
])
def test_a_bad_value_is_refused_at_once_naming_it_and_the_range(tmp_path, option, value, needles):
    out = tmp_path / "v.mp4"
    t0 = time.perf_counter()
    r = run_cli("generate", "a red circle", option, value, "--out", str(out), timeout=60)
    took = time.perf_counter() - t0
    assert r.returncode == 2, r.stderr
    assert all(n in r.stderr for n in needles), r.stderr
    assert r.stdout == "" and not out.exists()
    assert took < REFUSAL_SECONDS, f"the refusal took {took:.2f} s"


def test_the_check_loads_neither_torch_nor_the_model(tmp_path):
    code = ("import sys\nfrom kinetoscope.cli import main\n"
            f"rc = main(['generate', 'a red circle', '--size', '7x7', '--out', {str(tmp_path / 'v.mp4')!r}])\n"
            "heavy = [m for m in ('torch', 'transformers', 'safetensors', 'av', 'numpy') if m in sys.modules]\n"
            "print(rc, heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "2 []", r.stdout + r.stderr


def test_the_full_check_still_runs_once_the_model_is_loaded(tiny_model_dir, tmp_path, capsys):
    """The frame rule (1+4k) needs the model's autoencoder: checked after loading, before any work."""
    assert main(["generate", "a red ball", "--weights", str(tiny_model_dir), "--frames", "10",
                 "--out", str(tmp_path / "v.mp4")]) == 2
    assert "frames 10 is not allowed: use 1+4k" in capsys.readouterr().err


@pytest.mark.slow
def test_progress_on_a_pipe_is_plain_lines_and_quiet_is_silent(tiny_model_dir, tmp_path):
    base = ["generate", "a red ball", "--weights", str(tiny_model_dir), "--size", "32x32", "--frames", "5",
            "--steps", "3", "--out", str(tmp_path / "v.mp4")]
    r = run_cli(*base)
    assert r.returncode == 0, r.stderr
    text = r.stdout + r.stderr
    assert "\r" not in text and "\x1b" not in text and "step/s" not in text
    lines = r.stderr.splitlines()
    assert [ln for ln in lines if ln.startswith("denoise")] == ["denoise 1/3", "denoise 2/3", "denoise 3/3"]
    assert "decode 1/1" in lines
    quiet = run_cli(*base, "--quiet", "--seed", "5")
    assert quiet.returncode == 0, quiet.stderr
    assert not re.search(r"^(denoise|decode) ", quiet.stderr, re.M) and "\r" not in quiet.stderr
    assert "seed 5)" in quiet.stdout


def test_help_states_each_default_once(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    for command in ("generate", "train", "eval", "serve", "worker", "verify", "admin"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "(default: None)" not in text and "(default: False)" not in text, command
        for block in re.split(r"\n(?=  \S)", text):  # one option (its name, then its help) per block
            assert block.lower().count("default") <= 1, f"{command}: {block}"
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--seed SEED random seed: same seed, same video (default: a new one each run" in text


def test_a_png_holds_every_frame_in_order(tmp_path):
    colours = [(10 * k, 255 - 10 * k, (37 * k) % 256) for k in range(21)]
    frames = np.stack([np.full((24, 40, 3), c, np.uint8) for c in colours])  # (21, 24, 40, 3), one colour a frame
    path = write_video(tmp_path / "sheet.png", frames, 8)
    sheet = read_image(path)
    cols, rows = 5, 5  # a near-square grid: ceil(sqrt(21))
    assert sheet.shape == (rows * 24 + (rows - 1) * SHEET_GAP, cols * 40 + (cols - 1) * SHEET_GAP, 3)
    for k, c in enumerate(colours):
        r, col = divmod(k, cols)
        y, x = r * (24 + SHEET_GAP) + 12, col * (40 + SHEET_GAP) + 20
        assert tuple(sheet[y, x]) == c, k
    big = frame_sheet(np.zeros((257, 256, 256, 3), np.uint8))  # the built-in model's longest, largest clip
    assert max(big.size) <= SHEET_MAX_SIDE and big.size[0] > 16 * 200  # every frame, scaled down a little


def test_the_command_line_png_is_every_frame(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "sheet.png"
    assert main(["generate", "a red ball", "--weights", str(tiny_model_dir), "--size", "32x32", "--frames", "33",
                 "--steps", "1", "--out", str(out), "--quiet"]) == 0
    assert "33 frames" in capsys.readouterr().out
    assert Image.open(out).size == (6 * 32 + 5 * SHEET_GAP, 6 * 32 + 5 * SHEET_GAP)  # 33 tiles: 6 x 6, not 16


def test_without_a_seed_each_run_picks_one_and_reports_it(tiny_model_dir, tmp_path, capsys):
    base = ["generate", "a red ball", "--weights", str(tiny_model_dir), "--size", "32x32", "--frames", "1",
            "--steps", "1", "--quiet"]
    seeds = []
    for k in range(2):
        out = tmp_path / f"v{k}.png"
        assert main([*base, "--out", str(out)]) == 0
        seeds.append(int(re.search(r"seed (\d+)\)", capsys.readouterr().out).group(1)))
        assert read_metadata(out)["request"]["seed"] == seeds[-1]  # the recipe keeps it: the video can be made again
    assert seeds[0] != seeds[1]
    assert main([*base, "--seed", "0", "--out", str(tmp_path / "zero.png")]) == 0
    assert "seed 0)" in capsys.readouterr().out

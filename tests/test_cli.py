import subprocess
import sys

import av
import pytest

from kinetoscope.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "kinetoscope.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_generate_writes_an_mp4_that_decodes(tiny_model_dir, tmp_path):
    out = tmp_path / "clip.mp4"
    r = run_cli("generate", "a red ball bouncing", "--weights", str(tiny_model_dir), "--size", "48x32",
                "--seconds", "1", "--fps", "8", "--steps", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert str(out) in r.stdout
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 9 and frames[0].shape == (32, 48, 3)


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--size", "100x37"], "width 100"),
        (["--steps", "0"], "steps 0 is out of range"),
        (["--size", "big"], "WIDTHxHEIGHT"),
        (["--out", "x.avi"], ".mp4"),
        (["--fast"], "has no fast (distilled) denoiser"),
    ],
)
def test_bad_inputs_exit_nonzero_with_a_clear_message(tiny_model_dir, tmp_path, capsys, args, needle):
    code = main(["generate", "a red ball", "--weights", str(tiny_model_dir), "--out", str(tmp_path / "v.mp4"), *args])
    assert code == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "v.mp4").exists()


def test_empty_prompt_and_missing_weights(tiny_model_dir, tmp_path, capsys):
    assert main(["generate", "  ", "--weights", str(tiny_model_dir), "--out", str(tmp_path / "v.mp4")]) == 2
    assert "prompt is empty" in capsys.readouterr().err
    assert main(["generate", "a red ball", "--weights", str(tmp_path / "none")]) == 2
    assert "no model at" in capsys.readouterr().err
    assert main(["generate", "a red ball", "--fast", "--engine", "builtin", "--out", str(tmp_path / "v.mp4")]) == 2
    assert "--fast is short for --engine builtin?fast=1" in capsys.readouterr().err


def test_help_reads_well():
    r = run_cli("--help")
    assert r.returncode == 0 and "generate" in r.stdout and "train" in r.stdout


@pytest.mark.parametrize("args", [["a school shooting"], ["a calm lake", "--negative", "P O R N"],
                                  ["--at", "0s", "a calm lake", "--at", "1s", "a terrorist attack on a crowded market"]])
def test_the_content_policy_applies_on_the_command_line_as_in_the_studio(tiny_model_dir, tmp_path, capsys, args):
    code = main(["generate", *args, "--weights", str(tiny_model_dir), "--out", str(tmp_path / "v.mp4")])
    assert code == 2
    assert "refused by the content policy" in capsys.readouterr().err
    assert not (tmp_path / "v.mp4").exists()


def test_policy_file_and_no_policy(tiny_model_dir, tmp_path, capsys):
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\ncategories:\n  fruit:\n    reason: no fruit here\n    terms: [banana]\n")
    base = ["generate", "--weights", str(tiny_model_dir), "--out", str(tmp_path / "v.mp4"), "--size", "32x32",
            "--frames", "1", "--steps", "1", "--quiet"]
    assert main([*base, "a banana", "--policy", str(policy)]) == 2
    assert "no fruit here" in capsys.readouterr().err and not (tmp_path / "v.mp4").exists()
    assert main([*base, "a banana", "--policy", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err
    assert main([*base, "a school shooting", "--no-policy"]) == 0
    assert (tmp_path / "v.mp4").exists()


def test_a_diverging_training_run_stops_with_a_clear_error_not_a_traceback(tmp_path, capsys):
    """lr=1e30 makes the loss non-finite within a few steps: one line naming the step, exit 2."""
    import torch

    from kinetoscope.models import CausalVAE
    from tests.conftest import TINY_VAE

    torch.manual_seed(0)
    CausalVAE(TINY_VAE).save_pretrained(tmp_path / "vae")
    code = main(["train", "--stage", "denoiser", f"run_dir={tmp_path / 'run'}", f"vae={tmp_path / 'vae'}",
                 "dit_model={width: 32, depth: 1, heads: 2}", "batch_size=2", "frames=5", "width=32", "height=32",
                 "steps=10", "sample_every=0", "threads=1", "precision=fp32", "lr=1e30", "warmup=0"])
    err = capsys.readouterr().err
    assert code == 2, err
    last = err.strip().splitlines()[-1]  # after the progress bar
    assert last.startswith("kinetoscope: error: training ") and "at step " in last and "Traceback" not in err, err


def test_train_overrides_may_follow_resume(tmp_path, capsys):
    """`train run_dir=R --resume steps=N` continues the run to N (argparse alone would stop at --resume)."""
    import torch

    from kinetoscope.models import CausalVAE
    from tests.conftest import TINY_VAE

    torch.manual_seed(0)
    CausalVAE(TINY_VAE).save_pretrained(tmp_path / "vae")
    run = tmp_path / "run"
    common = [f"vae={tmp_path / 'vae'}", "dit_model={width: 32, depth: 1, heads: 2}", "batch_size=2", "frames=5",
              "width=32", "height=32", "sample_every=0", "threads=1", "precision=fp32"]
    assert main(["train", "--stage", "denoiser", f"run_dir={run}", *common, "steps=2"]) == 0
    assert main(["train", "--stage", "denoiser", f"run_dir={run}", "--resume", *common, "steps=4"]) == 0
    assert torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)["step"] == 4
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["train", f"run_dir={run}", "--resume", "stray"])
    assert e.value.code == 2 and "unrecognized arguments: stray" in capsys.readouterr().err

"""`kinetoscope generate` signs and watermarks by default; `kinetoscope verify` reports it with script-friendly exit codes."""

import json

import pytest

from kinetoscope.cli import main
from kinetoscope.media import read_video, write_video


@pytest.fixture(scope="module")
def made(tiny_model_dir, tmp_path_factory):
    """One generated clip (signed + watermarked) and its data dir."""
    tmp = tmp_path_factory.mktemp("verify")
    out, data = tmp / "clip.mp4", tmp / "data"
    code = main(["generate", "a red ball", "--weights", str(tiny_model_dir), "--size", "64x64", "--seconds", "1",
                 "--steps", "2", "--quiet", "--out", str(out), "--data-dir", str(data)])
    assert code == 0
    return out, data


def verify(capsys, *args):
    code = main(["verify", *map(str, args)])
    return code, capsys.readouterr()


def test_generated_output_verifies_as_trusted(made, capsys):
    out, data = made
    code, printed = verify(capsys, out, "--data-dir", data)
    assert code == 0
    assert "C2PA manifest: trusted" in printed.out and "watermark: found" in printed.out
    assert "this installation" in printed.out
    code, printed = verify(capsys, out, "--data-dir", data, "--json")
    report = json.loads(printed.out)
    assert code == 0 and report["c2pa"]["state"] == "trusted"
    assert report["c2pa"]["actions"][0]["action"] == "c2pa.created"
    assert "prompt" not in report["c2pa"]["generation"]  # not without --sign-prompt
    assert report["watermark"]["found"] and report["watermark"]["matches_manifest"]


def test_exit_codes_for_tampered_missing_and_absent_files(made, tmp_path, capsys):
    out, data = made
    raw = bytearray(out.read_bytes())
    raw[raw.index(b"mdat") + 24] ^= 0xFF
    (tmp_path / "tampered.mp4").write_bytes(bytes(raw))
    code, printed = verify(capsys, tmp_path / "tampered.mp4", "--data-dir", data)
    assert code == 1 and "TAMPERED" in printed.out

    frames, fps = read_video(out)
    write_video(tmp_path / "reencoded.mp4", frames, fps)  # manifest stripped, watermark kept
    code, printed = verify(capsys, tmp_path / "reencoded.mp4", "--data-dir", data)
    assert code == 3 and "C2PA manifest: none" in printed.out and "watermark: found" in printed.out

    code, printed = verify(capsys, tmp_path / "nope.mp4", "--data-dir", data)
    assert code == 2 and "no such file" in printed.err


def test_generate_options_sign_prompt_and_no_watermark(tiny_model_dir, tmp_path, capsys):
    out, data = tmp_path / "v.png", tmp_path / "data"
    assert main(["generate", "a blue square", "--weights", str(tiny_model_dir), "--size", "64x64", "--frames", "1",
                 "--steps", "1", "--quiet", "--out", str(out), "--data-dir", str(data),
                 "--sign-prompt", "--no-watermark"]) == 0
    capsys.readouterr()
    code, printed = verify(capsys, out, "--data-dir", data, "--json")
    report = json.loads(printed.out)
    assert code == 0 and report["c2pa"]["generation"]["prompt"] == "a blue square"
    assert not report["watermark"]["found"]


def test_verify_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    text = capsys.readouterr().out
    for line in ("0  manifest trusted or valid", "1  manifest tampered", "3  no manifest"):
        assert line in text

"""Signed outputs: C2PA manifest (trusted / valid / tampered / missing) and the watermark, read back by verify_file."""

import stat
import struct

import pytest

from kinetoscope.data.world import WorldConfig, make_clip
from kinetoscope.media import MediaError, read_metadata, read_video, write_video
from kinetoscope.media import keys as keys_mod
from kinetoscope.media import watermark as wm
from kinetoscope.media.provenance import save_video, verify_file
from kinetoscope.pipeline import Video

TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def video(frames=9, seed=0) -> Video:
    clip = make_clip(seed, WorldConfig(frames=frames)).frames
    meta = {"generator": "kinetoscope 0.1.0", "model": "kinetoscope-builtin", "weights_sha256": "ab" * 32,
            "request": {"prompt": "a secret red circle", "negative_prompt": "blur", "seed": 3, "steps": 20}}
    return Video(frames=clip, fps=8, metadata=meta)


@pytest.fixture
def data(tmp_path):
    return tmp_path / "data"


def test_signed_mp4_is_trusted_here_and_says_what_made_it(tmp_path, data):
    out = save_video(video(), tmp_path / "clip.mp4", data_dir=data, video_id="vid_1")
    report = verify_file(out, data_dir=data)
    c = report["c2pa"]
    assert c["state"] == "trusted" and c["errors"] == []
    keys = keys_mod.load_keys(data)
    assert keys.installation_id[:12] in c["signer"]["common_name"]
    assert c["actions"][0]["action"] == "c2pa.created" and c["actions"][0]["digitalSourceType"] == TRAINED
    gen = c["generation"]
    assert gen["model"] == "kinetoscope-builtin" and gen["weights_sha256"] == "ab" * 32
    assert gen["video_id"] == "vid_1" and gen["installation_id"] == keys.installation_id
    assert len(gen["recipe_hmac_sha256"]) == 64 and gen["parameters"] == {"seed": 3, "steps": 20}
    assert "prompt" not in gen  # not opted in
    assert read_metadata(out)["video_id"] == "vid_1"
    mark = report["watermark"]
    assert mark["found"] and mark["this_installation"] and mark["matches_manifest"]
    assert mark["video_tag"] == wm.tag("video", "vid_1")
    frames, _ = read_video(out)
    assert frames.shape == (9, 64, 64, 3)


def test_prompt_is_signed_only_when_opted_in_and_can_be_left_out_entirely(tmp_path, data):
    out = save_video(video(), tmp_path / "clip.mp4", data_dir=data, include_prompt=True)
    assert verify_file(out, data_dir=data)["c2pa"]["generation"]["prompt"] == "a secret red circle"
    assert read_metadata(out)["request"]["prompt"] == "a secret red circle"  # the recipe, for remix
    private = save_video(video(), tmp_path / "private.mp4", data_dir=data, keep_recipe=False)
    assert "secret" not in private.read_bytes().decode("latin-1")
    assert "prompt" not in read_metadata(private)["request"]


def test_other_installations_see_valid_not_trusted(tmp_path, data):
    out = save_video(video(), tmp_path / "clip.mp4", data_dir=data)
    keys_mod.load_keys(tmp_path / "other")  # another installation with its own CA
    elsewhere = verify_file(out, data_dir=tmp_path / "other")
    assert elsewhere["c2pa"]["state"] == "valid" and "not signed by this installation" in elsewhere["c2pa"]["note"]
    assert elsewhere["watermark"]["found"] and not elsewhere["watermark"]["this_installation"]
    nowhere = verify_file(out, data_dir=tmp_path / "empty")  # no installation: no trust anchor, none created
    assert nowhere["c2pa"]["state"] == "valid" and not (tmp_path / "empty").exists()


def test_a_flipped_byte_is_reported_tampered(tmp_path, data):
    out = save_video(video(), tmp_path / "clip.mp4", data_dir=data)
    raw = bytearray(out.read_bytes())
    mdat = _mp4_box(bytes(raw), b"mdat")
    raw[mdat + 16] ^= 0xFF  # inside the video data
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(raw))
    report = verify_file(bad, data_dir=data)
    assert report["c2pa"]["state"] == "tampered" and report["c2pa"]["errors"]


def _mp4_box(data: bytes, kind: bytes) -> int:
    """Offset of the first top-level MP4 box of this kind."""
    pos = 0
    while pos < len(data):
        n, k = struct.unpack(">I4s", data[pos:pos + 8])
        if k == kind:
            return pos
        pos += n
    raise AssertionError(f"no {kind} box")


def _strip_png_chunk(data: bytes, kind: bytes) -> bytes:
    out, pos = bytearray(data[:8]), 8
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        chunk = data[pos:pos + 12 + n]
        if chunk[4:8] != kind:
            out += chunk
        pos += 12 + n
    return bytes(out)


def test_a_stripped_manifest_is_reported_missing(tmp_path, data):
    mp4 = save_video(video(), tmp_path / "clip.mp4", data_dir=data, video_id="v9")
    frames, fps = read_video(mp4)
    write_video(tmp_path / "copy.mp4", frames, fps)  # re-encoded: the manifest is gone, the watermark stays
    report = verify_file(tmp_path / "copy.mp4", data_dir=data)
    assert report["c2pa"]["state"] == "missing"
    assert report["watermark"]["found"] and report["watermark"]["video_tag"] == wm.tag("video", "v9")

    png = save_video(video(frames=1), tmp_path / "still.png", data_dir=data)
    assert verify_file(png, data_dir=data)["c2pa"]["state"] == "trusted"
    raw = png.read_bytes()
    stripped = _strip_png_chunk(raw, b"caBX")  # the chunk c2pa stores its manifest in
    assert len(stripped) < len(raw)
    (tmp_path / "stripped.png").write_bytes(stripped)
    report = verify_file(tmp_path / "stripped.png", data_dir=data)
    assert report["c2pa"]["state"] == "missing" and report["watermark"]["found"]


def test_gif_is_signed_and_webm_is_watermarked_but_cannot_carry_a_manifest(tmp_path, data):
    gif = save_video(video(), tmp_path / "clip.gif", data_dir=data)
    assert verify_file(gif, data_dir=data)["c2pa"]["state"] == "trusted"
    webm = save_video(video(), tmp_path / "clip.webm", data_dir=data)
    report = verify_file(webm, data_dir=data)
    assert report["c2pa"]["state"] == "missing" and "webm" in report["c2pa"]["note"]
    assert report["watermark"]["found"]


def test_an_extension_names_its_parent_as_ingredient(tmp_path, data):
    parent = save_video(video(), tmp_path / "first.mp4", data_dir=data)
    child = save_video(video(seed=1), tmp_path / "longer.mp4", data_dir=data, action="edited", parent=parent)
    c = verify_file(child, data_dir=data)["c2pa"]
    assert c["state"] == "trusted"
    assert [a["action"] for a in c["actions"]] == ["c2pa.opened", "c2pa.edited"]
    assert c["ingredients"] == [{"title": "first.mp4", "relationship": "parentOf", "format": "video/mp4", "signed": True}]


def test_keys_are_private_made_once_and_replaceable(tmp_path, data):
    first = keys_mod.load_keys(data)
    assert keys_mod.load_keys(data).installation_id == first.installation_id
    folder = data / "provenance"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for f in folder.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f

    # an operator's own CA and signing certificate (made here with the same helpers)
    ca_key, ca = keys_mod.make_ca("operator")
    key, cert = keys_mod.make_signer(ca_key, ca, "operator")
    (tmp_path / "op.pem").write_bytes(keys_mod._pem(cert) + keys_mod._pem(ca))
    (tmp_path / "op.key").write_bytes(keys_mod._key_pem(key))
    (tmp_path / "op-ca.pem").write_bytes(keys_mod._pem(ca))
    with pytest.raises(ValueError, match="not the private key"):
        keys_mod.install_operator_cert(tmp_path / "op.pem", data / "provenance" / "signer.key", data_dir_path=data)
    keys_mod.install_operator_cert(tmp_path / "op.pem", tmp_path / "op.key", tmp_path / "op-ca.pem", data_dir_path=data)
    out = save_video(video(), tmp_path / "clip.mp4", data_dir=data)
    c = verify_file(out, data_dir=data)["c2pa"]
    assert c["state"] == "trusted" and "operator" in c["signer"]["common_name"]


def test_a_failed_write_or_signing_leaves_nothing_behind(tmp_path, data):
    out = tmp_path / "out"
    out.mkdir()
    v = video()
    v.fps = 0  # write_video refuses fps 0
    with pytest.raises(MediaError, match="fps"):
        save_video(v, out / "clip.mp4", data_dir=data)
    keys_mod.load_keys(data)
    (data / "provenance" / "signer.key").write_text("not a key")  # signing fails after the video was written
    with pytest.raises(Exception):
        save_video(video(), out / "clip.mp4", data_dir=data)
    assert list(out.iterdir()) == []


def test_verify_a_file_that_is_not_there(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        verify_file(tmp_path / "nope.mp4", data_dir=tmp_path)


def test_data_dir_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KINETOSCOPE_DATA_DIR", str(tmp_path / "env"))
    assert keys_mod.data_dir() == tmp_path / "env"
    assert keys_mod.data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    keys_mod.load_keys()
    assert (tmp_path / "env" / "provenance" / "signer.key").is_file()

"""The invisible watermark: survives re-encoding, is not seen where there is none, does not show."""

import numpy as np
import pytest
from PIL import Image

from kinetoscope.data.world import WorldConfig, make_clip
from kinetoscope.media import read_video, write_video
from kinetoscope.media import watermark as wm


def clip(size=64, seed=0, frames=17):
    return make_clip(seed, WorldConfig(width=size, height=size, frames=frames)).frames


def roundtrip(frames, tmp_path, crf):
    path = tmp_path / f"rt-{crf}.mp4"
    write_video(path, frames, 8, crf=crf)
    return read_video(path)[0]


def test_payload_round_trips_and_a_flipped_bit_is_refused():
    bits = wm.payload_bits("install-1", "video-42")
    assert bits.shape == (64,)
    assert wm.parse_bits(bits) == (wm.tag("installation", "install-1"), wm.tag("video", "video-42"))
    for i in range(64):  # every single-bit error is caught by the sync bits or the CRC
        bad = bits.copy()
        bad[i] ^= 1
        assert wm.parse_bits(bad) is None
    assert wm.parse_bits(np.zeros(64, np.uint8)) is None and wm.parse_bits(np.ones(64, np.uint8)) is None


def test_watermark_is_invisible():
    frames = clip()
    marked = wm.embed(frames, wm.payload_bits("a", "b"))
    diff = marked.astype(np.float64) - frames
    psnr = 10 * np.log10(255 ** 2 / np.mean(diff ** 2))
    assert psnr > 36  # measured ~39 dB
    assert np.abs(diff).max() <= 16


@pytest.mark.parametrize("size,crf", [(64, 23), (64, 28), (128, 28)])
def test_found_after_h264_reencode(tmp_path, size, crf):
    marked = wm.embed(clip(size), wm.payload_bits("studio-A", "vid_123"))
    frames = roundtrip(roundtrip(marked, tmp_path, 18), tmp_path, crf)
    found = wm.detect(frames)
    assert found.found, found
    assert (found.installation_tag, found.video_tag) == (wm.tag("installation", "studio-A"), wm.tag("video", "vid_123"))
    assert found.confidence > 0.9


def test_found_after_resize_to_half_and_after_a_crop(tmp_path):
    marked = roundtrip(wm.embed(clip(128, seed=3), wm.payload_bits("i", "v")), tmp_path, 18)
    small = np.stack([np.asarray(Image.fromarray(f).resize((64, 64), Image.Resampling.LANCZOS)) for f in marked])
    found = wm.detect(roundtrip(small, tmp_path, 23))
    assert found.found and found.video_tag == wm.tag("video", "v") and "2x upscale" in found.geometry
    cropped = marked[:, 6:122, 6:122]  # 10% cut away, grid offset 2
    found = wm.detect(roundtrip(cropped, tmp_path, 23))
    assert found.found and found.video_tag == wm.tag("video", "v") and "crop" in found.geometry


@pytest.mark.slow
def test_nothing_found_without_a_watermark(tmp_path):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (9, 64, 64, 3), dtype=np.uint8)
    flat = np.full((9, 64, 64, 3), 128, np.uint8)
    for frames in [clip(64, seed) for seed in range(4)] + [noise, flat, clip(128, 9, frames=9)]:
        found = wm.detect(roundtrip(frames, tmp_path, 18))
        assert not found.found and found.payload is None


def test_small_frames(tmp_path):
    tiny = np.zeros((3, 6, 6, 3), np.uint8)
    assert np.array_equal(wm.embed(tiny, wm.payload_bits("a", "b")), tiny)  # nothing fits: unchanged
    assert not wm.detect(tiny).found
    marked = wm.embed(clip(64)[:, :32, :48], wm.payload_bits("a", "b"))  # 4x6 blocks: the tile spreads over frames
    assert wm.detect(marked).video_tag == wm.tag("video", "b")

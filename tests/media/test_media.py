"""Video/image I/O: what a user sees when they save, reload, or upload media."""

import resource
import struct
import sys
import zlib

import av
import numpy as np
import pytest
from PIL import Image

from kinetoscope.cpu import cpu_flags
from kinetoscope.media import (
    MediaError,
    contact_sheet,
    frame_sheet,
    read_image,
    read_media,
    read_metadata,
    read_video,
    resize_frames,
    save_contact_sheet,
    spritesheet,
    thumbnail,
    write_frames,
    write_video,
)
from kinetoscope.media import write as write_mod


def clip(t=17, h=64, w=64):
    """A smooth test clip (T, H, W, 3): a colour gradient and a square that moves and changes colour."""
    y, x = np.mgrid[0:h, 0:w]
    frames = np.zeros((t, h, w, 3), np.uint8)
    for i in range(t):
        frames[i, ..., 0] = 255 * x / max(w - 1, 1)
        frames[i, ..., 1] = 255 * y / max(h - 1, 1)
        frames[i, ..., 2] = 40 + 10 * i
        s = min(h, w) // 4
        x0 = (3 * i) % (w - s)
        frames[i, s:2 * s, x0:x0 + s] = (250 - 8 * i, 30, 200)
    return frames


def mean_abs_error(a, b):
    return np.abs(a.astype(int) - b.astype(int)).mean()


def test_mp4_round_trip_keeps_frame_count_size_colours_and_metadata(tmp_path):
    frames = clip()
    path = write_video(tmp_path / "out.mp4", frames, 24, metadata={"prompt": "a red square", "seed": 7})
    got, fps = read_video(path)
    assert got.shape == (17, 64, 64, 3) and got.dtype == np.uint8
    assert fps == pytest.approx(24)
    assert mean_abs_error(got, frames) < 8
    assert read_metadata(path) == {"prompt": "a red square", "seed": 7}
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: playable while downloading
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert c.streams.video[0].format.name == "yuv420p"


def test_mp4_of_the_same_frames_is_the_same_bytes_every_time(tmp_path):
    """The same recipe makes the same video file. (Blocky noise: the frames on which x264's AVX-512
    kernels gave another encode about 1 time in 100 here.)"""
    rng = np.random.default_rng(0)
    frames = np.kron(rng.integers(0, 256, (9, 8, 8, 3)), np.ones((1, 8, 8, 1))).astype(np.uint8)
    written = set()
    for i in range(300):  # (reading each back between writes moves memory around as a studio does)
        path = write_video(tmp_path / f"{i % 2}.mp4", frames, 8)
        written.add(path.read_bytes())
        read_video(path)
    assert len(written) == 1


@pytest.mark.parametrize("flags,params", [
    ("fpu sse2 avx avx2 avx512f avx512bw", {"x264-params": "asm=AVX2"}),  # held to its AVX2 kernels
    ("fpu sse2 avx avx2", {}),  # detected as it is
    ("fp asimd", {}),  # not x86
])
def test_x264_is_held_to_avx2_kernels_on_avx512_cpus(tmp_path, flags, params):
    (tmp_path / "cpuinfo").write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert write_mod.x264_params(cpu_flags(str(tmp_path / "cpuinfo"))) == params
    assert write_mod.x264_params(cpu_flags(str(tmp_path / "missing"))) == {}


def test_mp4_non_square_and_odd_sizes(tmp_path):
    got, _ = read_video(write_video(tmp_path / "wide.mp4", clip(w=96, h=64), 12))
    assert got.shape == (17, 64, 96, 3)
    odd = clip(t=3, h=63, w=65)
    got, _ = read_video(write_video(tmp_path / "odd.mp4", odd, 12))
    assert got.shape == (3, 64, 66, 3)  # padded to even by repeating the edge
    assert mean_abs_error(got[:, :63, :65], odd) < 8


@pytest.mark.parametrize("ext", [".webm", ".gif"])
def test_webm_and_gif_round_trip(tmp_path, ext):
    frames = clip(w=96)
    path = write_video(tmp_path / f"out{ext}", frames, 10, metadata={"id": "vid_1"})
    got = read_media(path)
    assert got.shape == frames.shape
    assert mean_abs_error(got, frames) < 8
    assert read_metadata(path) == {"id": "vid_1"}
    assert read_video(path)[1] == pytest.approx(10, rel=0.05)
    if ext == ".gif":
        with Image.open(path) as im:
            assert im.info["loop"] == 0 and im.n_frames == 17


def test_webm_falls_back_to_vp8_where_vp9_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(write_mod, "webm_codec", lambda: "libvpx")
    path = write_video(tmp_path / "vp8.webm", clip(t=5), 24)
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.name == "vp8"
    assert mean_abs_error(read_video(path)[0], clip(t=5)) < 8


def test_png_one_frame_is_the_image_and_many_frames_the_contact_sheet(tmp_path):
    frames = clip(w=96)
    one = write_video(tmp_path / "one.png", frames[:1], 24, metadata={"k": 1})
    assert np.array_equal(read_image(one), frames[0])
    assert np.array_equal(read_media(one), frames[:1])
    assert read_metadata(one) == {"k": 1}
    many = write_video(tmp_path / "many.png", frames, 24)
    assert Image.open(many).size == frame_sheet(frames).size  # every frame, not a 16-frame sample


def test_write_frames_and_sheets(tmp_path):
    frames = clip(t=17, h=48, w=64)
    paths = write_frames(tmp_path / "frames", frames)
    assert [p.name for p in paths[:2]] == ["frame_0000.png", "frame_0001.png"] and len(paths) == 17
    assert np.array_equal(read_image(paths[16]), frames[16])

    sheet = contact_sheet(frames)  # 16 of 17 frames, 4x4 grid, 2 px gaps
    assert sheet.size == (4 * 64 + 3 * 2, 4 * 48 + 3 * 2)
    assert contact_sheet(frames, cols=8, max_frames=8).size == (8 * 64 + 7 * 2, 48)
    labelled = contact_sheet(frames, label="a red square moves right " * 10)
    assert labelled.width == sheet.width and labelled.height > sheet.height
    assert save_contact_sheet(tmp_path / "sheet.jpg", frames).exists()

    assert thumbnail(frames).size == (256, 192)
    assert thumbnail(frames, size=32).size == (32, 24)
    assert spritesheet(frames, cols=8, tile=32).size == (8 * 32, 3 * 24)


def test_thumbnail_is_the_frame_that_shows_the_most_not_the_middle_one():
    """The poster and gallery picture: a clip whose middle frame is only background shows its object."""
    frames = np.full((9, 48, 64, 3), (20, 40, 90), np.uint8)  # a plain blue background throughout
    frames[2, 10:30, 8:28] = (240, 200, 30)  # a small yellow square in frame 2
    frames[6, 8:40, 20:60] = (240, 200, 30)  # a bigger one in frame 6
    frames[7] = frames[6]  # as big again: the earlier frame wins the tie
    assert np.array_equal(np.asarray(thumbnail(frames, size=64)), frames[6])
    frames[6:8] = frames[0]  # now only frame 2 shows anything
    assert np.array_equal(np.asarray(thumbnail(frames, size=64)), frames[2])
    # a gradient background with an object entering at the edge: the background is the border's colour,
    # so the frame where the object is wholly in view wins
    g = clip(t=5, h=32, w=32)
    g[:, 8:16] = g[0, 8:16]  # (clip's square removed)
    for i, x0 in enumerate((32, 28, 12, 28, 32)):
        g[i, 10:22, x0:x0 + 12] = (255, 255, 255)
    assert np.array_equal(np.asarray(thumbnail(g, size=32)), g[2])


def test_unreadable_videos_are_refused_naming_the_file(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(20_000))
    good = write_video(tmp_path / "good.mp4", clip(), 24)
    half = tmp_path / "half.mp4"
    half.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    webm = write_video(tmp_path / "good.webm", clip(), 24)
    half_webm = tmp_path / "half.webm"
    half_webm.write_bytes(webm.read_bytes()[: webm.stat().st_size // 2])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for bad in (junk, half, half_webm, empty, tmp_path / "missing.mp4"):
        with pytest.raises(MediaError, match=bad.name):
            read_video(bad)


def test_video_limits_name_the_value_and_the_limit(tmp_path):
    path = write_video(tmp_path / "v.mp4", clip(), 24)
    with pytest.raises(MediaError, match="17 frames; the limit is 5"):
        read_video(path, max_frames=5)
    with pytest.raises(MediaError, match="64x64 is 4096 pixels; the limit is 1000"):
        read_video(path, max_pixels=1000)
    with pytest.raises(MediaError, match="the limit is 100"):
        read_video(path, max_bytes=100)


def bilevel_png(path, w, h):
    """A w x h 1-bit PNG of zeros, written row by row so that making it costs almost no memory."""
    z, row, body = zlib.compressobj(9), b"\0" * (1 + (w + 7) // 8), []
    body = b"".join(z.compress(row) for _ in range(h)) + z.flush()

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def test_decompression_bombs_are_refused_before_decoding(tmp_path):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    huge = bilevel_png(tmp_path / "huge.png", 20_000, 20_000)  # 400 Mpx, Pillow's own limit trips
    assert huge.stat().st_size < 200_000
    with pytest.raises(MediaError, match="huge.png"):
        read_image(huge)
    with pytest.raises(MediaError, match="huge.png"):
        read_media(huge)
    big = bilevel_png(tmp_path / "big.png", 5_000, 5_000)  # 25 Mpx, over our 16.7 Mpx limit only
    with pytest.raises(MediaError, match="5000x5000 is 25000000 pixels; the limit is 16777216"):
        read_image(big.read_bytes())
    if sys.platform == "linux":  # ru_maxrss is in KiB on Linux
        grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        assert grown_mib < 100  # decoding would have allocated 400 MB (one byte per pixel)


def test_images_flatten_alpha_and_refuse_garbage(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:4] = (255, 0, 0, 255)  # top half opaque red, bottom half transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    got = read_image(tmp_path / "a.png")
    assert got.shape == (8, 8, 3)
    assert tuple(got[0, 0]) == (255, 0, 0) and tuple(got[7, 7]) == (255, 255, 255)
    assert tuple(read_image(tmp_path / "a.png", background=(0, 0, 0))[7, 7]) == (0, 0, 0)
    with pytest.raises(MediaError, match="uploaded image"):
        read_image(b"not an image at all")


class FailingAV:
    """PyAV, except that encoding fails after a few frames (say, the disk filled up)."""

    def __getattr__(self, name):
        return getattr(av, name)

    class VideoFrame:
        calls = 0

        @classmethod
        def from_ndarray(cls, array, format):
            cls.calls += 1
            if cls.calls > 5:
                raise OSError("No space left on device")
            return av.VideoFrame.from_ndarray(array, format=format)


def test_failed_writes_leave_nothing_behind(tmp_path, monkeypatch):
    with pytest.raises(MediaError, match="uint8"):
        write_video(tmp_path / "bad.mp4", clip().astype(np.float32), 24)
    with pytest.raises(MediaError, match="fps 0 is out of range"):
        write_video(tmp_path / "bad.mp4", clip(), 0)
    with pytest.raises(MediaError, match="'.avi'"):
        write_video(tmp_path / "bad.avi", clip(), 24)
    assert list(tmp_path.iterdir()) == []

    old = write_video(tmp_path / "old.mp4", clip(t=3), 24)
    before = old.read_bytes()
    monkeypatch.setattr(write_mod, "av", FailingAV())
    for name in ("new.mp4", "old.mp4"):
        with pytest.raises(OSError, match="No space left"):
            write_video(tmp_path / name, clip(), 24)
    assert [p.name for p in tmp_path.iterdir()] == ["old.mp4"]  # no new file, no temp files
    assert old.read_bytes() == before  # the previous video is untouched


def test_resize_policies():
    frames = clip(t=2, h=64, w=128)
    for policy in ("cover", "contain", "stretch"):
        assert resize_frames(frames, 32, 32, policy).shape == (2, 32, 32, 3)
    contained = resize_frames(frames, 32, 32, "contain")
    assert contained[:, :8].max() == 0 and contained[:, 24:].max() == 0  # black bars top and bottom
    assert contained[:, 8:24].max() > 0
    covered = resize_frames(frames, 32, 32, "cover")  # the centre half of the width survives
    assert mean_abs_error(covered, resize_frames(frames[:, :, 32:96], 32, 32, "stretch")) < 2
    with pytest.raises(MediaError, match="allowed: cover, contain, stretch"):
        resize_frames(frames, 32, 32, "fill")

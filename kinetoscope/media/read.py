"""Read videos and images into frames, safely, and resize them.

Frames are ``np.ndarray (T, H, W, 3) uint8`` RGB. Everything a user can
upload is checked against limits before it is decoded into memory, and every
problem comes back as a ``MediaError`` that names the file, the value and
the limit. Videos are decoded with PyAV alone (no ffmpeg/ffprobe binaries),
images with Pillow.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import MediaError
from .write import METADATA_KEY, check_frames, resample_for

MAX_FRAMES = 1024
MAX_PIXELS = 4096 * 4096  # per frame or image
MAX_BYTES = 2**31  # file size, and decoded frames in memory
FALLBACK_FPS = 24.0  # a one-frame video with no frame rate recorded
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
# Demuxers we open. Playlists (hls, concat, ...) are left out: they make FFmpeg open other files or URLs.
VIDEO_DEMUXERS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,gif,avi,mpeg,mpegts,flv,ogg,h264,hevc"
RESIZE_POLICIES = ("cover", "contain", "stretch")


def _check_file(path: Path, max_bytes: int) -> None:
    if not path.exists():
        raise MediaError("file not found", path)
    if not path.is_file():
        raise MediaError("is not a file", path)
    size = path.stat().st_size
    if size > max_bytes:
        raise MediaError(f"file is {size} bytes; the limit is {max_bytes}", path)
    if size == 0:
        raise MediaError("file is empty", path)


def _check_pixels(w: int, h: int, max_pixels: int, path) -> None:
    if w * h > max_pixels:
        raise MediaError(f"{w}x{h} is {w * h} pixels; the limit is {max_pixels} pixels per frame", path)
    if w < 1 or h < 1:
        raise MediaError(f"has an empty frame size {w}x{h}", path)


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e)


def _fps(rate, times: list[float | None]) -> float:
    """The frame rate: the stream's recorded rate when the timestamps agree, else measured from them."""
    recorded = float(rate) if rate else None
    if len(times) >= 2 and None not in (times[0], times[-1]) and times[-1] > times[0]:
        measured = (len(times) - 1) / (times[-1] - times[0])
        if recorded is None or abs(recorded - measured) > 0.01 * measured:
            return measured  # variable frame rate, GIF delays, or no rate recorded
    return recorded or FALLBACK_FPS


def _recorded_seconds(container, stream) -> float | None:
    """How long a WebM/Matroska video stream says it lasts (its header survives truncation), else None."""
    if "matroska" not in container.format.name:
        return None  # mp4 is checked by its frame index; other formats only estimate durations
    tag = stream.metadata.get("DURATION")  # "HH:MM:SS.nnnnnnnnn", written by FFmpeg's muxer
    if tag:
        try:
            h, m, sec = tag.split(":")
            return int(h) * 3600 + int(m) * 60 + float(sec)
        except ValueError:
            return None
    if len(container.streams) == 1 and container.duration:  # whole-file duration; no audio to confuse it
        return container.duration / av.time_base
    return None


def read_video(path, *, max_frames: int = MAX_FRAMES, max_pixels: int = MAX_PIXELS,
               max_bytes: int = MAX_BYTES) -> tuple[np.ndarray, float]:
    """Decode the first video stream of ``path``: (frames (T, H, W, 3) uint8, fps).

    Refused with MediaError: a missing or empty file, data that is not a
    video, corrupt or truncated data, no video stream, more than
    ``max_frames`` frames, frames larger than ``max_pixels``, and a file or
    decoded result larger than ``max_bytes``.
    """
    path = Path(path)
    _check_file(path, max_bytes)
    try:
        container = av.open(str(path), mode="r", container_options={
            "protocol_whitelist": "file", "format_whitelist": VIDEO_DEMUXERS})
    except av.FFmpegError as e:
        raise MediaError(f"is not a video that can be read ({_reason(e)})", path) from e
    with container:
        if not container.streams.video:
            raise MediaError("has no video stream", path)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        w, h = stream.codec_context.width, stream.codec_context.height
        _check_pixels(w, h, max_pixels, path)
        if stream.frames > max_frames:
            raise MediaError(f"has {stream.frames} frames; the limit is {max_frames}", path)
        frames, times, packets = [], [], 0
        try:
            for packet in container.demux(stream):
                packets += packet.size > 0  # the last packet is an empty flush packet
                for frame in packet.decode():
                    if len(frames) >= max_frames:
                        raise MediaError(f"has more than {max_frames} frames, the limit", path)
                    if (len(frames) + 1) * w * h * 3 > max_bytes:
                        raise MediaError(f"decodes to more than {max_bytes} bytes, the limit", path)
                    # A stream may change size midway; every frame is scaled to the first frame's size.
                    frames.append(frame.to_ndarray(format="rgb24", width=w, height=h))  # (H, W, 3)
                    times.append(frame.time)
        except av.FFmpegError as e:
            raise MediaError(f"is corrupt or truncated: decoding failed after {len(frames)} frames "
                             f"({_reason(e)})", path) from e
        if stream.frames and packets < stream.frames:
            raise MediaError(f"is truncated: its index lists {stream.frames} frames but only "
                             f"{packets} are in the file", path)
        if not frames:
            raise MediaError("contains no frames that can be decoded", path)
        fps = _fps(stream.average_rate or stream.guessed_rate, times)
        expected = _recorded_seconds(container, stream)
        if expected and times[-1] is not None and times[-1] + 2.5 / fps < expected:
            raise MediaError(f"is truncated: it should last {expected:.3f} s but its frames end at "
                             f"{times[-1] + 1 / fps:.3f} s", path)
    return np.stack(frames), fps  # (T, H, W, 3)


def read_image(path_or_bytes, *, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES,
               background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Read an image file (or its bytes) as (H, W, 3) uint8 RGB.

    - Size is checked from the header, before any pixels are decoded, so a
      small file that claims 20000x20000 pixels (a decompression bomb) is
      refused without allocating it. Pillow's own ``DecompressionBombError``
      is turned into a MediaError too; we do not change the process-wide
      ``Image.MAX_IMAGE_PIXELS``.
    - EXIF orientation is applied (phone photos come out upright).
    - Transparency is flattened over ``background`` (white by default);
      16-bit images are reduced to 8 bits; animated images give their first frame.
    """
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        name, src = "uploaded image", io.BytesIO(path_or_bytes)
        if len(path_or_bytes) > max_bytes:
            raise MediaError(f"is {len(path_or_bytes)} bytes; the limit is {max_bytes}", name)
    else:
        name = src = Path(path_or_bytes)
        _check_file(src, max_bytes)
    try:
        with Image.open(src) as im:
            _check_pixels(*im.size, max_pixels, name)
            im = ImageOps.exif_transpose(im)
            return np.asarray(_to_rgb(im, background))
    except MediaError:
        raise
    except Image.DecompressionBombError as e:  # Pillow's own check, which runs inside Image.open
        limit = min(max_pixels, 2 * Image.MAX_IMAGE_PIXELS) if Image.MAX_IMAGE_PIXELS else max_pixels
        raise MediaError(f"is too large to decode safely ({e}); the limit is {limit} pixels", name) from e
    except UnidentifiedImageError as e:  # its message names the stream object: say what it means instead
        raise MediaError("is not in an image format that can be read (PNG, JPEG, WebP, GIF, BMP, TIFF)", name) from e
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise MediaError(f"is not an image that can be read ({e})", name) from e


def _to_rgb(im: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    if im.mode.startswith("I;16"):  # 16-bit greyscale: keep the top 8 bits
        im = Image.fromarray((np.asarray(im).astype(np.uint32) >> 8).astype(np.uint8))
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, background)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return im.convert("RGB")


def read_media(path, *, max_frames: int = MAX_FRAMES, max_pixels: int = MAX_PIXELS,
               max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 from a video, or (1, H, W, 3) from a still image.

    Still images are told apart by extension (.png .jpg .jpeg .webp .bmp
    .tif .tiff); anything else, animated GIF included, is read as a video.
    """
    path = Path(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return read_image(path, max_pixels=max_pixels, max_bytes=max_bytes)[None]
    return read_video(path, max_frames=max_frames, max_pixels=max_pixels, max_bytes=max_bytes)[0]


def read_metadata(path) -> dict | None:
    """The JSON metadata that ``write_video`` stored in ``path``, or None if there is none."""
    path = Path(path)
    _check_file(path, MAX_BYTES)
    try:
        if path.suffix.lower() in (".png", ".gif"):
            with Image.open(path) as im:
                text = getattr(im, "text", {}).get(METADATA_KEY.capitalize()) or im.info.get(METADATA_KEY)
        else:
            with av.open(str(path), container_options={"protocol_whitelist": "file",
                                                        "format_whitelist": VIDEO_DEMUXERS}) as c:
                meta = {k.lower(): v for k, v in c.metadata.items()}
                text = meta.get(METADATA_KEY)
    except (av.FFmpegError, OSError, UnidentifiedImageError) as e:
        raise MediaError(f"cannot read metadata ({_reason(e)})", path) from e
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        value = json.loads(text) if text else None
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def resize_frames(frames, width: int, height: int, policy: str = "cover") -> np.ndarray:
    """Resize frames (T, H, W, 3) to (T, height, width, 3).

    Policies, for when the aspect ratio differs:
    - ``cover``: scale until the frame covers the target, then crop the
      centre (nothing is distorted, edges may be cut off);
    - ``contain``: scale until the frame fits inside, then letterbox with
      black bars (nothing is cut off or distorted);
    - ``stretch``: scale each axis on its own (the picture is distorted).
    Uses LANCZOS when shrinking and BICUBIC when enlarging, one frame at a time.
    """
    frames = check_frames(frames)
    if policy not in RESIZE_POLICIES:
        raise MediaError(f"resize policy '{policy}' is unknown; allowed: {', '.join(RESIZE_POLICIES)}")
    if width < 1 or height < 1:
        raise MediaError(f"target size {width}x{height} is out of range; both sides must be 1 or more")
    t, h, w, _ = frames.shape
    if (w, h) == (width, height):
        return frames.copy()
    out = np.zeros((t, height, width, 3), np.uint8)  # (T, height, width, 3), black bars for contain
    if policy == "stretch":
        size, box, at = (width, height), (0, 0, w, h), (0, 0)
        scale = min(width / w, height / h)
    elif policy == "cover":
        scale = max(width / w, height / h)
        bw, bh = width / scale, height / scale  # the part of the source that stays, centred
        box = ((w - bw) / 2, (h - bh) / 2, (w + bw) / 2, (h + bh) / 2)
        size, at = (width, height), (0, 0)
    else:  # contain
        scale = min(width / w, height / h)
        size = (min(width, max(1, round(w * scale))), min(height, max(1, round(h * scale))))
        box, at = (0, 0, w, h), ((width - size[0]) // 2, (height - size[1]) // 2)
    for i, rgb in enumerate(frames):
        img = Image.fromarray(rgb).resize(size, resample_for(scale), box=box)
        out[i, at[1]:at[1] + size[1], at[0]:at[0] + size[0]] = np.asarray(img)
    return out

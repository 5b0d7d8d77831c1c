"""Write frames as video or images, and the small pictures a UI shows of a video.

Frames are ``np.ndarray (T, H, W, 3) uint8`` RGB everywhere (a single
``(H, W, 3)`` image is taken as one frame). The output format follows the
file extension:

- ``.mp4``  H.264 (libx264), yuv420p, BT.709 tags, ``+faststart`` so browsers
  can play it while it downloads. Odd widths/heights are padded to even by
  repeating the last column/row (yuv420p needs even sizes).
- ``.webm`` VP9 (libvpx-vp9), or VP8 (libvpx) where this PyAV build lacks
  VP9; yuv420p, padded to even like mp4.
- ``.gif``  Pillow, loops forever, per-frame delays that add up to the exact
  length (GIF counts time in 1/100 s). Identical consecutive frames are
  merged by Pillow into one longer frame.
- ``.png``  one frame -> that image; several frames -> a contact sheet of every
  frame, in order (``frame_sheet``).

Every write is atomic: it goes to a hidden temp file in the same folder and
is moved into place with ``os.replace`` only when complete, so a failure
never leaves a half-written output behind.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import uuid
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from kinetoscope.cpu import cpu_flags

from .errors import MediaError

DEFAULT_CRF = 18
CRF_RANGE = {"libx264": (0, 51), "libvpx-vp9": (0, 63), "libvpx": (4, 63)}
MAX_FPS = 240.0
MAX_GIF_FPS = 50.0  # GIF delays under 2/100 s are slowed down by browsers
SHEET_GAP = 2  # pixels between contact-sheet tiles
SHEET_BACKGROUND = (16, 16, 16)
SHEET_MAX_SIDE = 4096  # a .png output's sheet of every frame stays within this, so that it reads back (read.MAX_PIXELS)
CAPTION_FONT_SIZE = 12
CAPTION_PADDING = 4
METADATA_KEY = "comment"  # container tag (mp4/webm), PNG text chunk "Comment", GIF comment
VIDEO_FORMATS = (".mp4", ".webm", ".gif", ".png")


def check_frames(frames, path: str | os.PathLike | None = None) -> np.ndarray:
    """Return frames as a (T, H, W, 3) uint8 array, or raise MediaError saying what is wrong."""
    arr = np.asarray(frames)
    if arr.ndim == 3 and arr.shape[-1] == 3:
        arr = arr[None]  # one image -> one frame
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise MediaError(f"frames must have shape (T, H, W, 3), got {arr.shape}", path)
    if arr.dtype != np.uint8:
        raise MediaError(f"frames must be uint8 (0-255), got {arr.dtype}", path)
    if min(arr.shape[:3]) == 0:
        raise MediaError(f"there is nothing to write: frames have shape {arr.shape}", path)
    return arr


def resample_for(scale: float) -> Image.Resampling:
    """LANCZOS when shrinking (sharp, no aliasing), BICUBIC when enlarging."""
    return Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temp path beside ``path``; move it onto ``path`` on success, delete it on any error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_video(path, frames, fps: float, *, metadata: dict | None = None, crf: int = DEFAULT_CRF) -> Path:
    """Write frames (T, H, W, 3) uint8 to ``path``; the extension picks the format (see module doc).

    ``metadata`` is stored as a JSON string: the container ``comment`` tag in
    mp4/webm, a ``Comment`` text chunk in PNG, the comment extension in GIF.
    ``crf`` is the constant-quality level for mp4/webm (lower is better).
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in VIDEO_FORMATS:
        raise MediaError(f"cannot write '{ext or 'no extension'}'; use one of {', '.join(VIDEO_FORMATS)}", path)
    frames = check_frames(frames, path)
    fps = float(fps)
    max_fps = MAX_GIF_FPS if ext == ".gif" else MAX_FPS
    if not 0 < fps <= max_fps:
        raise MediaError(f"fps {fps:g} is out of range; allowed: above 0 up to {max_fps:g}", path)
    comment = None if metadata is None else json.dumps(metadata, sort_keys=True, separators=(",", ":"))
    with atomic_path(path) as tmp:
        if ext in (".mp4", ".webm"):
            _encode_av(tmp, path, frames, fps, ext[1:], comment, crf)
        elif ext == ".gif":
            _encode_gif(tmp, frames, fps, comment)
        else:
            image = Image.fromarray(frames[0]) if len(frames) == 1 else frame_sheet(frames)
            _save_png(tmp, image, comment)
    return path


def webm_codec() -> str:
    """VP9 where this PyAV/FFmpeg build has it, else VP8."""
    return "libvpx-vp9" if "libvpx-vp9" in av.codecs_available else "libvpx"


def _pad_even(frames: np.ndarray) -> np.ndarray:
    """Pad (T, H, W, 3) to even H and W by repeating the last row/column."""
    _, h, w, _ = frames.shape
    if h % 2 == 0 and w % 2 == 0:
        return frames
    return np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _encode_av(tmp: Path, path: Path, frames: np.ndarray, fps: float, fmt: str, comment: str | None, crf: int):
    codec = "libx264" if fmt == "mp4" else webm_codec()
    lo, hi = CRF_RANGE[codec]
    if not lo <= crf <= hi:
        raise MediaError(f"crf {crf} is out of range for {codec}; allowed: {lo} to {hi}", path)
    options = {"crf": str(crf)}
    if codec == "libx264":
        options.update(x264_params())
    elif codec == "libvpx-vp9":
        options.update({"b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"})  # constant quality
    elif codec == "libvpx":
        options.update({"b": "8M", "deadline": "good", "cpu-used": "4"})  # VP8: crf under a bitrate cap
    frames = _pad_even(frames)  # (T, H', W', 3) with H', W' even
    _, h, w, _ = frames.shape
    rate = Fraction(fps).limit_denominator(1001)
    container_options = {"movflags": "+faststart"} if fmt == "mp4" else {}
    try:
        with av.open(str(tmp), mode="w", format=fmt, options=container_options) as out:
            if comment is not None:
                out.metadata[METADATA_KEY] = comment
            stream = out.add_stream(codec, rate=rate, options=options)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            # VP8 cannot signal a colour matrix and is always decoded as BT.601; the others say BT.709.
            matrix, tag = ("itu601", 6) if codec == "libvpx" else ("itu709", 1)  # AVCOL_*_SMPTE170M / BT709
            cc = stream.codec_context
            cc.colorspace = cc.color_primaries = cc.color_trc = tag
            cc.color_range = 1  # MPEG / limited ("tv") range, what players expect
            for i, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                frame = frame.reformat(format="yuv420p", dst_colorspace=matrix, dst_color_range=1)
                frame.pts = i
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))  # flush delayed frames
    except av.FFmpegError as e:
        raise MediaError(f"could not encode {fmt} with {codec}: {e}", path) from e


def x264_params(flags: frozenset[str] | None = None) -> dict[str, str]:
    """Options that make libx264 write the same bytes for the same frames on a CPU with `flags`
    (default: this one's). Its AVX-512 kernels do not: on an AMD EPYC with AVX-512, about one encode
    in 50 to 100 of the same frames came out different (it depends on what memory held before:
    tests/media/test_media.py), with its AVX2 kernels or none never. So where the CPU has AVX-512,
    x264 is held to its AVX2 kernels (encoding time is the same within noise)."""
    flags = cpu_flags() if flags is None else flags
    return {"x264-params": "asm=AVX2"} if {"avx512f", "avx2"} <= flags else {}


def _gif_durations(n: int, fps: float) -> list[int]:
    """Per-frame delays in ms, multiples of 10 ms, whose sum tracks n / fps."""
    ticks = [round(i * 100 / fps) for i in range(n + 1)]  # GIF time is in 1/100 s
    return [10 * max(1, b - a) for a, b in zip(ticks, ticks[1:])]


def _encode_gif(tmp: Path, frames: np.ndarray, fps: float, comment: str | None):
    images = [Image.fromarray(f) for f in frames]
    extra = {} if comment is None else {"comment": comment}
    images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                   duration=_gif_durations(len(images), fps), loop=0, **extra)


def _save_png(tmp: Path, image: Image.Image, comment: str | None):
    info = PngInfo()
    if comment is not None:
        info.add_text(METADATA_KEY.capitalize(), comment)
    image.save(tmp, format="PNG", pnginfo=info)


def write_frames(dir, frames) -> list[Path]:
    """Write each frame as ``dir/frame_0000.png`` ... (more digits past 10 000 frames)."""
    dir = Path(dir)
    frames = check_frames(frames, dir)
    digits = max(4, len(str(len(frames) - 1)))
    paths = []
    for i, rgb in enumerate(frames):
        p = dir / f"frame_{i:0{digits}d}.png"
        with atomic_path(p) as tmp:
            Image.fromarray(rgb).save(tmp, format="PNG")
        paths.append(p)
    return paths


def _caption_font():
    try:
        return ImageFont.load_default(size=CAPTION_FONT_SIZE)
    except (ImportError, OSError):  # Pillow built without FreeType: the small bitmap font
        return ImageFont.load_default()


def _fit_text(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """Shorten ``text`` with '...' until it fits in ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..." if text else ""


def contact_sheet(frames, cols: int | None = None, max_frames: int = 16, label: str | None = None) -> Image.Image:
    """Evenly spaced frames (the first and last included) in a grid with a 2 px gap.

    ``cols`` defaults to a near-square grid. ``label`` adds a caption strip at
    the top, shortened with '...' to fit the sheet's width.
    Size: ``cols*W + (cols-1)*2`` by ``strip + rows*H + (rows-1)*2``.
    """
    frames = check_frames(frames)
    t, h, w, _ = frames.shape
    n = max(1, min(t, max_frames))
    picks = np.linspace(0, t - 1, n).round().astype(int)
    cols = min(cols or math.ceil(math.sqrt(n)), n)
    rows = math.ceil(n / cols)
    font = _caption_font() if label else None
    strip = 0
    if label:
        top, bottom = font.getbbox("Ag")[1::2]
        strip = bottom - top + 2 * CAPTION_PADDING
    sheet = Image.new("RGB", (cols * w + (cols - 1) * SHEET_GAP, strip + rows * h + (rows - 1) * SHEET_GAP),
                      SHEET_BACKGROUND)
    for k, i in enumerate(picks):
        r, c = divmod(k, cols)
        sheet.paste(Image.fromarray(frames[i]), (c * (w + SHEET_GAP), strip + r * (h + SHEET_GAP)))
    if label:
        draw = ImageDraw.Draw(sheet)
        text = _fit_text(draw, label, font, sheet.width - 2 * CAPTION_PADDING)
        draw.text((CAPTION_PADDING, CAPTION_PADDING - top), text, fill=(235, 235, 235), font=font)
    return sheet


def frame_sheet(frames) -> Image.Image:
    """What a .png output of several frames holds: every frame, in order, left to right and top to
    bottom in a near-square grid with a 2 px gap. Tiles are scaled down (never up) only where the
    sheet would pass SHEET_MAX_SIDE pixels on a side."""
    frames = check_frames(frames)
    t, h, w, _ = frames.shape
    cols = math.ceil(math.sqrt(t))
    rows = math.ceil(t / cols)
    scale = min(1.0, (SHEET_MAX_SIDE - (cols - 1) * SHEET_GAP) / (cols * w),
                (SHEET_MAX_SIDE - (rows - 1) * SHEET_GAP) / (rows * h))
    if scale < 1.0:
        size = (max(1, int(w * scale)), max(1, int(h * scale)))
        frames = np.stack([np.asarray(Image.fromarray(f).resize(size, resample_for(scale))) for f in frames])
    return contact_sheet(frames, cols=cols, max_frames=t)


def save_contact_sheet(path, frames, **kw) -> Path:
    """Save ``contact_sheet(frames, **kw)`` to ``path``; Pillow picks the format (png, jpg, webp, ...)."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise MediaError(f"cannot write an image as '{path.suffix or 'no extension'}'; use .png, .jpg or .webp", path)
    sheet = contact_sheet(frames, **kw)
    with atomic_path(path) as tmp:
        sheet.save(tmp, format=fmt)
    return path


def _scaled_size(w: int, h: int, longest: int) -> tuple[int, int, float]:
    """(width, height, scale) so that the longer side becomes ``longest``, aspect kept."""
    if longest < 1:
        raise MediaError(f"size {longest} is out of range; allowed: 1 or more")
    scale = longest / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale)), scale


def poster_frame(frames) -> int:
    """The index of the frame that best shows the video: the one with the most content, measured as the
    mean absolute difference of its pixels from its background (the median colour of its border).
    A frame that is only background scores ~0; ties go to the earliest frame."""
    content = []
    for frame in check_frames(frames):  # one (H, W, 3) frame at a time: long videos stay small
        frame = frame.astype(np.int16)
        border = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]])  # (2W + 2H, 3)
        content.append(np.abs(frame - np.median(border, axis=0)).mean())
    return int(np.argmax(np.round(content, 3)))  # the first of equals


def thumbnail(frames, size: int = 256) -> Image.Image:
    """The poster frame (see ``poster_frame``), scaled so its longer side is ``size`` pixels (aspect kept)."""
    frames = check_frames(frames)
    t, h, w, _ = frames.shape
    tw, th, scale = _scaled_size(w, h, size)
    return Image.fromarray(frames[poster_frame(frames)]).resize((tw, th), resample_for(scale))


def spritesheet(frames, cols: int = 8, tile: int = 64) -> Image.Image:
    """Every frame, its longer side scaled to ``tile``, in rows of ``cols`` with no gaps.

    Frame ``i`` sits at ``((i % cols) * tw, (i // cols) * th)`` where ``(tw, th)`` is the tile size.
    """
    frames = check_frames(frames)
    t, h, w, _ = frames.shape
    tw, th, scale = _scaled_size(w, h, tile)
    cols = max(1, min(cols, t))
    sheet = Image.new("RGB", (cols * tw, math.ceil(t / cols) * th), SHEET_BACKGROUND)
    for i, rgb in enumerate(frames):
        r, c = divmod(i, cols)
        sheet.paste(Image.fromarray(rgb).resize((tw, th), resample_for(scale)), (c * tw, r * th))
    return sheet

"""How well the invisible watermark survives: bit accuracy and payload recovery after re-encoding, resizing, cropping.

    python -m benchmarks.watermark            # 64, 128, 256 px; 8 clips each; writes benchmarks/results/watermark.json
    python -m benchmarks.watermark --quick    # 64 px only, 2 clips (a smoke test)

Clips: the procedural world (`kinetoscope.data.world`, seeds 0..N-1), 17 frames
(2 s at 8 fps, the built-in model's default length) at each size, plus, at
64x64, clips made by the built-in model (when its weights are installed).
Each clip is watermarked (`kinetoscope.media.watermark.embed`, a random
installation/video id pair) and written as our MP4 (H.264 CRF 18, what
`save_video` writes); then attacked:

- `crf23`, `crf28`   decoded and re-encoded with H.264 at that CRF
- `half`             resized to half width and height (Lanczos), re-encoded at CRF 23
- `crop10`           10% of each side cut away (5% per edge, even sizes), re-encoded at CRF 23

Bit accuracy: the share of the 64 bits the soft majority vote gets right,
read at the geometry the attack produced (known here). Recovered: the share
of clips where `detect()` finds the payload on its own (sync + CRC hold, the
right tags). False positives: `detect()` on the same clips without a
watermark (after the CRF 18 write) reporting any payload.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from kinetoscope.media import read_video, write_video
from kinetoscope.media import watermark as wm

RESULTS = Path(__file__).resolve().parent / "results" / "watermark.json"
FRAMES, FPS = 17, 8
ATTACKS = ("none", "crf23", "crf28", "half", "crop10")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.watermark", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="64 px only, 2 clips")
    p.add_argument("--clips", type=int, default=None, help="clips per size (default 8, or 2 with --quick)")
    p.add_argument("--no-model", action="store_true", help="skip the built-in model's clips")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS})")
    return p.parse_args(argv)


def reencode(frames: np.ndarray, crf: int, folder: Path) -> np.ndarray:
    path = folder / f"clip-{crf}.mp4"
    write_video(path, frames, FPS, crf=crf)
    return read_video(path)[0]


def half(frames: np.ndarray) -> np.ndarray:
    h, w = frames.shape[1] // 2, frames.shape[2] // 2
    return np.stack([np.asarray(Image.fromarray(f).resize((w, h), Image.Resampling.LANCZOS)) for f in frames])


def crop10(frames: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Cut 5% off each edge (sizes kept even for yuv420p): (frames, top, left)."""
    _, h, w, _ = frames.shape
    nh, nw = 2 * round(h * 0.45), 2 * round(w * 0.45)
    y, x = (h - nh) // 2, (w - nw) // 2
    return frames[:, y:y + nh, x:x + nw], y, x


def bit_accuracy(frames: np.ndarray, bits: np.ndarray, *, top: int = 0, left: int = 0, upscale: bool = False) -> float:
    """Share of bits right, decoded at the known geometry (grid offset and tile roll from the crop)."""
    if upscale:
        frames = wm._upscale2(frames)
    oy, ox = (-top) % wm.BLOCK, (-left) % wm.BLOCK
    roll = ((top + oy) // wm.BLOCK % wm.TILE, (left + ox) // wm.BLOCK % wm.TILE)
    llr = wm._llr(wm._votes(frames, oy, ox), np.arange(len(frames)))
    grid = np.roll(llr.reshape(wm.TILE, wm.TILE), roll, axis=(0, 1)).reshape(-1)
    soft = grid if grid[list(wm.SYNC_AT)] @ (2.0 * wm.SYNC - 1) >= 0 else -grid
    return float(np.mean((soft > 0) == bits))


def world_clips(size: int, n: int) -> list[np.ndarray]:
    from kinetoscope.data.world import WorldConfig, make_clip

    return [make_clip(seed, WorldConfig(width=size, height=size, frames=FRAMES)).frames for seed in range(n)]


def model_clips(n: int) -> list[np.ndarray]:
    import torch

    from kinetoscope.data.world import WorldConfig, make_clip
    from kinetoscope.pipeline import BUILTIN_WEIGHTS, GenerationRequest, Pipeline

    if not (BUILTIN_WEIGHTS / "pipeline.json").is_file():
        return []
    torch.set_num_threads(2)
    pipe = Pipeline.from_pretrained()
    prompts = [make_clip(seed, WorldConfig(), phrasing="canonical").caption for seed in range(n)]
    return [pipe.generate(GenerationRequest(p, frames=FRAMES, fps=FPS, seed=i)).frames for i, p in enumerate(prompts)]


def measure(clip: np.ndarray, k: int, folder: Path) -> dict:
    ids = (f"installation-{k}", f"video-{k}")
    bits = wm.payload_bits(*ids)
    want = (wm.tag("installation", ids[0]), wm.tag("video", ids[1]))
    marked = wm.embed(clip, bits)
    psnr = 10 * np.log10(255 ** 2 / max(1e-9, np.mean((marked.astype(np.float64) - clip) ** 2)))
    ours = reencode(marked, 18, folder)  # what save_video writes
    out = {"psnr_db": psnr}
    for attack in ATTACKS:
        geo = {}
        if attack == "none":
            frames = ours
        elif attack.startswith("crf"):
            frames = reencode(ours, int(attack[3:]), folder)
        elif attack == "half":
            frames, geo = reencode(half(ours), 23, folder), {"upscale": True}
        else:
            cropped, top, left = crop10(ours)
            frames, geo = reencode(cropped, 23, folder), {"top": top, "left": left}
        t0 = time.perf_counter()
        found = wm.detect(frames)
        out[attack] = {"bit_accuracy": bit_accuracy(frames, bits, **geo),
                       "recovered": found.found and (found.installation_tag, found.video_tag) == want,
                       "detect_s": time.perf_counter() - t0}
    out["false_positive"] = wm.detect(reencode(clip, 18, folder)).found
    return out


def summarise(rows: list[dict]) -> dict:
    s = {"clips": len(rows), "psnr_db": statistics.mean(r["psnr_db"] for r in rows),
         "false_positives": sum(r["false_positive"] for r in rows)}
    for a in ATTACKS:
        acc = [r[a]["bit_accuracy"] for r in rows]
        s[a] = {"bit_accuracy_mean": statistics.mean(acc), "bit_accuracy_min": min(acc),
                "recovered": sum(r[a]["recovered"] for r in rows) / len(rows),
                "detect_s_median": statistics.median(r[a]["detect_s"] for r in rows)}
    return s


def table(results: dict) -> str:
    head = ["clips", "size", "PSNR dB", *[f"{a}: bits / payload" for a in ATTACKS], "false +"]
    body = []
    for name, s in results.items():
        source, size = name.split(" ")
        cells = [f"{100 * s[a]['bit_accuracy_mean']:.1f}% (min {100 * s[a]['bit_accuracy_min']:.0f}%) / "
                 f"{100 * s[a]['recovered']:.0f}%" for a in ATTACKS]
        body.append([source, size, f"{s['psnr_db']:.1f}", *cells, f"{s['false_positives']}/{s['clips']}"])
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, body)])


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    n = args.clips or (2 if args.quick else 8)
    sizes = (64,) if args.quick else (64, 128, 256)
    sources = [(f"world {s}x{s}", lambda s=s: world_clips(s, n)) for s in sizes]
    if not (args.quick or args.no_model):
        sources.insert(1, ("model 64x64", lambda: model_clips(n)))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in sources:
            clips = make()
            if clips:
                results[name] = summarise([measure(c, k, Path(tmp)) for k, c in enumerate(clips)])
                print(f"  {name}: done", flush=True)
    text = table(results)
    print(f"\nwatermark robustness ({wm.METHOD}, step {wm.STEP}, {FRAMES} frames; "
          "bits = bit accuracy at the known geometry, payload = share of clips where detect() recovers it)")
    print(text)
    out = {"method": wm.METHOD, "step": wm.STEP, "frames": FRAMES, "fps": FPS, "clips_per_size": n,
           "attacks": ATTACKS, "results": results, "table": text}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    return out


if __name__ == "__main__":
    main()

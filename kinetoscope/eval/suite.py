"""The evaluation suite: fixed prompts from the world, generated at fixed seeds, scored.

    prompts = build_suite(quick=True)                 # versioned, deterministic
    report = run_suite(pipe, prompts, seeds=[0])      # any object with .generate(request)
    write_report(report, "eval-report/")              # kinetoscope.eval.report

The suite (SUITE_VERSION) is built from the world's vocabulary only:

- "seen": one object (colour, shape, size, motion, speed) on a plain
  background of another colour, never a HELD_OUT triple, covering every
  colour, geometric shape, digits and motion; plus 2-object specs (copies and
  mixed pairs) for the count; captioned with `canonical_caption`.
- "heldout": one spec per HELD_OUT (colour, shape, motion) triple, which
  training never shows; canonical captions.
- "paraphrase": every other single-object seen spec, captioned with
  `paraphrase_caption` (words and templates training never uses).

Each clip is read back by the deterministic analyzer and compared with its
spec per attribute: colour, shape, motion, count, background (the headline
five, whose conjunction is "all"), plus size and speed (speed only where the
motion was right and has a speed). Temporal quality is the analyzer's
flicker (mean |frame[t+1] - frame[t]| in 0-255 units outside the objects,
like VBench's temporal flickering); the autoencoder is scored by PSNR of
encode+decode on held-out world clips (uint8 frames, peak 255).
"""

from __future__ import annotations

import datetime
import itertools
import math
import os
import platform
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np

from kinetoscope.data.captions import canonical_caption, paraphrase_caption
from kinetoscope.data.world import (COLOURS, GEOMETRIC_SHAPES, HELD_OUT, HELD_OUT_SET,
                                    MOTIONS, SIZES, SPEEDS, WorldConfig, make_clip, render,
                                    scene_from_spec)
from kinetoscope.eval.analyzer import analyze, expected_motion, expected_shape

SUITE_VERSION = 1
GROUPS = ("seen", "heldout", "paraphrase")
ATTRIBUTES = ("colour", "shape", "motion", "count", "background")  # "all" = these five
EXTRA_ATTRIBUTES = ("size", "speed")
SCORE_KEYS = ATTRIBUTES + ("all",) + EXTRA_ATTRIBUTES
FULL = {"seen": 30, "count": 6, "heldout": len(HELD_OUT), "paraphrase": 12, "seeds": 2}
QUICK = {"seen": 15, "count": 3, "heldout": len(HELD_OUT), "paraphrase": 6, "seeds": 1}
PSNR_CLIPS = 16
# an autoencoder's training world, sampled from the held-out split
PSNR_WORLD = {"max_objects": 2, "backgrounds": ("plain", "gradient")}

_SHAPE_KINDS = GEOMETRIC_SHAPES + ("digit",)
_DIGIT_ORDER = ("3", "7", "0", "5", "2", "8", "4", "1", "6", "9")
_SIZE_NAMES = tuple(SIZES)
# 2-object specs for the count: (objects, background); copies of one object or a mixed pair
_COUNT_SPECS = (
    ((("circle", "orange", "small", "right", "slow"),) * 2, "blue"),
    ((("square", "green", "small", "up", "slow"), ("star", "pink", "small", "down", "slow")), "black"),
    ((("triangle", "white", "small", "still", None),) * 2, "purple"),
    ((("star", "yellow", "small", "left", "fast"),) * 2, "brown"),
    ((("ring", "red", "small", "still", None), ("5", "cyan", "small", "still", None)), "gray"),
    ((("circle", "blue", "small", "bounce", "slow"),) * 2, "white"),
)


@dataclass(frozen=True)
class SuitePrompt:
    id: str        # "seen-03", "count-01", "heldout-07", "paraphrase-02"
    group: str     # one of GROUPS (count specs belong to "seen")
    prompt: str
    spec: dict     # scene_from_spec() input; "seed" fixes the placement

    def to_dict(self) -> dict:
        return asdict(self)


def _obj(shape, colour, size, motion, speed) -> dict:
    return {"shape": shape, "colour": colour, "size": size, "motion": motion,
            "speed": None if motion == "still" else speed}


def _background(avoid: set, start: int) -> str:
    return next(COLOURS[(start + k) % len(COLOURS)] for k in range(len(COLOURS))
                if COLOURS[(start + k) % len(COLOURS)] not in avoid)


def seen_specs(n: int) -> list[dict]:
    """Single-object specs; the first 15 already cover every colour, shape kind and motion."""
    specs, digits = [], itertools.cycle(_DIGIT_ORDER)
    for i in range(n):
        motion = MOTIONS[i % len(MOTIONS)]
        colour = COLOURS[(5 * i) % len(COLOURS)]
        kind = _SHAPE_KINDS[i % len(_SHAPE_KINDS)]
        if motion == "spin" and kind in ("circle", "ring"):
            kind = "star"
        shape = next(digits) if kind == "digit" else kind
        k = 0
        while (colour, shape, motion) in HELD_OUT_SET:
            k += 1
            colour = COLOURS[(5 * i + k) % len(COLOURS)]
        speed = SPEEDS[(i // 3) % 2]
        specs.append({"objects": [_obj(shape, colour, _SIZE_NAMES[i % 3], motion, speed)],
                      "background": {"kind": "plain", "colour": _background({colour}, 7 * i + 3)},
                      "camera": "none", "seed": i})
    return specs


def count_specs(n: int) -> list[dict]:
    return [{"objects": [_obj(*o) for o in objs], "background": {"kind": "plain", "colour": bg},
             "camera": "none", "seed": 200 + j}
            for j, (objs, bg) in enumerate(_COUNT_SPECS[:n])]


def heldout_specs() -> list[dict]:
    out = []
    for j, (colour, shape, motion) in enumerate(HELD_OUT):
        size = ("medium", "small", "large")[j % 3]
        out.append({"objects": [_obj(shape, colour, size, motion, SPEEDS[j % 2])],
                    "background": {"kind": "plain", "colour": _background({colour}, 5 * j + 4)},
                    "camera": "none", "seed": 100 + j})
    return out


def build_suite(quick: bool = False) -> list[SuitePrompt]:
    """The fixed prompt list (SUITE_VERSION): `quick` is a prefix of each part of the full suite."""
    n = QUICK if quick else FULL
    cfg = WorldConfig()  # captions do not depend on the clip size
    prompts: list[SuitePrompt] = []
    seen = seen_specs(n["seen"])
    for i, spec in enumerate(seen):
        prompts.append(SuitePrompt(f"seen-{i:02d}", "seen", canonical_caption(scene_from_spec(spec, cfg)), spec))
    for j, spec in enumerate(count_specs(n["count"])):
        prompts.append(SuitePrompt(f"count-{j:02d}", "seen", canonical_caption(scene_from_spec(spec, cfg)), spec))
    for j, spec in enumerate(heldout_specs()[:n["heldout"]]):
        prompts.append(SuitePrompt(f"heldout-{j:02d}", "heldout",
                                   canonical_caption(scene_from_spec(spec, cfg)), spec))
    for j, spec in enumerate(seen[0::2][:n["paraphrase"]]):
        rng = np.random.default_rng(1000 + spec["seed"])
        prompts.append(SuitePrompt(f"paraphrase-{j:02d}", "paraphrase",
                                   paraphrase_caption(scene_from_spec(spec, cfg), rng), spec))
    return prompts


def limit_suite(prompts: list[SuitePrompt], n: int | None) -> list[SuitePrompt]:
    """The first n prompts taken round-robin over the groups (so every group is kept), in suite order."""
    if n is None or n >= len(prompts):
        return list(prompts)
    by_group = [[p for p in prompts if p.group == g] for g in GROUPS]
    picked = {p.id for p in itertools.islice(
        (p for row in itertools.zip_longest(*by_group) for p in row if p is not None), n)}
    return [p for p in prompts if p.id in picked]


# ---- scoring ----------------------------------------------------------------------------------

def score_clip(result, spec: dict) -> dict[str, bool | None]:
    """Correct flags of an analyzer result against a spec (None: nothing to check).

    Found objects are paired with the spec's objects to agree on the most of
    colour, shape and motion; an attribute is correct only if every spec
    object was found and agrees. Extra objects only cost the count.
    """
    truth = spec["objects"]
    found = result.objects
    flags: dict[str, bool | None] = {
        "background": result.background == spec["background"]["colour"],
        "count": result.count == len(truth),
    }

    def expect(t):
        return {"colour": t["colour"], "shape": expected_shape(t["shape"]), "size": t["size"],
                "motion": expected_motion(t["shape"], t["motion"])}

    pairs: list = []
    k = min(len(found), len(truth))
    best = -1
    for perm in itertools.permutations(range(len(found)), k):
        cand = list(zip(perm, range(k)))
        agree = sum(getattr(found[i], a) == expect(truth[j])[a]
                    for i, j in cand for a in ("colour", "shape", "motion"))
        if agree > best:
            best, pairs = agree, cand
    complete = len(pairs) == len(truth)
    for a in ("colour", "shape", "motion", "size"):
        flags[a] = complete and all(getattr(found[i], a) == expect(truth[j])[a] for i, j in pairs)
    speeds = [found[i].speed == truth[j]["speed"] for i, j in pairs
              if truth[j]["speed"] and expect(truth[j])["motion"] not in ("still", "spin")
              and found[i].motion == expect(truth[j])["motion"] and found[i].speed]
    flags["speed"] = all(speeds) if complete and speeds else None
    flags["all"] = all(flags[a] for a in ATTRIBUTES)
    return flags


def summarise(records: list[dict]) -> dict:
    """Per group (and "overall"): accuracy per attribute, "all", mean flicker, prompt/clip counts."""
    out = {}
    for group in GROUPS + ("overall",):
        rows = [r for r in records if group in ("overall", r["group"])]
        if not rows:
            continue
        s: dict = {"prompts": len({r["id"] for r in rows}), "clips": len(rows)}
        for a in SCORE_KEYS:
            v = [r["correct"][a] for r in rows if r["correct"][a] is not None]
            s[a] = round(float(np.mean(v)), 4) if v else None
        s["flicker"] = round(float(np.mean([r["flicker"] for r in rows])), 3)
        out[group] = s
    return out


# ---- the autoencoder ---------------------------------------------------------------------------

def vae_psnr(vae, n: int = PSNR_CLIPS, frames: int = 17, height: int = 64, width: int = 64) -> dict:
    """Encode+decode n held-out world clips; PSNR of the uint8 reconstruction (peak 255), mean over clips."""
    import torch

    cfg = WorldConfig(height=height, width=width, frames=frames, **PSNR_WORLD)
    values, seams, seams_gt = [], [], []
    t0 = time.perf_counter()
    for i in range(n):
        clip = make_clip(10_000 + i, cfg, split="heldout")
        x = torch.from_numpy(clip.frames).permute(3, 0, 1, 2)[None].float() / 127.5 - 1
        with torch.no_grad():
            y = vae.decode(vae.encode(x))
        rec = ((y[0].clamp(-1, 1) + 1) * 127.5).round().permute(1, 2, 3, 0).numpy()
        mse = float(np.mean((rec - clip.frames.astype(np.float32)) ** 2))
        values.append(100.0 if mse == 0 else 10 * math.log10(255.0 ** 2 / mse))
        seams.append(chunk_seam_ratio(rec, vae.config.time_factor))
        seams_gt.append(chunk_seam_ratio(clip.frames, vae.config.time_factor))
    return {"psnr_db": round(float(np.mean(values)), 3), "per_clip": [round(v, 3) for v in values],
            "chunk_seam_ratio": round(float(np.mean(seams)), 3), "chunk_seam_ratio_ground_truth": round(float(np.mean(seams_gt)), 3),
            "clips": n, "split": "heldout", "seeds": [10_000, 10_000 + n - 1],
            "range": "uint8 [0,255], peak 255 (model pixels in [-1,1] mapped like generation)",
            "world": {"frames": frames, "height": height, "width": width,
                      **{k: list(v) if isinstance(v, tuple) else v for k, v in PSNR_WORLD.items()}},
            "seconds": round(time.perf_counter() - t0, 2)}


def steps_of(frames: np.ndarray) -> np.ndarray:
    """Mean |frame[t+1] - frame[t]| per step, (T-1,) in 0-255 units."""
    f = frames.astype(np.float32)
    return np.abs(f[1:] - f[:-1]).mean(axis=(1, 2, 3))


def chunk_seam_ratio(frames: np.ndarray, k: int) -> float:
    """Mean frame step across latent-chunk boundaries (frame 0 -> 1, k -> k+1, ...) over the median
    step: every task seam (extend, interpolate, loop) falls on one, so a decoder that jumps there
    makes them visible whatever the denoiser does (1.0: no different from any other step)."""
    steps = steps_of(frames)
    return float(steps[::k].mean() / max(float(np.median(steps)), 1e-6))


# ---- running -----------------------------------------------------------------------------------
def autoencoder_ceiling(vae, prompts: list[SuitePrompt], seeds=(0,), frames: int = 17, height: int = 64,
                        width: int = 64) -> dict:
    """Score the suite's ground-truth clips after an encode+decode round trip: what the
    denoiser could reach at best through this autoencoder (its ceiling per attribute)."""
    import torch

    class RoundTrip:
        oracle = OracleGenerator(prompts)

        def generate(self, req):
            clip = self.oracle.generate(req).frames
            x = torch.from_numpy(clip).permute(3, 0, 1, 2)[None].float() / 127.5 - 1
            with torch.no_grad():
                y = vae.decode(vae.encode(x))
            rec = ((y[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0).numpy()
            return SimpleNamespace(frames=rec, fps=8, metadata={})

    t0 = time.perf_counter()
    report = run_suite(RoundTrip(), prompts, seeds=seeds, frames=frames, width=width, height=height, psnr_clips=0)
    return {"scores": report["scores"]["overall"], "seconds": round(time.perf_counter() - t0, 2)}


def oracle_scene(spec: dict, seed: int, cfg: WorldConfig):
    """The ground-truth scene the oracle draws for `spec` at sampling seed `seed`: a placement of
    its own per seed, as a model draws a new one."""
    return scene_from_spec({**spec, "seed": spec.get("seed", 0) * 1000 + seed}, cfg)


class OracleGenerator:
    """Renders each suite prompt's ground-truth scene: the analyzer's ceiling (tests, calibration)."""

    def __init__(self, prompts: list[SuitePrompt]):
        self.specs = {p.prompt: p.spec for p in prompts}

    def generate(self, request):
        spec = self.specs[request.prompt]
        cfg = WorldConfig(height=request.height or 64, width=request.width or 64,
                          frames=request.frames or 17)
        scene = oracle_scene(spec, request.seed, cfg)
        return SimpleNamespace(frames=render(scene, cfg), fps=8, metadata={})


def _finite(x):
    """NaN/inf (the analyzer's reading of a degenerate blob) -> None, so the JSON is strict."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _sheet_name(p: SuitePrompt, seed: int) -> str:
    return f"sheets/{p.id}-s{seed}.png"


def run_suite(generator, prompts: list[SuitePrompt], *, seeds=(0,), frames: int = 17,
              width: int = 64, height: int = 64, steps: int | None = None,
              guidance: float | None = None, out_dir: str | Path | None = None,
              psnr_clips: int = PSNR_CLIPS, weights: str | None = None, quick: bool | None = None,
              progress: Callable[[int, int, dict], None] | None = None, step_cache: float | None = None,
              sensitivity_clips: int = 32, guidance_floor: float | None = None) -> dict:
    """Generate every prompt at every seed, analyse and score it; return the report dict.

    `generator` is anything with `generate(GenerationRequest) -> object with .frames`
    ((T, H, W, 3) uint8); a `Pipeline` also gets its autoencoder scored (`psnr_clips`
    clips, 0 to skip) and its weights hash recorded. With `out_dir`, a contact
    sheet per clip is saved to out_dir/sheets/ (the report's "sheet" paths). A pipeline's
    denoiser is also probed for which caption words it reads (`sensitivity_clips` clips, 0 to
    skip; see eval/sensitivity.py).
    """
    from kinetoscope.pipeline import GenerationRequest

    if frames < 5:
        raise ValueError(f"frames={frames}: the suite scores motion, use at least 5 frames")
    seeds = [int(s) for s in seeds]
    if not seeds or not prompts:
        raise ValueError("run_suite needs at least one seed and one prompt")
    if out_dir is not None:
        from kinetoscope.media import save_contact_sheet
        (Path(out_dir) / "sheets").mkdir(parents=True, exist_ok=True)
    if hasattr(generator, "resolve"):  # a Pipeline: record the values it will really use
        r = generator.resolve(GenerationRequest(prompt="x", frames=frames, width=width, height=height,
                                                steps=steps, guidance=guidance, guidance_floor=guidance_floor))
        steps, guidance, guidance_floor = r.steps, r.guidance, r.guidance_floor
        getattr(generator, "text_encoder", None)  # load it now, not in the first clip's time
    cfg = WorldConfig(height=height, width=width, frames=frames)
    records, t_start = [], time.perf_counter()
    jobs = [(p, s) for p in prompts for s in seeds]
    for k, (p, seed) in enumerate(jobs):
        req = GenerationRequest(prompt=p.prompt, frames=frames, width=width, height=height,
                                steps=steps, guidance=guidance, seed=seed, step_cache=step_cache,
                                guidance_floor=guidance_floor)
        t0 = time.perf_counter()
        video = generator.generate(req)
        seconds = time.perf_counter() - t0
        clip = np.asarray(video.frames)
        if clip.shape != (frames, height, width, 3) or clip.dtype != np.uint8:
            raise ValueError(f"{p.id}: generator returned {clip.shape} {clip.dtype}, "
                             f"expected ({frames}, {height}, {width}, 3) uint8")
        with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            # the analyzer divides by |object - background colour|, 0 when a generated blob's
            # nearest palette colour is the background's; its reading is still used as is
            warnings.simplefilter("ignore", RuntimeWarning)
            result = analyze(clip)
        truth = scene_from_spec(p.spec, cfg)  # validates the spec at this geometry
        rec = {"id": p.id, "group": p.group, "prompt": p.prompt, "seed": seed, "spec": p.spec,
               "truth_caption": canonical_caption(truth), "seconds": round(seconds, 4),
               "analysis": _finite(result.to_dict()), "correct": score_clip(result, p.spec),
               "flicker": round(float(result.flicker), 4), "sheet": None}
        if out_dir is not None:
            save_contact_sheet(Path(out_dir) / _sheet_name(p, seed), clip, label=p.prompt,
                               max_frames=9, cols=9)
            rec["sheet"] = _sheet_name(p, seed)
        records.append(rec)
        if progress:
            progress(k + 1, len(jobs), rec)
    gen_seconds = time.perf_counter() - t_start
    vae = getattr(generator, "vae", None)
    psnr = vae_psnr(vae, psnr_clips, frames, height, width) if vae is not None and psnr_clips else None
    if psnr is not None:
        psnr["ceiling"] = autoencoder_ceiling(vae, prompts, seeds, frames, height, width)
    sensitivity = None
    if sensitivity_clips and all(hasattr(generator, a) for a in ("vae", "denoiser", "text_encoder")):
        from kinetoscope.eval.sensitivity import caption_sensitivity
        sensitivity = caption_sensitivity(generator, sensitivity_clips, frames=frames, height=height, width=width)
    times = [r["seconds"] for r in records]
    summary = summarise(records)
    hash_ = getattr(generator, "weights_hash", None)
    try:
        import torch
        threads = torch.get_num_threads()
    except ImportError:  # pragma: no cover
        threads = None
    return {
        "suite": {"name": "kinetoscope-eval", "version": SUITE_VERSION, "quick": quick,
                  "prompts": len(prompts), "clips": len(records),
                  "groups": {g: sum(p.group == g for p in prompts) for g in GROUPS},
                  "attributes": list(ATTRIBUTES), "extra_attributes": list(EXTRA_ATTRIBUTES)},
        "config": {"weights": weights, "weights_hash": hash_ if isinstance(hash_, str) else None,
                   "generator": type(generator).__name__, "seeds": seeds, "steps": steps,
                   "guidance": guidance, "guidance_floor": guidance_floor, "frames": frames, "width": width, "height": height,
                   "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                   "threads": threads, "cpu_count": os.cpu_count(),
                   "machine": f"{platform.machine()} {platform.processor() or platform.system()}".strip(),
                   "python": platform.python_version()},
        "scores": summary,
        "temporal": {"flicker_mean": summary["overall"]["flicker"],
                     "unit": "mean |frame[t+1]-frame[t]| in 0-255 outside objects (lower is better)"},
        "timing": {"seconds_per_clip": round(float(np.mean(times)), 4),
                   "seconds_per_clip_median": round(float(np.median(times)), 4),
                   "seconds_per_clip_max": round(float(np.max(times)), 4),
                   "generation_and_scoring_seconds": round(gen_seconds, 2), "clips": len(records)},
        "vae": psnr,
        "text_sensitivity": sensitivity,
        "records": records,
    }

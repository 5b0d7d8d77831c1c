"""Task quality: image->video, extend, interpolate, loop, storyboard and 30-s drift, measured.

    report = run_task_eval(pipe, quick=True)     # `kinetoscope eval --tasks`
    print(task_markdown(report))

Inputs are held-out procedural-world clips (fixed seeds), so every figure is reproducible:

- i2v: PSNR (dB, peak 255) of the output's first frame against the input image, the step where
  the image meets the generated frames and the largest step anywhere, and how often the analyzer
  reads the prompt's motion, against text->video of the same prompt and seed.
- boundary jump: |frame difference| at the seam between given and generated frames divided
  by the median neighbouring-frame difference of the whole output (goal <= 1.5), for
  extend forwards, backwards and interpolate (both ends, the worse one counts); for interpolate,
  whose ends dissolve, also the largest step anywhere, so a jump a blend moved shows.
- loop seam: difference across the loop seam (last frame -> first) over the median
  neighbouring difference (goal <= 1.5), and the largest step anywhere in the loop played
  round (where the bridge meets the clip is a seam too).
- storyboard: each shot's analyzer score (mean of colour, shape, motion, count, background)
  against the same prompt generated alone at the shot's seed for as many frames, for the
  "dissolve" and "continue" transitions, and the largest step anywhere in the storyboard.
- drift: clips (1 quick, 4 full) extended by 30 s; per 2-s chunk the background colour (median
  border RGB), foreground fraction and object count, and how far they wander from the input's.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np

from kinetoscope import tasks
from kinetoscope.data.world import WorldConfig, make_clip
from kinetoscope.eval.analyzer import analyze, compare
from kinetoscope.eval.suite import ATTRIBUTES, score_clip, steps_of
from kinetoscope.eval.vocab import model_suite
from kinetoscope.tasks.loop import seam_ratio  # the loop chooses its crossfade by it

GOAL_PSNR, GOAL_RATIO = 28.0, 1.5
STORYBOARD_TRANSITIONS = ("dissolve", "continue")  # the storyboard transitions measured (cut is each shot alone)


def task_world(pipe) -> WorldConfig:
    """The world the task inputs come from: the model's own (its size, clip length and narrowed
    vocabulary, one object), or for a model that names none the full world's plain scenes."""
    req = pipe.resolve(tasks.t2v_request(pipe, "x"))
    world = {k: tuple(v) if isinstance(v, list) else v for k, v in (pipe.config.world or {}).items()}
    return WorldConfig(**{**world, "frames": req.frames, "height": req.height, "width": req.width,
                          "max_objects": 1, "backgrounds": ("plain",)})


SIZES = {"quick": {"clips": 3, "storyboards": 2, "drift_seconds": 30, "drift_clips": 1},
         "full": {"clips": 8, "storyboards": 6, "drift_seconds": 30, "drift_clips": 4}}


def jump_ratio(frames: np.ndarray, boundary: int) -> float:
    """|frames[boundary] - frames[boundary-1]| over the median neighbouring difference."""
    s = steps_of(frames)
    return float(s[boundary - 1] / max(float(np.median(s)), 1e-6))


def largest_step(frames: np.ndarray) -> float:
    """The largest neighbouring-frame difference anywhere over the median: a jump that a blend
    only moved away from a boundary still shows here."""
    s = steps_of(frames)
    return float(s.max() / max(float(np.median(s)), 1e-6))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 100.0 if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def _analyze(frames):
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return analyze(frames)


def _clips(world: WorldConfig, n: int, offset: int = 0):
    return [make_clip(20_000 + offset + i, world, split="heldout") for i in range(n)]


def _summary(values, goal=None, above=False) -> dict:
    v = [float(x) for x in values]
    out = {"mean": round(float(np.mean(v)), 3), "median": round(float(np.median(v)), 3),
           "worst": round(max(v) if not above else min(v), 3), "n": len(v)}
    if goal is not None:
        out["goal"] = goal
        out["met"] = round(float(np.mean([(x >= goal) if above else (x <= goal) for x in v])), 3)
    return out


def eval_i2v(pipe, clips, **kw) -> dict:
    psnrs, first_jump, largest, motion_i2v, motion_t2v = [], [], [], [], []
    for seed, c in enumerate(clips):
        v = tasks.i2v(pipe, c.frames[0], c.caption, seed=seed, frames=len(c.frames), **kw)
        t = pipe.generate(tasks.t2v_request(pipe, c.caption, seed=seed, frames=len(c.frames), **kw))
        psnrs.append(psnr(v.frames[0], c.frames[0]))
        first_jump.append(jump_ratio(v.frames, v.metadata["head_frames"]))
        largest.append(largest_step(v.frames))
        motion_i2v.append(compare(_analyze(v.frames), c.scene).get("motion", 0.0))
        motion_t2v.append(compare(_analyze(t.frames), c.scene).get("motion", 0.0))
    return {"first_frame_psnr_db": _summary(psnrs, GOAL_PSNR, above=True),
            "first_step_ratio": _summary(first_jump, GOAL_RATIO), "largest_step": _summary(largest),
            "motion_followed": {"i2v": round(float(np.mean(motion_i2v)), 3), "t2v": round(float(np.mean(motion_t2v)), 3)}}


def eval_boundaries(pipe, clips, **kw) -> dict:
    fwd, bwd, interp, largest = [], [], [], []
    for seed, c in enumerate(clips):
        v = tasks.extend(pipe, c.frames, c.caption, seconds=2, seed=seed, **kw)
        fwd.append(jump_ratio(v.frames, len(c.frames)))
        v = tasks.extend(pipe, c.frames, c.caption, seconds=2, direction="backward", seed=seed, **kw)
        bwd.append(jump_ratio(v.frames, len(v.frames) - len(c.frames)))
        v = tasks.interpolate(pipe, c.frames[0], c.frames[-1], c.caption, seed=seed, frames=len(c.frames), **kw)
        tail = len(v.frames) - v.metadata["tail_frames"]  # where the last image's held copies start
        interp.append(max(jump_ratio(v.frames, v.metadata["head_frames"]), jump_ratio(v.frames, tail)))
        largest.append(largest_step(v.frames))
    return {"extend_forward": _summary(fwd, GOAL_RATIO), "extend_backward": _summary(bwd, GOAL_RATIO),
            "interpolate": _summary(interp, GOAL_RATIO), "interpolate_largest_step": _summary(largest)}


def eval_loops(pipe, clips, **kw) -> dict:
    gen, given, raw, largest = [], [], [], []
    for seed, c in enumerate(clips):
        g = tasks.loop(pipe, c.caption, seed=seed, frames=len(c.frames), **kw).frames
        v = tasks.loop(pipe, c.caption, video=c.frames, seed=seed, **kw).frames
        gen.append(seam_ratio(g)["ratio"])
        given.append(seam_ratio(v)["ratio"])
        largest += [largest_step(np.concatenate([f, f[:1]])) for f in (g, v)]  # played round, seam included
        raw.append(seam_ratio(tasks.loop(pipe, c.caption, seed=seed, frames=len(c.frames), crossfade=0, **kw).frames)["ratio"])
    return {"seam_ratio_text_to_loop": _summary(gen, GOAL_RATIO), "seam_ratio_video_to_loop": _summary(given, GOAL_RATIO),
            "seam_ratio_bridge_only": _summary(raw, GOAL_RATIO), "largest_step": _summary(largest)}


def _score(frames, spec) -> float:
    flags = score_clip(_analyze(frames), spec)
    return float(np.mean([flags[a] for a in ATTRIBUTES]))


def eval_storyboards(pipe, n: int, **kw) -> dict:
    """Two-shot storyboards (2 s + 2 s) of suite prompts, with each transition: each shot scored
    against its prompt alone (the same seed, as many frames), and the largest step anywhere."""
    prompts = [p for p in model_suite(pipe.config.world, quick=True) if p.group == "seen" and len(p.spec["objects"]) == 1]
    clip_frames = pipe.resolve(tasks.t2v_request(pipe, "x")).frames
    alone, per = {}, {}
    for j in range(n):
        a, b = prompts[(2 * j) % len(prompts)], prompts[(2 * j + 1) % len(prompts)]
        for transition in STORYBOARD_TRANSITIONS:
            v = tasks.storyboard(pipe, [tasks.Shot(0, a.prompt), tasks.Shot(2, b.prompt)], seconds=4, seed=j,
                                 transition=transition, **kw)
            r = per.setdefault(transition, {"shot": [], "alone": [], "largest": []})
            r["largest"].append(largest_step(v.frames))
            for seg, p in zip(v.metadata["segments"], (a, b)):
                frames = v.frames[seg["start_frame"]: seg["end_frame"]]
                key = (p.prompt, seg["seed"], len(frames))
                if key not in alone:
                    clip = pipe.generate(tasks.t2v_request(pipe, p.prompt, seed=seg["seed"], frames=clip_frames, **kw)).frames
                    alone[key] = _score(clip[: len(frames)], p.spec)
                r["shot"].append(_score(frames, p.spec))
                r["alone"].append(alone[key])
    out = {t: {"shot_score": round(float(np.mean(r["shot"])), 3), "alone_score": round(float(np.mean(r["alone"])), 3),
               "shots_as_good": int(sum(a >= b for a, b in zip(r["shot"], r["alone"]))),
               "largest_step": _summary(r["largest"])} for t, r in per.items()}
    return {**out, "shots": 2 * n, "attributes": list(ATTRIBUTES)}


def drift_stats(frames: np.ndarray, fps: int, chunk_seconds: float = 2.0) -> list[dict]:
    """Per chunk: median border colour, foreground fraction, analyzer count and background name."""
    n = max(1, round(chunk_seconds * fps))
    rows = []
    for s in range(0, len(frames) - n + 1, n):
        f = frames[s: s + n]
        border = np.concatenate([f[:, 0], f[:, -1], f[:, :, 0], f[:, :, -1]], axis=1).reshape(-1, 3)
        bg = np.median(border, axis=0)
        fg = float((np.abs(f.astype(np.float32) - bg).max(axis=-1) > 40).mean())
        r = _analyze(f)
        rows.append({"start_s": round(s / fps, 2), "background_rgb": [round(float(x), 1) for x in bg],
                     "foreground": round(fg, 4), "count": r.count, "background": r.background})
    return rows


def _drift_one(pipe, clip, seconds: float, anchor: bool, seed: int, **kw) -> dict:
    v = tasks.extend(pipe, clip.frames, clip.caption, seconds=seconds, anchor=anchor, seed=seed, **kw)
    rows = drift_stats(v.frames, v.fps)
    bg0, fg0 = np.array(rows[0]["background_rgb"]), rows[0]["foreground"]
    return {"max_background_shift_rgb": round(max(float(np.linalg.norm(np.array(r["background_rgb"]) - bg0))
                                                  for r in rows), 2),
            "background_kept": round(float(np.mean([r["background"] == rows[0]["background"] for r in rows])), 3),
            "count_kept": round(float(np.mean([r["count"] == rows[0]["count"] for r in rows])), 3),
            "foreground_first_last": [fg0, rows[-1]["foreground"]], "chunks": rows}


def eval_drift(pipe, clips, seconds: float, **kw) -> dict:
    """Each clip extended by `seconds`, plain and re-anchored: the largest background shift over
    all clips, and the fraction of 2-s chunks that keep the first chunk's background class and
    object count (mean over clips, and per clip)."""
    out = {"seconds": seconds, "clips": len(clips)}
    for name, anchor in (("anchored", True), ("plain", False)):
        runs = [_drift_one(pipe, c, seconds, anchor, seed, **kw) for seed, c in enumerate(clips)]
        out[name] = {"max_background_shift_rgb": max(r["max_background_shift_rgb"] for r in runs),
                     "background_kept": round(float(np.mean([r["background_kept"] for r in runs])), 3),
                     "count_kept": round(float(np.mean([r["count_kept"] for r in runs])), 3),
                     "count_kept_per_clip": [r["count_kept"] for r in runs], "runs": runs}
    return out


def run_task_eval(pipe, quick: bool = True, steps: int | None = None, guidance: float | None = None,
                  progress=None) -> dict:
    n = SIZES["quick" if quick else "full"]
    kw = {k: v for k, v in (("steps", steps), ("guidance", guidance)) if v is not None}
    clips = _clips(task_world(pipe), n["clips"])
    t0, report = time.perf_counter(), {}
    parts = [("i2v", lambda: eval_i2v(pipe, clips, **kw)), ("boundaries", lambda: eval_boundaries(pipe, clips, **kw)),
             ("loop", lambda: eval_loops(pipe, clips, **kw)),
             ("storyboard", lambda: eval_storyboards(pipe, n["storyboards"], **kw)),
             ("drift", lambda: eval_drift(pipe, clips[: n["drift_clips"]], n["drift_seconds"], **kw))]
    for i, (name, fn) in enumerate(parts):
        report[name] = fn()
        if progress:
            progress(i + 1, len(parts), name)
    report["config"] = {"quick": quick, "clips": n["clips"], "world_seeds": [20_000, 20_000 + n["clips"] - 1],
                        "steps": pipe.resolve(tasks.t2v_request(pipe, "x", **kw)).steps, "model": pipe.config.name,
                        "weights_sha256": pipe.weights_hash, "seconds": round(time.perf_counter() - t0, 1)}
    return report


def task_markdown(r: dict) -> str:
    b, lp, d, sb = r["boundaries"], r["loop"], r["drift"], r["storyboard"]

    def row(name, s, unit=""):
        met = f"{100 * s['met']:.0f}%" if "met" in s else "–"
        return f"| {name} | {s['median']}{unit} | {s['worst']}{unit} | {s.get('goal', '–')}{unit if 'goal' in s else ''} | {met} |"
    lines = ["| measure | median | worst | goal | clips meeting it |", "|---|---|---|---|---|",
             row("i2v first-frame PSNR", r["i2v"]["first_frame_psnr_db"], " dB"),
             row("i2v first step / median step", r["i2v"]["first_step_ratio"]),
             row("i2v largest step anywhere", r["i2v"]["largest_step"]),
             row("extend forward boundary jump", b["extend_forward"]),
             row("extend backward boundary jump", b["extend_backward"]),
             row("interpolate boundary jump (worse end)", b["interpolate"]),
             row("interpolate largest step anywhere", b["interpolate_largest_step"]),
             row("loop seam (text -> loop)", lp["seam_ratio_text_to_loop"]),
             row("loop seam (video -> loop)", lp["seam_ratio_video_to_loop"]),
             row("loop seam, model bridge without crossfade", lp["seam_ratio_bridge_only"]),
             row("loop largest step anywhere (both kinds)", lp["largest_step"]), "",
             f"i2v motion followed: {100 * r['i2v']['motion_followed']['i2v']:.0f}% vs text->video "
             f"{100 * r['i2v']['motion_followed']['t2v']:.0f}%. Storyboard shots score "
             + "; ".join(f"{sb[t]['shot_score']:.3f} vs {sb[t]['alone_score']:.3f} alone with transition {t} ({sb[t]['shots_as_good']} "
                         f"as good as alone, largest step "
                         f"{sb[t]['largest_step']['median']} / {sb[t]['largest_step']['worst']})" for t in STORYBOARD_TRANSITIONS)
             + f" ({sb['shots']} shots, mean of {', '.join(sb['attributes'])}; alone: the same prompt and seed).",
             f"{d['seconds']:g}-s extension drift ({d['clips']} clip{'s' if d['clips'] > 1 else ''}): background colour moved at most "
             f"{d['anchored']['max_background_shift_rgb']} RGB units re-anchored vs {d['plain']['max_background_shift_rgb']} "
             f"plain; background class kept {100 * d['anchored']['background_kept']:.0f}% vs "
             f"{100 * d['plain']['background_kept']:.0f}%, object count kept {100 * d['anchored']['count_kept']:.0f}% vs "
             f"{100 * d['plain']['count_kept']:.0f}% of 2-s chunks (plain, per clip: "
             f"{', '.join(f'{100 * x:.0f}%' for x in d['plain']['count_kept_per_clip'])})."]
    return "\n".join(lines)


def cmd_eval_tasks(args, error) -> int:
    """`kinetoscope eval --tasks`: write OUT/tasks.json and OUT/tasks.md, print the table."""
    import json
    from pathlib import Path

    from kinetoscope.pipeline import Pipeline, RequestError

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise error(f"--out {out} is a file: give a folder for the report")
    try:
        pipe = Pipeline.from_pretrained(args.weights, fast=args.fast)
        report = run_task_eval(pipe, quick=args.quick, steps=args.steps, guidance=args.guidance,
                               progress=None if args.quiet else lambda i, n, name: print(f"[{i}/{n}] {name}", flush=True))
    except (FileNotFoundError, RequestError) as e:
        raise error(str(e)) from None
    out.mkdir(parents=True, exist_ok=True)
    (out / "tasks.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "tasks.md").write_text(task_markdown(report) + "\n")
    print(task_markdown(report))
    print(f"wrote {out / 'tasks.json'}, {out / 'tasks.md'}")
    return 0

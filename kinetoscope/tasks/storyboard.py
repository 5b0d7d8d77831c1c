"""storyboard: a timeline of prompts (and optional keyframe images) rendered as one video.

    shots = parse_timeline({"seconds": 4, "shots": [{"at": "0s", "prompt": "..."},
                                                   {"at": "2s", "prompt": "...", "image": "key.png"}]})
    video = storyboard(pipe, shots, seconds=4)

How each shot is reached from the one before (`transition`, for the whole board or per shot):

- "dissolve" (the default): every shot is rendered on its own from its prompt (from its image,
  if it has one), as it would be alone; the shot before is continued past the cut under its own
  prompt, the next one extended backwards before it under its own (windows as extend makes
  them), and one fades into the other over 8 frames (1 s at 8 fps) centred on the cut, or over
  the 8 frames before a keyframe, which then shows at its time exactly.
- "continue": the shot continues from the previous shot's last frames under its own prompt, as
  extend does, so it stays one scene: for a change of action in one place. Where the prompt asks
  for another place, the previous one tends to stay (its background carries over).
- "cut": the shot is rendered on its own and follows with no transition.

Why a dissolve and not a generated bridge: a window with the frames on both sides given (as a
loop closes) changed the scene within 3-4 frames, through a smear, because the model never saw
a scene turn into another; its largest step was 14x the median (worst 52x) on 6 storyboards,
the dissolve's 11x (29x), spread evenly over its 8 frames (`kinetoscope eval --tasks`).
A keyframe reached by "continue" is landed on: generated frames lead into it, held for one
latent chunk (4 frames). Times snap to whole chunks (0.5 s at 8 fps).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np

from kinetoscope import limits
from kinetoscope.pipeline import GenerationRequest, Pipeline, RequestError, Video
from kinetoscope.tasks.given import first_image, fit
from kinetoscope.tasks.stills import RELEASE as STILLS_RELEASE
from kinetoscope.tasks.stills import from_stills
from kinetoscope.tasks.windows import (RELEASE, check_release, crossfade, grow, longest_overlap, overlap_frames,
                                       overlap_latents_for)


TRANSITIONS = limits.TRANSITIONS
TRANSITION = TRANSITIONS[0]
DISSOLVE = 8  # frames a dissolve fades over (1 s at 8 fps), and the frames that lead into a keyframe


@dataclass
class Shot:
    at: float  # seconds from the start
    prompt: str
    image: np.ndarray | None = None  # (H, W, 3) uint8 keyframe shown at `at`
    transition: str | None = None  # how this shot is reached from the one before; None: the storyboard's


def check_transition(transition, where: str = "transition") -> str:
    if transition not in TRANSITIONS:
        raise RequestError(f"{where} {transition!r} is not allowed: use one of {', '.join(TRANSITIONS)}",
                           "transition" if where == "transition" else None)
    return transition


def parse_time(text) -> float:
    """'2s', '2.5', 2, '0:02' -> seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    s = str(text).strip().lower()
    m = re.fullmatch(r"(?:(\d+):)?(\d+(?:\.\d+)?)\s*s?", s)
    if not m:
        raise RequestError(f"time {text!r} is not a time: use seconds like 2s, 2.5 or 0:02")
    return 60 * int(m.group(1) or 0) + float(m.group(2))


def parse_timeline(data) -> tuple[list[dict], float | None]:
    """A storyboard file's content (dict with "shots" and optional "seconds", or a bare list of
    {at, prompt, image, transition}) -> (shots as dicts with `at` in seconds, seconds or None)."""
    seconds = None
    if isinstance(data, dict):
        seconds = None if data.get("seconds") is None else parse_time(data["seconds"])
        data = data.get("shots", data.get("timeline"))
    if not isinstance(data, list) or not data:
        raise RequestError("a storyboard needs a list of shots, each with `at` and `prompt`")
    shots = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or "at" not in item or not item.get("prompt"):
            raise RequestError(f"shot {i + 1} ({item!r}) needs `at` (a time) and `prompt`")
        shot = {"at": parse_time(item["at"]), "prompt": str(item["prompt"]), "image": item.get("image")}
        if item.get("transition") is not None:
            shot["transition"] = check_transition(item["transition"], f"shot {i + 1}'s transition")
        shots.append(shot)
    return shots, seconds


def parse_shot_lines(text: str) -> list[dict]:
    """One shot per line, "TIME PROMPT" ("0s a red circle", "2.5 it turns blue", "0:03 ..."); blank
    lines are skipped. The list parse_timeline takes."""
    shots = []
    for n, line in enumerate(str(text).splitlines(), 1):
        if not line.strip():
            continue
        at, _, prompt = line.strip().partition(" ")
        if not prompt.strip():
            raise RequestError(f"line {n} ({line.strip()!r}) needs a time and a prompt, e.g. 0s a red circle")
        shots.append({"at": parse_time(at), "prompt": prompt.strip()})
    return shots


def half_dissolve(k: int) -> int:
    """Frames a dissolve takes on each side of its cut: half of DISSOLVE, in whole chunks of `k`
    frames (4 on a model with 4x time compression, and 4 on one without)."""
    return k * -(-(DISSOLVE // 2) // k)


def _eaten(k: int, mode: str | None, image) -> tuple[int, int]:
    """Frames a transition into a shot takes (from the shot before, from the shot itself)."""
    if mode is None or mode == "cut" or (mode == "continue" and image is None):
        return 0, 0
    h = half_dissolve(k)
    return (2 * h, 0) if image is not None else (h, h)


def check_timeline(shots: list[Shot], seconds: float, fps: int, k: int, modes: list[str | None] | None = None) -> list[int]:
    """Validate the timeline; return each shot's first frame (snapped to whole chunks). `modes`:
    each shot's transition (None for the first), which decides how much of a shot its
    neighbours' transitions take."""
    if not shots:
        raise RequestError("a storyboard needs at least one shot")
    if shots[0].at != 0:
        raise RequestError(f"the first shot is at {shots[0].at:g}s: a storyboard starts at 0s")
    for i in range(1, len(shots)):
        if shots[i].at <= shots[i - 1].at:
            raise RequestError(f"shot {i + 1} at {shots[i].at:g}s is not after shot {i} at {shots[i - 1].at:g}s: "
                               "times must increase")
    for i, s in enumerate(shots):
        if s.at >= seconds:
            raise RequestError(f"shot {i + 1} at {s.at:g}s is beyond the video's length of {seconds:g}s", "seconds")
    modes = modes or [None] + [TRANSITION] * (len(shots) - 1)
    starts = [k * round(s.at * fps / k) for s in shots]
    ends = starts[1:] + [round(seconds * fps)]
    for i, (a, b) in enumerate(zip(starts, ends)):
        into = _eaten(k, modes[i], shots[i].image)[1]
        out = _eaten(k, modes[i + 1], shots[i + 1].image)[0] if i + 1 < len(shots) else 0
        need = max(2 * k, into + out + (k if into + out else 0))  # a chunk of its own besides its transitions
        if b - a < need:
            raise RequestError(f"shot {i + 1} at {shots[i].at:g}s is {(b - a) / fps:g}s long: "
                               f"{'this' if need > 2 * k else 'each'} shot needs at least {need / fps:g}s")
    return starts


def plan(pipe: Pipeline, shots: list, seconds: float | None = None, transition: str = TRANSITION,
         overlap_latents: int | None = None, release: float = RELEASE, **kw):
    """Every check a storyboard makes before any work: (shots, each shot's transition, the first
    shot's resolved request, the length in seconds, each shot's first frame). Raises RequestError."""
    shots = [s if isinstance(s, Shot) else Shot(**s) for s in shots]
    if not shots:
        raise RequestError("a storyboard needs at least one shot")
    check_transition(transition)
    modes = [None] + [check_transition(s.transition or transition, f"shot {i + 2}'s transition")
                      for i, s in enumerate(shots[1:])]
    check_release(release)
    if overlap_latents is not None:
        overlap_frames(pipe, overlap_latents)  # checks its range
    req = pipe.resolve(GenerationRequest(prompt=shots[0].prompt, **kw))
    seconds = shots[-1].at + pipe.config.seconds if seconds is None else seconds
    starts = check_timeline(shots, seconds, req.fps, pipe.vae.config.time_factor, modes)
    return shots, modes, req, seconds, starts


def storyboard(pipe: Pipeline, shots: list[Shot], seconds: float | None = None, transition: str = TRANSITION,
               overlap_latents: int | None = None, release: float = RELEASE, progress=None, **kw) -> Video:
    """One video through `shots`; `seconds` defaults to the last shot + one clip. `transition`
    is how each shot is reached where the shot does not say ("dissolve", "continue" or "cut").
    Every window that continues frames (a shot longer than a window, a dissolve's continuations,
    "continue") is given up to `overlap_latents` latent frames of them (None: extend's default,
    OVERLAP_FRAMES frames whatever the model's time compression), released below `release`, as
    extend does (tasks/windows.py)."""
    shots, modes, req, seconds, starts = plan(pipe, shots, seconds, transition, overlap_latents, release, **kw)
    overlap_latents = overlap_latents_for(pipe) if overlap_latents is None else overlap_latents
    k = pipe.vae.config.time_factor
    total = round(seconds * req.fps)
    ends = starts[1:] + [total]
    images = [None if s.image is None else fit(s.image, req.width, req.height, f"shot {i + 1}'s image")
              for i, s in enumerate(shots)]
    reqs = [pipe.resolve(dataclasses.replace(req, prompt=s.prompt, seed=req.seed + 1000 * i))  # every prompt
            for i, s in enumerate(shots)]                                                      # checked before any work
    joins = [dataclasses.replace(r, seed=r.seed + 500) for r in reqs]  # the windows that continue a shot past its cut

    def more(r, frames, n, backward=False, end=None):
        n_ov = longest_overlap(pipe, len(frames), r.frames, backward, 0 if end is None else len(end), most=overlap_latents)
        return grow(pipe, r, frames, n, overlap_latents=n_ov, backward=backward, end=end,
                    release=release, progress=progress)

    def render(i: int, length: int) -> np.ndarray:  # shot i alone, as text->video (image->video) would draw it
        one = dataclasses.replace(reqs[i], frames=min(req.frames, 1 + k * -(-(length - 1) // k)))
        if images[i] is None:
            frames = pipe.generate(one, progress=progress).frames
        else:
            frames = from_stills(pipe, first_image(one, images[i]), "i2v", 0, STILLS_RELEASE, True, progress).frames
        return frames[:length] if len(frames) >= length else more(reqs[i], frames, length - len(frames))

    cur = render(0, ends[0])
    for i in range(1, len(shots)):
        length, mode, image = ends[i] - starts[i], modes[i], images[i]
        m_before, m_after = _eaten(k, mode, image)
        if mode == "continue":
            if image is not None:  # land on the keyframe, held a chunk, then go on from it
                landing = np.repeat(image[None], k, 0)
                cur = np.concatenate([more(joins[i - 1], cur[: len(cur) - m_before], m_before, end=landing), landing])
            cur = more(reqs[i], cur, ends[i] - len(cur))
            continue
        shot = render(i, length)
        if mode == "cut":
            cur = np.concatenate([cur, shot])
            continue
        a_more = more(joins[i - 1], cur, m_after)[len(cur):] if m_after else cur[:0]  # the shot before, past the cut
        b_more = more(joins[i], shot, m_before, backward=True)[:m_before]  # this shot, before its start
        fade = crossfade(np.concatenate([cur[len(cur) - m_before:], a_more]), np.concatenate([b_more, shot[:m_after]]))
        cur = np.concatenate([cur[: len(cur) - m_before], fade, shot[m_after:]])
    segments = [{"prompt": s.prompt, "at": s.at, "start_frame": a, "end_frame": b, "seed": r.seed,
                 "transition": m} for s, a, b, r, m in zip(shots, starts, ends, reqs, modes)]
    meta = {"task": "storyboard", "transition": transition, "overlap_latents": overlap_latents, "segments": segments,
            "request": req.to_dict()}
    return Video(frames=cur[:total], fps=req.fps, metadata=meta)

"""storyboard: a timeline of prompts (and optional keyframe images) rendered as one video.

    shots = parse_timeline({"seconds": 4, "shots": [{"at": "0s", "prompt": "..."},
                                                   {"at": "2s", "prompt": "...", "image": "key.png"}]})
    video = storyboard(pipe, shots, seconds=4)

The first shot is generated from its prompt (from its image, if it has one); every later
shot continues from the previous shot's last frames, like `extend`, under its own prompt, so
transitions are continuous. A shot with an image is a keyframe: the shot before it is
generated to land on that image (like interpolation), and the image is held for one latent
chunk (4 frames). Times snap to whole chunks (0.5 s at 8 fps).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np

from kinetoscope.pipeline import GenerationRequest, Pipeline, RequestError, Video
from kinetoscope.tasks.given import fit, window
from kinetoscope.tasks.windows import grow


@dataclass
class Shot:
    at: float  # seconds from the start
    prompt: str
    image: np.ndarray | None = None  # (H, W, 3) uint8 keyframe shown at `at`


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
    {at, prompt, image}) -> (shots as dicts with `at` in seconds, seconds or None)."""
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
        shots.append({"at": parse_time(item["at"]), "prompt": str(item["prompt"]), "image": item.get("image")})
    return shots, seconds


def check_timeline(shots: list[Shot], seconds: float, fps: int, k: int) -> list[int]:
    """Validate the timeline; return each shot's first frame (snapped to whole chunks)."""
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
            raise RequestError(f"shot {i + 1} at {s.at:g}s is beyond the video's length of {seconds:g}s")
    starts = [k * round(s.at * fps / k) for s in shots]
    ends = starts[1:] + [round(seconds * fps)]
    for i, (a, b) in enumerate(zip(starts, ends)):
        need = 3 * k if i == 0 and i + 1 < len(shots) and shots[1].image is not None else 2 * k
        if b - a < need:  # the opening shot also holds the overlap the keyframe landing starts from
            raise RequestError(f"shot {i + 1} at {shots[i].at:g}s is {(b - a) / fps:g}s long: "
                               f"{'this' if need > 2 * k else 'each'} shot needs at least {need / fps:g}s")
    return starts


def storyboard(pipe: Pipeline, shots: list[Shot], seconds: float | None = None, overlap_latents: int = 2,
               progress=None, **kw) -> Video:
    """One continuous video through `shots`; `seconds` defaults to the last shot + one clip."""
    shots = [s if isinstance(s, Shot) else Shot(**s) for s in shots]
    if not shots:
        raise RequestError("a storyboard needs at least one shot")
    req = pipe.resolve(GenerationRequest(prompt=shots[0].prompt, **kw))
    k = pipe.vae.config.time_factor
    seconds = shots[-1].at + pipe.config.seconds if seconds is None else seconds
    starts = check_timeline(shots, seconds, req.fps, k)
    total = round(seconds * req.fps)
    images = [None if s.image is None else fit(s.image, req.width, req.height, f"shot {i + 1}'s image")
              for i, s in enumerate(shots)]
    for i, s in enumerate(shots):
        pipe.resolve(dataclasses.replace(req, prompt=s.prompt))  # every prompt checked before any work
    cur = np.zeros((0, req.height, req.width, 3), np.uint8)
    segments = []
    for i, shot in enumerate(shots):
        end = starts[i + 1] if i + 1 < len(shots) else total
        nxt = images[i + 1] if i + 1 < len(shots) else None
        landing = None if nxt is None else np.repeat(nxt[None], k, axis=0)  # the next keyframe, held a chunk
        shot_req = dataclasses.replace(req, prompt=shot.prompt, seed=req.seed + 1000 * i)
        if i == 0:  # the opening window, from its image if it has one
            first = min(req.frames - 1, end - (0 if landing is None else k))
            head = None if images[0] is None else images[0][None]
            frames = 1 + k * -(-first // k)
            cur = window(pipe, shot_req, min(frames, req.frames), head=head, progress=progress)[:first]
        if end > len(cur):
            cur = grow(pipe, shot_req, cur, end - len(cur), overlap_latents=overlap_latents, end=landing,
                       progress=progress)
        segments.append({"prompt": shot.prompt, "at": shot.at, "start_frame": starts[i], "end_frame": end})
        if landing is not None:
            cur = np.concatenate([cur, landing])
    meta = {"task": "storyboard", "segments": segments, "request": req.to_dict()}
    return Video(frames=cur[:total], fps=req.fps, metadata=meta)

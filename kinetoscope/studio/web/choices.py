"""What the create form offers, read from the engine's capabilities: sizes by orientation, the
duration range, the tasks. Nothing here validates; the service functions do that."""

from __future__ import annotations

from kinetoscope import limits
from kinetoscope.engines.base import Capabilities

# the tasks the create page offers, in order (the lead adds more here as tasks land)
TASKS = {
    "t2v": "Text → video",
    "i2v": "Image → video",
    "image": "Still image (one frame)",
}
ASPECTS = ((1, 1), (4, 3), (16, 9))  # and each one turned on its side
ORIENTATIONS = ("Square", "Landscape", "Portrait")


def _orientation(w: int, h: int) -> str:
    return "Square" if w == h else ("Landscape" if w > h else "Portrait")


def sizes(caps: Capabilities, current: str | None = None) -> list[tuple[str, list[str]]]:
    """[(orientation, ["WxH", ...])]: for each aspect, the long side at half, one, two and four
    times the model's default, rounded to its size multiple and kept inside its range."""
    m, lo, hi = caps.size_multiple, caps.min_size, caps.max_size
    base = max(caps.width, caps.height)
    found = {f"{caps.width}x{caps.height}"}
    for long in (base // 2, base, base * 2, base * 4):
        for a, b in ASPECTS:
            short = round(long * b / a / m) * m
            for w, h in ((long, short), (short, long)):
                if lo <= min(w, h) and max(w, h) <= hi and w % m == 0 and h % m == 0:
                    found.add(f"{w}x{h}")
    if current:
        found.add(current)  # keep what the user sent, even if it is not on the list

    def key(s: str):
        w, _, h = s.partition("x")
        return (int(w) * int(h), s) if w.isdigit() and h.isdigit() else (0, s)

    groups = []
    for name in ORIENTATIONS:
        items = sorted((s for s in found if _shape(s) == name), key=key)
        if items:
            groups.append((name, items))
    other = sorted(s for s in found if _shape(s) is None)
    return groups + ([("Other", other)] if other else [])


def _shape(size: str) -> str | None:
    w, _, h = size.partition("x")
    return _orientation(int(w), int(h)) if w.isdigit() and h.isdigit() else None


def max_seconds(caps: Capabilities) -> float:
    return (caps.max_frames - 1) / caps.fps


def form_options(caps: Capabilities, engine_names: list[str], current: dict) -> dict:
    """Everything the create template needs besides the user's values."""
    return {
        "sizes": sizes(caps, current.get("size") or None),
        "default_size": f"{caps.width}x{caps.height}",
        "default_seconds": f"{caps.seconds:g}",
        "max_seconds": f"{max_seconds(caps):g}",
        "tasks": [(k, v) for k, v in TASKS.items() if k in caps.tasks],
        "models": engine_names,
        "steps_range": limits.STEPS,
        "guidance_range": limits.GUIDANCE,
        "prompt_max": limits.PROMPT_MAX_CHARS,
    }

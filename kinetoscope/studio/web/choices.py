"""What the create form offers, read from the engine's capabilities: sizes by orientation, the
duration range, the tasks. Nothing here validates; the service functions do that."""

from __future__ import annotations

from kinetoscope import catalog, limits
from kinetoscope.engines.base import BEYOND, Capabilities, beyond_trained
from kinetoscope.studio.api.variations import N

# the tasks the create page offers: what POST /v1/videos makes, named as kinetoscope/catalog.py names them
TASKS = {name: catalog.TASKS[name].label for name in catalog.studio_tasks()}
# the example prompts the create page shows: only words the built-in model saw in training
# (tests/studio/test_warnings.py checks every one against its vocabulary)
EXAMPLE_PROMPT = "a red circle moving right"
EXAMPLE_SHOTS = ("0s a red circle", "2s a blue square")  # a storyboard, one shot per line
RATIOS = (1.0, 3 / 4, 9 / 16)  # short side / long side, besides the model's own default shape
ORIENTATIONS = ("Square", "Landscape", "Portrait")
VARIATIONS = range(N[0], N[1] + 1)  # the create form's "Variations" choices


def _shape(size: str) -> str | None:
    w, _, h = size.partition("x")
    if not (w.isdigit() and h.isdigit()):
        return None
    return "Square" if w == h else ("Landscape" if int(w) > int(h) else "Portrait")


def sizes(caps: Capabilities, current: str | None = None) -> list[tuple[str, list[str]]]:
    """[(orientation, ["WxH", ...])]: the model's default shape, square, 4:3 and 16:9, each way
    round, with the long side at half, one, two and four times the default's; rounded to the
    model's size multiple, inside its range, and without near-duplicates (within 8% of the long side)."""
    m, lo, hi = caps.size_multiple, caps.min_size, caps.max_size
    base = max(caps.width, caps.height)
    found = [(caps.width, caps.height)]

    def near(w: int, h: int) -> bool:
        return any((w == a and abs(h - b) < 0.08 * w) or (h == b and abs(w - a) < 0.08 * h) for a, b in found)

    for long in (base // 2, base, base * 2, base * 4):
        for r in (min(caps.width, caps.height) / base, *RATIOS):
            short = round(long * r / m) * m
            for w, h in ((long, short), (short, long)):
                if lo <= min(w, h) and max(w, h) <= hi and w % m == 0 and h % m == 0 and not near(w, h):
                    found.append((w, h))
    names = {f"{w}x{h}" for w, h in found} | ({current} if current else set())  # keep what the user sent

    def area(s: str) -> tuple:
        w, _, h = s.partition("x")
        return (int(w) * int(h), s)

    groups = [(name, sorted((s for s in names if _shape(s) == name), key=area)) for name in ORIENTATIONS]
    other = sorted(s for s in names if _shape(s) is None)
    return [g for g in groups if g[1]] + ([("Other", other)] if other else [])


def max_seconds(caps: Capabilities) -> float:
    return (caps.max_frames - 1) / caps.fps


def _wh(size: str) -> tuple[int | None, int | None]:
    w, _, h = size.partition("x")
    return (int(w), int(h)) if w.isdigit() and h.isdigit() else (None, None)


def trained_options(caps: Capabilities, current: str | None = None) -> dict:
    """The sizes and length the form offers: first the sizes the model was trained for (the default
    among them), then the others under groups marked beyond it (none where the engine refuses
    them); each judged by engines.base.beyond_trained."""
    trained = [s for s in caps.sizes_trained if caps.min_size <= min(_wh(s)) and max(_wh(s)) <= caps.max_size]
    refuse = caps.beyond == "refuse"
    groups = [("Trained for", trained)] if trained else []
    for name, items in sizes(caps, current):
        rest = [s for s in items if s not in trained and (not refuse or s == current)]
        if rest:
            groups.append((f"{name} ({BEYOND})", rest))
    default = f"{caps.width}x{caps.height}"
    return {
        "sizes": groups,
        "beyond_sizes": {s for _, items in groups for s in items if "size" in beyond_trained(caps, *_wh(s))},
        "default_size": default if default in trained or not trained else trained[0],
        "default_seconds": f"{min(caps.seconds, caps.seconds_trained):g}",
        "trained_seconds": f"{caps.seconds_trained:g}",
        "max_seconds": f"{caps.seconds_trained if refuse else max_seconds(caps):g}",
        "beyond_text": BEYOND,
        "refuses_beyond": refuse,
    }


def form_options(caps: Capabilities, engine_names: list[str], current: dict) -> dict:
    """Everything the create template needs besides the user's values."""
    return {
        **trained_options(caps, current.get("size") or None),
        "variations": VARIATIONS,
        "tasks": [(k, v) for k, v in TASKS.items() if k in caps.tasks],
        "models": engine_names,
        "steps_range": limits.STEPS,
        "guidance_range": limits.GUIDANCE,
        "guidance_floor_range": limits.GUIDANCE_FLOOR,
        "prompt_max": limits.PROMPT_MAX_CHARS,
        "example_prompt": EXAMPLE_PROMPT,
        "example_shots": EXAMPLE_SHOTS,
    }

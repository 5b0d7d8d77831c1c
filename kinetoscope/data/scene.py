"""The procedural world's vocabulary and its scene graph.

This module is the one place for every fact about the world: the named
palette, the shapes, the size fractions, the motions and how fast each one
goes, the held-out combinations. The renderer (`world.py`), the captions
(`captions.py`) and the analyzer (`kinetoscope/eval/analyzer.py`) all read
these constants from here (re-exported by `world.py`).

Coordinates are pixels, x to the right and y *down* (image convention);
"up" means decreasing y. `S` below is the frame's shorter side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# Saturated, well-separated colours (min pairwise RGB distance ~100). Objects
# and backgrounds are both drawn from this palette; an object never has its
# background's colour.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (255, 140, 0),
    "yellow": (250, 220, 20),
    "green": (30, 170, 50),
    "cyan": (0, 210, 220),
    "blue": (30, 60, 220),
    "purple": (130, 40, 180),
    "pink": (255, 110, 190),
    "brown": (120, 70, 30),
    "white": (245, 245, 245),
    "gray": (128, 128, 128),
    "black": (15, 15, 15),
}
COLOURS: tuple[str, ...] = tuple(PALETTE)

GEOMETRIC_SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "ring")
DIGITS: tuple[str, ...] = tuple(str(d) for d in range(10))  # shape names "0".."9"
SHAPES: tuple[str, ...] = GEOMETRIC_SHAPES + DIGITS

# Nominal extent of an object (circle diameter, digit height) as a fraction
# of S. Shapes are defined in units of half that extent (see shapes.py).
SIZES: dict[str, float] = {"small": 0.2, "medium": 0.3, "large": 0.42}

# Linear motions and their unit screen directions (dx, dy), y down.
DIRECTIONS: dict[str, tuple[int, int]] = {
    "left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1),
    "up-left": (-1, -1), "up-right": (1, -1), "down-left": (-1, 1), "down-right": (1, 1),
}
OPPOSITE: dict[str, str] = {d: next(k for k, v in DIRECTIONS.items() if v == (-dx, -dy))
                            for d, (dx, dy) in DIRECTIONS.items()}
MOTIONS: tuple[str, ...] = tuple(DIRECTIONS) + (
    "bounce", "fall", "orbit", "spin", "grow", "shrink", "still")
SPEEDS: tuple[str, ...] = ("slow", "fast")
# Spinning a circle or ring is invisible, so the world never samples it.
SPIN_INVARIANT: frozenset[str] = frozenset({"circle", "ring"})

# How fast each motion goes. Per-frame rates are multiplied by S; whole-clip
# quantities do not depend on the clip length.
MOTION_SPEED: dict[str, dict[str, float | tuple[float, float]]] = {
    "linear": {"slow": 0.016, "fast": 0.032},   # path length per frame, x S
    "bounce": {"slow": 0.035, "fast": 0.06},    # per-axis speed per frame, x S
    "fall": {"slow": 0.6, "fast": 0.42},        # first floor hit, fraction of the clip
    "orbit": {"slow": 1 / 32, "fast": 1 / 16},  # turns per frame
    "spin": {"slow": 8.0, "fast": 16.0},        # degrees per frame
    "grow": {"slow": (0.75, 1.25), "fast": (0.55, 1.45)},  # scale first -> last frame
}
FALL_RESTITUTION = 0.7

BACKGROUND_KINDS: tuple[str, ...] = ("plain", "gradient", "textured")
TEXTURES: tuple[str, ...] = ("stripes", "checker", "blotches")
BACKGROUND_AMOUNT = 0.2  # gradient/texture blend at most this far to white or black

CAMERA_MOTIONS: tuple[str, ...] = (
    "pan-left", "pan-right", "pan-up", "pan-down", "zoom-in", "zoom-out")
CAMERA_PAN = 0.25   # camera travel over the clip, x S
CAMERA_ZOOM = 1.35  # zoom factor reached at the last frame (inverse for zoom-out)

# (colour, shape, motion) triples that training never sees. The eval suite
# renders them (split="heldout") to measure compositional generalisation:
# every colour, shape and motion here is common in training, only the
# combination is new.
HELD_OUT: tuple[tuple[str, str, str], ...] = (
    ("red", "star", "left"),
    ("blue", "triangle", "bounce"),
    ("green", "circle", "fall"),
    ("yellow", "square", "spin"),
    ("purple", "ring", "up"),
    ("orange", "triangle", "grow"),
    ("cyan", "star", "orbit"),
    ("pink", "square", "down"),
    ("white", "circle", "shrink"),
    ("brown", "ring", "right"),
    ("gray", "triangle", "still"),
    ("blue", "star", "down-right"),
)
HELD_OUT_SET: frozenset[tuple[str, str, str]] = frozenset(HELD_OUT)


@dataclass
class SceneObject:
    """One object: what it is, how it moves, and (after render) where it was.

    `params` holds the sampled motion parameters (start position, velocity,
    orbit radius, ...) in world pixels; `track`, `scales`, `angles` are the
    per-frame screen centroid (x, y), scale (1 = nominal size, camera zoom
    included) and rotation in degrees, filled by `world.trajectories`.
    """
    shape: str
    colour: str
    size: str
    motion: str
    speed: str | None
    params: dict = field(default_factory=dict)
    track: list[tuple[float, float]] = field(default_factory=list)
    scales: list[float] = field(default_factory=list)
    angles: list[float] = field(default_factory=list)

    @property
    def triple(self) -> tuple[str, str, str]:
        return (self.colour, self.shape, self.motion)


@dataclass
class Background:
    kind: str                 # one of BACKGROUND_KINDS
    colour: str               # a PALETTE name
    params: dict = field(default_factory=dict)  # direction, texture, frequency...


@dataclass
class Camera:
    motion: str = "none"      # "none" or one of CAMERA_MOTIONS
    amount: float = 1.0       # fraction of the full pan/zoom actually applied


@dataclass
class Scene:
    """A clip's scene graph: objects, background, camera and frame geometry.

    `layout` is "single" (1 object), "group" (n copies of one object: "two
    green squares") or "mixed" (different objects).
    """
    objects: list[SceneObject]
    background: Background
    camera: Camera
    height: int
    width: int
    frames: int
    layout: str = "single"

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (plain lists, floats, strings)."""
        d = asdict(self)
        for o in d["objects"]:
            o["track"] = [[round(float(x), 3), round(float(y), 3)] for x, y in o["track"]]
            o["scales"] = [round(float(s), 4) for s in o["scales"]]
            o["angles"] = [round(float(a), 3) for a in o["angles"]]
            o["params"] = {k: _plain(v) for k, v in o["params"].items()}
        d["background"]["params"] = {k: _plain(v) for k, v in d["background"]["params"].items()}
        return d


def _plain(v):
    """numpy scalars/tuples -> JSON-friendly python values."""
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if hasattr(v, "item"):
        return v.item()
    return v

"""The procedural world the built-in model trains on.

A clip is 1-3 objects (shapes and digits in named colours and sizes) moving
over a plain, gradient or textured background, optionally filmed by a
panning or zooming camera, with a caption and the scene graph beside it:

    cfg = WorldConfig()                      # the built-in model's curriculum start
    clip = make_clip(seed=7, cfg=cfg)        # clip.frames: (T, H, W, 3) uint8
    clip.caption, clip.scene.to_dict()

Everything is deterministic from a seed and pure numpy (Pillow draws the
digit glyphs once). `WorldConfig` is the curriculum knob: the default is one
object on a plain background with no camera; `WorldConfig.full()` is the
whole world. Run `python -m kinetoscope.data.world` for a speed benchmark.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

import numpy as np

from . import captions
from .background import draw_background, sample_background, shade_target
from .motion import (MIN_GAP, body, camera_track, clearance, object_track, radius_px,
                     sample_params)
from .scene import (BACKGROUND_AMOUNT, BACKGROUND_KINDS, CAMERA_MOTIONS, COLOURS, DIGITS,
                    DIRECTIONS, GEOMETRIC_SHAPES, HELD_OUT, HELD_OUT_SET, MOTION_SPEED,
                    MOTIONS, PALETTE, SHAPES, SIZES, SPEEDS, SPIN_INVARIANT,
                    Background, Camera, Scene, SceneObject)
from .shapes import coverage, shape_extent

__all__ = [
    "WorldConfig", "Clip", "Scene", "SceneObject", "Background", "Camera",
    "sample_scene", "render", "make_clip", "scene_from_spec", "kept_apart", "trajectories",
    "PALETTE", "COLOURS", "SHAPES", "GEOMETRIC_SHAPES", "DIGITS", "SIZES", "MOTIONS",
    "DIRECTIONS", "SPEEDS", "MOTION_SPEED", "BACKGROUND_KINDS", "BACKGROUND_AMOUNT",
    "CAMERA_MOTIONS", "HELD_OUT", "shade_target",
]

SPLITS = ("train", "heldout")
PHRASINGS = ("random", "canonical", "paraphrase")


@dataclass
class WorldConfig:
    """What the world may contain (the curriculum) and the clip geometry."""
    height: int = 64
    width: int = 64
    frames: int = 17                  # 1 gives still images
    min_objects: int = 1
    max_objects: int = 1              # up to 3
    group_prob: float = 0.5           # with >1 object: copies of one object ("two red stars")
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = COLOURS
    sizes: tuple[str, ...] = tuple(SIZES)
    motions: tuple[str, ...] = MOTIONS
    speeds: tuple[str, ...] = SPEEDS
    backgrounds: tuple[str, ...] = ("plain",)
    background_colours: tuple[str, ...] = COLOURS
    camera_prob: float = 0.0
    camera_motions: tuple[str, ...] = CAMERA_MOTIONS

    def __post_init__(self):
        for name, allowed in (("shapes", SHAPES), ("colours", COLOURS), ("sizes", tuple(SIZES)),
                              ("motions", MOTIONS), ("speeds", SPEEDS),
                              ("backgrounds", BACKGROUND_KINDS),
                              ("background_colours", COLOURS),
                              ("camera_motions", CAMERA_MOTIONS)):
            values = tuple(getattr(self, name))
            setattr(self, name, values)
            bad = [v for v in values if v not in allowed]
            if bad or not values:
                raise ValueError(f"WorldConfig.{name}={values!r}: must be a non-empty subset "
                                 f"of {allowed}")
        if not 1 <= self.min_objects <= self.max_objects <= 3:
            raise ValueError(f"need 1 <= min_objects ({self.min_objects}) <= max_objects "
                             f"({self.max_objects}) <= 3")
        if self.frames < 1 or min(self.height, self.width) < 16:
            raise ValueError(f"frames={self.frames} must be >= 1 and height x width "
                             f"({self.height}x{self.width}) at least 16x16")
        if set(self.motions) == {"spin"} and set(self.shapes) <= SPIN_INVARIANT:
            raise ValueError("spin needs a shape other than circle/ring")

    @classmethod
    def full(cls, **overrides) -> "WorldConfig":
        """The whole world: 1-3 objects, every background, camera in 30% of clips."""
        base = dict(max_objects=3, backgrounds=BACKGROUND_KINDS, camera_prob=0.3)
        return cls(**{**base, **overrides})


@dataclass
class Clip:
    frames: np.ndarray   # (T, H, W, 3) uint8
    caption: str
    scene: Scene


# ---- sampling --------------------------------------------------------------

def _choice(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _choice_shape(rng: np.random.Generator, shapes: tuple[str, ...]) -> str:
    """Uniform over the geometric shapes and "a digit" (then uniform over digits)."""
    digits = [s for s in shapes if s in DIGITS]
    kinds = [s for s in shapes if s not in DIGITS] + (["digit"] if digits else [])
    kind = _choice(rng, kinds)
    return _choice(rng, digits) if kind == "digit" else kind


def _sample_object(rng, cfg: WorldConfig, split: str, shapes=None) -> SceneObject:
    shapes = shapes or cfg.shapes
    for _ in range(1000):
        if split == "heldout":
            pool = [t for t in HELD_OUT if t[0] in cfg.colours and t[1] in shapes
                    and t[2] in cfg.motions]
            if not pool:
                raise ValueError("split='heldout' but WorldConfig allows none of HELD_OUT")
            colour, shape, motion = _choice(rng, pool)
        else:
            colour, shape = _choice(rng, cfg.colours), _choice_shape(rng, shapes)
            motion = _choice(rng, cfg.motions)
            if (colour, shape, motion) in HELD_OUT_SET:
                continue
        if motion == "spin" and shape in SPIN_INVARIANT:
            continue
        speed = None if motion == "still" else _choice(rng, cfg.speeds)
        return SceneObject(shape, colour, _choice(rng, cfg.sizes), motion, speed)
    raise ValueError("WorldConfig leaves no object that training may show")


def sample_scene(rng: np.random.Generator, cfg: WorldConfig, split: str = "train") -> Scene:
    """A random scene graph (tracks filled in).

    split="train" never yields an object whose (colour, shape, motion) is in
    HELD_OUT; split="heldout" yields scenes whose first object (or group) is
    a held-out triple and whose other objects are not.
    """
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: allowed {SPLITS}")
    n = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    layout = "single" if n == 1 else ("group" if rng.random() < cfg.group_prob else "mixed")
    first = _sample_object(rng, cfg, split)
    if layout == "group":
        objects = [replace(first) for _ in range(n)]
    else:
        objects = [first]
        for _ in range(n - 1):
            # mixed objects have distinct shapes so captions can say "the circle"
            free = tuple(s for s in cfg.shapes if s not in {o.shape for o in objects})
            if not free:
                break
            objects.append(_sample_object(rng, cfg, "train", free))
        layout = layout if len(objects) > 1 else "single"
    used = {o.colour for o in objects}
    bg_colours = tuple(c for c in cfg.background_colours if c not in used)
    if not bg_colours:
        raise ValueError("WorldConfig.background_colours leaves no colour unlike the objects")
    background = sample_background(rng, cfg.backgrounds, _choice(rng, bg_colours))
    camera = Camera()
    if cfg.frames > 1 and rng.random() < cfg.camera_prob:
        camera = Camera(_choice(rng, cfg.camera_motions))
    scene = Scene(objects, background, camera, cfg.height, cfg.width, cfg.frames, layout)
    _place(rng, scene, cfg.sizes)
    return scene


def _place(rng, scene: Scene, sizes: tuple[str, ...] = (), drop: bool = True) -> None:
    """Sample motion parameters so that objects never touch: make the largest
    objects a size smaller (among `sizes`) while they cannot fit, then drop
    those that still cannot (if `drop`). Finally shrink the camera move until
    every object stays in frame."""
    H, W, T = scene.height, scene.width, scene.frames
    objs = scene.objects
    sizes = [s for s in SIZES if s in sizes]
    for _ in range(len(SIZES)):
        others: list = []
        gaps = []
        for i, o in enumerate(objs):
            if o.motion == "orbit" and scene.layout == "group" and i > 0:
                # copies share the lead's orbit, spread evenly around it
                lead = objs[0].params
                phase = lead["phase"] + 2 * math.pi * i / len(objs)
                o.params = {**lead, "phase": phase,
                            "x0": W / 2 + lead["radius"] * math.cos(phase),
                            "y0": H / 2 + lead["radius"] * math.sin(phase)}
                gaps.append(clearance(o, H, W, T, others))
            else:
                gaps.append(sample_params(rng, o, H, W, T, others)[1])
            others.append(body(o, H, W, T))
        biggest = max(sizes.index(o.size) if o.size in sizes else 0 for o in objs)
        if min(gaps) >= 0 or biggest == 0:
            break
        for o in objs:
            if o.size in sizes and sizes.index(o.size) == biggest:
                o.size = sizes[biggest - 1]
    if drop:
        scene.objects = [o for o, g in zip(objs, gaps) if g >= 0]
    if len(scene.objects) == 1:
        scene.layout = "single"
    for _ in range(4):
        trajectories(scene)
        if scene.camera.motion == "none" or _in_frame(scene):
            return
        scene.camera.amount *= 0.5
    scene.camera = Camera()
    trajectories(scene)


def kept_apart(scene: Scene, gap: float = MIN_GAP) -> bool:
    """Whether the objects' bounding circles stay `gap` x S apart in every frame (placement asks
    MIN_GAP of the first frame and three quarters of the rest, so training's paths may cross)."""
    H, W, T = scene.height, scene.width, scene.frames
    bodies = [body(o, H, W, T) for o in scene.objects]
    for (x, y, r), (u, v, q) in itertools.combinations(bodies, 2):
        if (np.hypot(x - u, y - v) - r - q).min() < gap * min(H, W):
            return False
    return True


def _in_frame(scene: Scene) -> bool:
    for o in scene.objects:
        ext = shape_extent(o.shape) * radius_px(o, scene.height, scene.width)
        for (x, y), s in zip(o.track, o.scales):
            r = ext * s
            if x - r < 0 or y - r < 0 or x + r > scene.width or y + r > scene.height:
                return False
    return True


def scene_from_spec(spec: dict, cfg: WorldConfig) -> Scene:
    """Build a scene from an explicit description (used by the eval suite).

    spec = {"objects": [{"shape": "circle", "colour": "red", "size": "small",
                         "motion": "right", "speed": "slow"}, ...],
            "background": {"kind": "plain", "colour": "blue"},
            "camera": "none", "seed": 0}
    Missing fields default to size "medium", motion "still", speed "slow",
    a plain background in the first palette colour unused by the objects.
    Placement (start positions) is drawn from `seed`.
    """
    rng = np.random.default_rng(spec.get("seed", 0))
    objs = spec.get("objects") or []
    if not 1 <= len(objs) <= 3:
        raise ValueError(f"spec has {len(objs)} objects; allowed 1 to 3")
    objects = []
    for o in objs:
        shape, colour = str(o.get("shape", "circle")), o.get("colour", o.get("color", "red"))
        size, motion = o.get("size", "medium"), o.get("motion", "still")
        speed = None if motion == "still" else o.get("speed", "slow")
        for name, value, allowed in (("shape", shape, SHAPES), ("colour", colour, COLOURS),
                                     ("size", size, tuple(SIZES)), ("motion", motion, MOTIONS),
                                     ("speed", speed, SPEEDS + (None,))):
            if value not in allowed:
                raise ValueError(f"spec object {name}={value!r}: allowed {allowed}")
        objects.append(SceneObject(shape, colour, size, motion, speed))
    bg = dict(spec.get("background") or {})
    used = {o.colour for o in objects}
    colour = bg.get("colour", bg.get("color")) or next(c for c in COLOURS if c not in used)
    kind = bg.get("kind", "plain")
    if colour not in COLOURS or kind not in BACKGROUND_KINDS:
        raise ValueError(f"spec background kind={kind!r} colour={colour!r}: allowed kinds "
                         f"{BACKGROUND_KINDS}, colours {COLOURS}")
    if colour in used:
        raise ValueError(f"spec background colour={colour!r} is also an object's colour")
    background = sample_background(rng, (kind,), colour)
    camera = spec.get("camera", "none")
    if camera != "none" and camera not in CAMERA_MOTIONS:
        raise ValueError(f"spec camera={camera!r}: allowed none, {CAMERA_MOTIONS}")
    same = len(objects) > 1 and all(o == objects[0] for o in objects)
    layout = "single" if len(objects) == 1 else ("group" if same else "mixed")
    scene = Scene(objects, background, Camera(camera), cfg.height, cfg.width, cfg.frames, layout)
    _place(rng, scene, drop=False)
    return scene


# ---- rendering -------------------------------------------------------------

def trajectories(scene: Scene) -> None:
    """Fill each object's per-frame screen track, scale and angle (camera applied)."""
    H, W, T = scene.height, scene.width, scene.frames
    cx, cy, zoom = camera_track(scene.camera, H, W, T)
    for o in scene.objects:
        x, y, s, a = object_track(o, H, W, T)
        sx, sy = (x - cx) * zoom + W / 2, (y - cy) * zoom + H / 2
        o.track = [(float(u), float(v)) for u, v in zip(sx, sy)]
        o.scales = [float(v) for v in s * zoom]
        o.angles = [float(v) for v in a]


def render(scene: Scene, cfg: WorldConfig | None = None) -> np.ndarray:
    """Draw the scene: (T, H, W, 3) uint8. Also fills the per-frame tracks.

    Geometry comes from the scene (which was built for a WorldConfig); a cfg
    of a different size is an error.
    """
    if cfg is not None and (cfg.height, cfg.width, cfg.frames) != (
            scene.height, scene.width, scene.frames):
        raise ValueError(f"scene is {scene.frames}x{scene.height}x{scene.width} but cfg asks "
                         f"for {cfg.frames}x{cfg.height}x{cfg.width}")
    trajectories(scene)
    H, W, T = scene.height, scene.width, scene.frames
    img = np.empty((T, H, W, 3), np.float32)
    img[:] = draw_background(scene)
    for o in scene.objects:
        x, y = np.array(o.track).T                                 # (T,) screen centroid
        r = radius_px(o, H, W) * np.array(o.scales)                # (T,) px per shape unit
        # draw only inside the box the object sweeps over the clip
        ext = shape_extent(o.shape) * r + 1
        x0, x1 = max(0, math.floor((x - ext).min())), min(W, math.ceil((x + ext).max()))
        y0, y1 = max(0, math.floor((y - ext).min())), min(H, math.ceil((y + ext).max()))
        if x1 <= x0 or y1 <= y0:
            continue
        cov = coverage(o.shape, x - x0, y - y0, r, np.array(o.angles), y1 - y0, x1 - x0)
        col = np.array(PALETTE[o.colour], np.float32)
        box = img[:, y0:y1, x0:x1]                                 # (T, h, w, 3) view
        box += cov[..., None] * (col - box)
    img += np.float32(0.5)
    return img.astype(np.uint8)


def make_clip(seed: int, cfg: WorldConfig, split: str = "train",
              phrasing: str = "random") -> Clip:
    """Sample, render and caption one clip; phrasing: random | canonical | paraphrase."""
    if phrasing not in PHRASINGS:
        raise ValueError(f"phrasing={phrasing!r}: allowed {PHRASINGS}")
    rng = np.random.default_rng(seed)
    scene = sample_scene(rng, cfg, split)
    frames = render(scene, cfg)
    if phrasing == "canonical":
        caption = captions.canonical_caption(scene)
    elif phrasing == "paraphrase":
        caption = captions.paraphrase_caption(scene, rng)
    else:
        caption = captions.random_caption(scene, rng)
    return Clip(frames, caption, scene)


if __name__ == "__main__":
    import time

    for name, cfg in (("default (1 object, plain)", WorldConfig()),
                      ("full world (1-3 objects, backgrounds, camera)", WorldConfig.full())):
        for i in range(20):
            make_clip(i, cfg)                                      # warm the shape cache
        n, t0 = 500, time.perf_counter()
        for i in range(n):
            make_clip(i, cfg)
        dt = time.perf_counter() - t0
        print(f"{name}: {n / dt:.0f} clips/s ({cfg.frames} frames of "
              f"{cfg.height}x{cfg.width}, single thread)")
    clip = make_clip(0, WorldConfig.full())
    print(clip.caption)

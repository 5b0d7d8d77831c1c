"""Recipes: every output says exactly how to make it again.

    video = run(pipe, "i2v", {"image": img}, prompt="a red ball rolling", seed=3)
    video.metadata["recipe"]  # task, params, inputs' sha256, model name and weights sha256
    again = rerender(pipe, video.metadata, {"image": img})       # bit-identical frames
    other = remix(pipe, video.metadata, {"image": img}, prompt="a blue ball rolling")

Inputs are hashed as decoded pixels (sha256 over shape, dtype and bytes), so the same picture
in another container still matches; a file's own sha256 and path are kept beside it when the
caller passes `files`, and `remix` re-reads inputs from those paths when they are not given.
Settings left to a default are kept too (`defaults`: the task's own, and the request's from
pipeline.json), so a later version with other defaults still re-renders the recipe exactly.

`run` is the one dispatcher: the command line, the studio's worker and every engine go through it.
On the built-in engine (anything with a `.pipeline`) every task of kinetoscope/catalog.py runs; on
an open-weight engine, the tasks that are one GenerationRequest (catalog `request_only`) that its
model lists.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from pathlib import Path

import numpy as np

from kinetoscope import __version__, catalog
from kinetoscope.catalog import VIDEO_INPUTS
from kinetoscope.pipeline import GenerationRequest, Pipeline, RequestError, Video
from kinetoscope.tasks.edit import edit
from kinetoscope.tasks.given import first_last_request, i2v_request, image_request, t2v_request
from kinetoscope.tasks.stills import i2v, interpolate
from kinetoscope.tasks.loop import loop
from kinetoscope.tasks.recut import recut
from kinetoscope.tasks.storyboard import Shot, storyboard
from kinetoscope.tasks.windows import extend

RECIPE_VERSION = 1


def _image(pipe, prompt, **kw):
    return pipe.resolve(image_request(prompt, **kw))


def _engine_i2v(engine, image, prompt, **kw):
    return engine.resolve(i2v_request(engine, image, prompt, **kw))  # checked with its given frame


# task (kinetoscope/catalog.py) -> (its function on the built-in Pipeline, the catalog's inputs);
# a function returns a GenerationRequest or a Video
_FUNCTIONS = {"t2v": t2v_request, "image": _image, "i2v": i2v, "interpolate": interpolate, "extend": extend,
              "loop": loop, "edit": edit, "recut": recut, "storyboard": storyboard}
TASKS = {name: (_FUNCTIONS[name], t.inputs) for name, t in catalog.TASKS.items()}
# the request_only tasks on an open-weight engine: its own request, no built-in Pipeline needed
ENGINE_FUNCTIONS = {"t2v": t2v_request, "image": _image, "i2v": _engine_i2v, "interpolate": first_last_request}
assert set(_FUNCTIONS) == set(catalog.TASKS) and set(ENGINE_FUNCTIONS) == {
    t.name for t in catalog.TASKS.values() if t.request_only}
_REQUEST_FIELDS = ("prompt", "negative_prompt", "width", "height", "seconds", "frames", "fps", "steps", "guidance",
                   "seed", "sampler", "step_cache", "guidance_floor")
# request settings a recipe pins when they were left to the model's pipeline.json (which the weights hash does not cover)
_PINNED_REQUEST = ("width", "height", "fps", "steps", "guidance", "sampler", "guidance_floor")


def frames_sha256(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{a.shape}|{a.dtype}|".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def allowed_params(task: str, engine: bool = False) -> set[str]:
    """The settings `task` takes: its function's own and the request's (`engine`: on an open-weight engine)."""
    fn, inputs = (ENGINE_FUNCTIONS[task], TASKS[task][1]) if engine else TASKS[task]
    names = set(inspect.signature(fn).parameters) - {"pipe", "engine", "progress", "kw", *inputs}
    return (names | set(_REQUEST_FIELDS)) - ({"prompt"} if task == "storyboard" else set())  # shots hold the prompts


def settings_used(fn, call: dict, out, video: Video) -> dict:
    """What a run used but was not told: the task function's own defaults (a later version may
    change them, as extend's overlap and release once changed), a default of None as the task
    resolved it (reported in its metadata under the parameter's name), and the request settings
    that came from pipeline.json. A recipe keeps them, so re-rendering does not depend on them."""
    used = {}
    for name, p in inspect.signature(fn).parameters.items():
        if name in call or name in ("pipe", "engine", "progress") or p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD:
            continue
        if p.default is None and isinstance(video.metadata.get(name), (bool, int, float, str)):
            used[name] = video.metadata[name]
        elif isinstance(p.default, (bool, int, float, str)):
            used[name] = p.default
    req = out.to_dict() if isinstance(out, GenerationRequest) else video.metadata.get("request") or {}
    used.update({f: req[f] for f in _PINNED_REQUEST if f not in call and req.get(f) is not None})
    return used


def _task(task: str):
    catalog.check(task)
    return TASKS[task]


def pipeline_of(engine) -> Pipeline | None:
    """The built-in Pipeline behind `engine` (a BuiltinEngine, or a Pipeline itself); None for an
    open-weight engine."""
    return engine if isinstance(engine, Pipeline) else getattr(engine, "pipeline", None)


def _engine_task(engine, task: str):
    """An open-weight engine's function for `task`, or a RequestError saying what it can do. Which
    of these its model can do, the engine checks on the request (given frames and mask) itself."""
    if task not in ENGINE_FUNCTIONS:
        raise RequestError(f"model {engine.name!r} cannot do task {task!r}: it supports "
                           f"{', '.join(engine.capabilities.tasks)}")
    return ENGINE_FUNCTIONS[task]


def _storyboard_inputs(params: dict, inputs: dict) -> dict:
    """Shots in a recipe name their image input ("shot2"); the function wants the pixels."""
    shots = []
    for s in params["shots"]:
        s = dict(s)
        if s.get("image") is not None:
            if s["image"] not in inputs:
                raise RequestError(f"the storyboard's shot at {s['at']}s needs the input {s['image']!r}")
            s["image"] = inputs[s["image"]]
        shots.append(Shot(**s))
    return {**params, "shots": shots}


def run(engine, task: str, inputs: dict | None = None, *, progress=None, files: dict | None = None,
        **params) -> Video:
    """Run `task` on `inputs` (name -> uint8 frames) with `params` on `engine` (any engine, or the
    built-in Pipeline); the Video's metadata holds its recipe. For a storyboard, each shot's
    `image` is the name of an input."""
    fn, names = _task(task)
    pipe = pipeline_of(engine)
    if pipe is None:
        fn = _engine_task(engine, task)
    inputs = {k: v for k, v in (inputs or {}).items() if v is not None}
    extra = set(inputs) - set(names) - ({n for n in inputs if n.startswith("shot")} if task == "storyboard" else set())
    if extra:
        raise RequestError(f"task {task} takes no input {sorted(extra)[0]!r}: it takes {', '.join(names) or 'none'}")
    missing = [n for n in names if n not in inputs and n not in catalog.OPTIONAL_INPUTS.get(task, ())]
    if missing:
        raise RequestError(f"task {task} needs the input {missing[0]!r}")
    allowed = allowed_params(task, engine=pipe is None)
    unknown = set(params) - allowed
    if unknown:
        raise RequestError(f"task {task} has no setting {sorted(unknown)[0]!r}: use {', '.join(sorted(allowed))}")
    params = json.loads(json.dumps(params))  # the recipe is what JSON keeps (tuples become lists)
    call = _storyboard_inputs(params, inputs) if task == "storyboard" else {**inputs, **params}
    target = pipe if pipe is not None else engine
    t0 = time.perf_counter()
    out = fn(target, progress=progress, **call) if "progress" in inspect.signature(fn).parameters else fn(target, **call)
    video = target.generate(out, progress=progress) if isinstance(out, GenerationRequest) else out
    model = pipe.config.name if pipe is not None else engine.name
    recipe = {"version": RECIPE_VERSION, "task": task, "params": params, "defaults": settings_used(fn, call, out, video),
              "inputs": {n: {"sha256": frames_sha256(a), "shape": list(np.shape(a))} for n, a in sorted(inputs.items())},
              "model": model, "weights_sha256": pipe.weights_hash if pipe is not None else None,
              "generator": f"kinetoscope {__version__}"}
    for n, path in (files or {}).items():
        if n in recipe["inputs"] and path is not None:
            recipe["inputs"][n].update(file=str(Path(path).resolve()), file_sha256=file_sha256(path))
    video.metadata = {**video.metadata, "generator": recipe["generator"], "model": recipe["model"],
                      "weights_sha256": recipe["weights_sha256"], "task": task, "recipe": recipe,
                      "seconds_to_generate": round(time.perf_counter() - t0, 3)}
    return video


def recipe_of(previous: dict) -> dict:
    """The recipe in a video's metadata (or a recipe itself). Videos made before recipes were
    stored give a text->video recipe from their request."""
    if not isinstance(previous, dict):
        raise RequestError("no recipe: the video has no kinetoscope metadata")
    if "recipe" in previous:
        return previous["recipe"]
    if "task" in previous and "params" in previous:
        return previous
    req = previous.get("request")
    if not isinstance(req, dict) or not req.get("prompt"):
        raise RequestError("no recipe: the video's metadata holds no request")
    if req.get("has_given_frames") or req.get("has_init_frames"):
        raise RequestError("the video was made from input frames but its metadata does not say which: it cannot be remixed")
    fields = ("prompt", "negative_prompt", "width", "height", "frames", "fps", "steps", "guidance", "seed", "sampler")
    return {"version": RECIPE_VERSION, "task": "image" if req.get("frames") == 1 else "t2v",
            "params": {f: req[f] for f in fields if f in req and (f != "frames" or req[f] != 1)},
            "inputs": {}, "model": previous.get("model"), "weights_sha256": previous.get("weights_sha256")}


def _load_input(name: str, info: dict) -> np.ndarray:
    from kinetoscope.media import read_image, read_video

    path = info.get("file")
    if not path or not Path(path).is_file():
        where = f" (it was {path})" if path else ""
        raise RequestError(f"the recipe needs its input {name!r}{where}: pass it (sha256 {info['sha256'][:16]}...)")
    return read_video(path)[0] if name in VIDEO_INPUTS else read_image(path)


def remix(engine, previous: dict, inputs: dict | None = None, *, progress=None, files: dict | None = None,
          **changes) -> Video:
    """Run a previous video's recipe again with `changes` (prompt, seed, steps, strength, ...).
    Inputs must be the very ones the recipe used (checked by sha256)."""
    recipe = recipe_of(previous)
    task = recipe["task"]
    _task(task)
    inputs, files = dict(inputs or {}), dict(files or {})
    for name, info in recipe.get("inputs", {}).items():
        if inputs.get(name) is None:
            inputs[name] = _load_input(name, info)
            files.setdefault(name, info.get("file"))
        if frames_sha256(inputs[name]) != info["sha256"]:
            raise RequestError(f"input {name!r} is not the one the recipe used: its sha256 is "
                               f"{frames_sha256(inputs[name])[:16]}..., the recipe's {info['sha256'][:16]}...")
    changes = {k: v for k, v in changes.items() if v is not None}
    pipe = pipeline_of(engine)
    if pipe is None:
        _engine_task(engine, task)
    unknown = set(changes) - allowed_params(task, engine=pipe is None)
    if unknown:
        raise RequestError(f"a {task} recipe has no setting {sorted(unknown)[0]!r}: "
                           f"change one of {', '.join(sorted(allowed_params(task)))}")
    params = {**recipe.get("defaults", {}), **recipe["params"], **changes}  # older recipes have no "defaults"
    if task == "storyboard":
        params.setdefault("transition", "continue")  # what every storyboard did before transitions could be chosen
    if pipe is not None:  # a recipe that does not pin the floor is older than it: guided to the end, as all were
        params.setdefault("guidance_floor", 0.0)
    own_seconds = "seconds" in inspect.signature(TASKS[task][0]).parameters
    if "seconds" in changes and "frames" not in changes and not own_seconds:
        params.pop("frames", None)  # a new length in seconds replaces the old frame count
    if pipe is None:  # the built-in functions' own settings (release, dissolve) do not apply
        params = {k: v for k, v in params.items() if k in allowed_params(task, engine=True)}
    video = run(engine, task, inputs, progress=progress, files=files, **params)
    video.metadata["remix_of"] = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()
    return video


def rerender(engine, previous: dict, inputs: dict | None = None, *, progress=None) -> Video:
    """Make a video again from its recipe, exactly (same weights required): a remix with no change."""
    recipe = recipe_of(previous)
    pipe = pipeline_of(engine)
    if pipe is not None and recipe.get("weights_sha256") not in (None, pipe.weights_hash):
        raise RequestError(f"the recipe was made with weights {recipe['weights_sha256'][:16]}..., these are "
                           f"{pipe.weights_hash[:16]}...: load those weights to re-render it exactly")
    return remix(engine, recipe, inputs, progress=progress)

"""A job's stored request -> its video, through the one dispatcher (`tasks.run`).

The API stores what it validated at create time (`stored_request`: the request's fields plus the
task's own settings, e.g. extend_seconds); `task_call` turns that into the task's params and
`build_request` runs it, so a job re-run by another worker makes the same video, and the video's
metadata carries the same recipe as a command-line output (`kinetoscope generate --task remix`
works on it). `stored_of_recipe` is the way back: a recipe read from a video file, as the API
stores it, so an upload made anywhere can be remixed here.
"""

from __future__ import annotations

import dataclasses
import json

from kinetoscope import catalog
from kinetoscope.pipeline import GenerationRequest, RequestError, Video

REQUEST_FIELDS = tuple(f.name for f in dataclasses.fields(GenerationRequest) if f.name not in ("given_frames", "given_mask", "init_frames"))
# the request settings a storyboard's windows share (its shots hold the prompts, its recipe the length)
STORYBOARD_SETTINGS = ("negative_prompt", "width", "height", "fps", "steps", "guidance", "guidance_floor", "seed",
                       "sampler")
# the settings an extend or edit window takes from the stored request (the input video sets its size)
WINDOW_SETTINGS = ("negative_prompt", "steps", "guidance", "guidance_floor", "seed", "sampler")
# a whole request's settings, as `tasks.run` takes them
RUN_SETTINGS = ("negative_prompt", "width", "height", "seconds", "frames", "fps", "steps", "guidance", "seed",
                "sampler", "step_cache", "guidance_floor")
# what a stored request keeps of a task's own settings
TASK_OPTIONS = ("extend_seconds", "direction", "strength", "shots", "transition", "storyboard_seconds")


def stored_request(req: GenerationRequest, **options) -> dict:
    """The stored form of a resolved request plus task options (e.g. extend seconds)."""
    d = {k: getattr(req, k) for k in REQUEST_FIELDS}
    d.update(options)
    return d


def job_task(task: str, input_key: str | None) -> str:
    """A job's task; rows stored before remixes kept their source's task said `remix`."""
    if task == catalog.REMIX:
        return "i2v" if input_key else "t2v"
    return task


def task_call(task: str, stored: dict) -> dict:
    """The `tasks.run` params (besides inputs) of a job's stored request."""
    if task == "storyboard":
        return {"shots": stored["shots"], "seconds": stored["storyboard_seconds"], "transition": stored["transition"],
                **{k: stored[k] for k in STORYBOARD_SETTINGS if stored.get(k) is not None}}
    if task in ("extend", "edit"):
        own = {"seconds": stored["extend_seconds"], "fps": stored["fps"],
               "direction": stored.get("direction", "forward")} if task == "extend" else {"strength": stored["strength"]}
        return {"prompt": stored["prompt"], **own, **{k: stored[k] for k in WINDOW_SETTINGS if stored.get(k) is not None}}
    params = {k: stored[k] for k in ("prompt", *RUN_SETTINGS) if stored.get(k) is not None}
    if task == "image":  # one frame is the task itself
        params.pop("frames", None)
        params.pop("seconds", None)
    return params


def stored_of_recipe(recipe: dict) -> dict:
    """A recipe (tasks.recipe_of of a video's metadata) as the API stores its task's request."""
    params = {**recipe.get("defaults", {}), **recipe["params"]}
    if recipe["task"] == "storyboard":
        return {**{k: params.get(k) for k in STORYBOARD_SETTINGS}, "prompt": params["shots"][0]["prompt"],
                "shots": [{k: v for k, v in s.items() if k != "image"} for s in params["shots"]],
                "transition": params.get("transition", "continue"), "storyboard_seconds": params.get("seconds")}
    stored = {k: params[k] for k in ("prompt", *RUN_SETTINGS) if params.get(k) is not None}
    if recipe["task"] == "image":
        stored["frames"] = 1
    if recipe["task"] == "extend":
        stored.update(extend_seconds=params["seconds"], direction=params.get("direction", "forward"))
    if recipe["task"] == "edit":
        stored["strength"] = params.get("strength")
    return stored


def request_of(recipe: dict) -> GenerationRequest:
    return GenerationRequest(**{k: recipe[k] for k in REQUEST_FIELDS if k in recipe})


def build_request(svc, row, engine, progress) -> Video:
    """Run a job's task on `engine` with `tasks.run`: the one dispatcher the command line uses too."""
    from kinetoscope import tasks
    from kinetoscope.media import read_image

    stored = json.loads(row.request)
    task = job_task(row.task, row.input_key)
    if task not in catalog.TASKS:
        raise RequestError(f"task {row.task!r} is not supported: use one of {', '.join(catalog.TASKS)}")
    inputs = {}
    if task == "i2v":
        if not row.input_key:
            raise RequestError("task i2v needs an input image")
        inputs["image"] = read_image(svc.storage.path(row.input_key))
    elif "video" in catalog.TASKS[task].inputs and (row.source_video_id or row.input_key):
        inputs["video"] = source_frames(svc, row)
    return tasks.run(engine, task, inputs, progress=progress, **task_call(task, stored))


def source_frames(svc, row):
    """The input video of an extend or edit: a completed video of the studio, or an upload."""
    from kinetoscope.media import read_video

    if row.source_video_id:
        return frames_of(svc, row.source_video_id)
    frames, _ = read_video(svc.storage.path(row.input_key))
    return frames


def frames_of(svc, video_id: str):
    """The frames (T, H, W, 3) of a completed video in storage (the input of extend / edit / recut)."""
    from kinetoscope.media import read_video
    from kinetoscope.studio.storage import VARIANTS

    frames, _ = read_video(svc.storage.path(f"{video_id}/{VARIANTS['video'][0]}"))
    return frames

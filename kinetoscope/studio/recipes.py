"""A job's recipe (the stored request) -> a video, by task. The recipe is what the API
validated and stored at create time, so a job re-run by another worker, or remixed, makes the
same video from the same recipe."""

from __future__ import annotations

import dataclasses
import json

from kinetoscope.pipeline import GenerationRequest, RequestError, Video

REQUEST_FIELDS = tuple(f.name for f in dataclasses.fields(GenerationRequest) if f.name not in ("given_frames", "given_mask", "init_frames"))
TASKS = ("t2v", "image", "i2v", "loop", "storyboard", "extend", "edit", "remix")
# the request settings a storyboard's windows share (its shots hold the prompts, its recipe the length)
STORYBOARD_SETTINGS = ("negative_prompt", "width", "height", "fps", "steps", "guidance", "seed", "sampler")


def recipe_of(req: GenerationRequest, **options) -> dict:
    """The stored form of a resolved request plus task options (e.g. extend seconds)."""
    d = {k: getattr(req, k) for k in REQUEST_FIELDS}
    d.update(options)
    return d


def request_of(recipe: dict) -> GenerationRequest:
    return GenerationRequest(**{k: recipe[k] for k in REQUEST_FIELDS if k in recipe})


def build_request(svc, row, engine, progress) -> Video:
    from kinetoscope import tasks
    from kinetoscope.media import read_image

    if json.loads(row.request).get("characters"):  # a character's reference frame starts it (studio/characters.py)
        from kinetoscope.studio import characters

        return characters.generate(svc, row, engine, progress)
    recipe = json.loads(row.request)
    req = request_of(recipe)
    if row.task in ("t2v", "image", "remix") and not row.input_key:
        return engine.generate(req, progress=progress)
    if row.task in ("i2v", "remix") and row.input_key:
        image = read_image(svc.storage.path(row.input_key))
        kw = {k: getattr(req, k) for k in REQUEST_FIELDS if k not in ("prompt", "seconds")}
        if getattr(engine, "pipeline", None) is not None:  # the built-in model: the image dissolves into the motion
            return tasks.i2v(engine.pipeline, image, req.prompt, progress=progress, **kw)
        return engine.generate(tasks.i2v_request(engine, image, req.prompt, **kw), progress=progress)
    pipe = getattr(engine, "pipeline", None)  # the built-in model: the tasks below run on its Pipeline
    if pipe is None:
        raise RequestError(f"model {row.model!r} cannot do task {row.task!r}")
    if row.task == "loop":
        kw = {k: getattr(req, k) for k in REQUEST_FIELDS if k != "prompt"}
        return tasks.loop(pipe, req.prompt, progress=progress, **kw)
    if row.task == "storyboard":
        kw = {k: getattr(req, k) for k in STORYBOARD_SETTINGS}
        return tasks.storyboard(pipe, recipe["shots"], seconds=recipe["storyboard_seconds"],
                                transition=recipe["transition"], progress=progress, **kw)
    if row.task in ("extend", "edit"):
        source = source_frames(svc, row)
        kw = {k: getattr(req, k) for k in ("negative_prompt", "steps", "guidance", "seed", "sampler")}
        if row.task == "edit":
            return tasks.edit(pipe, source, req.prompt, strength=recipe["strength"], progress=progress, **kw)
        return tasks.extend(pipe, source, req.prompt, recipe["extend_seconds"], fps=req.fps,
                            direction=recipe.get("direction", "forward"), progress=progress, **kw)
    raise RequestError(f"task {row.task!r} is not supported: use one of {', '.join(TASKS)}")


def source_frames(svc, row):
    """The input video of an extend or edit: a completed video of the studio, or an upload."""
    from kinetoscope.media import read_video
    from kinetoscope.studio.worker import frames_of

    if row.source_video_id:
        return frames_of(svc, row.source_video_id)
    frames, _ = read_video(svc.storage.path(row.input_key))
    return frames

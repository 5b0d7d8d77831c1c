"""The tasks, their inputs and options, and the storyboard transitions: the one list that the
command line (choices and --help), the API (the `task` field, what POST /v1/videos makes), the
web page (the create form) and the engines read. Plain data beside limits.py: reading it loads
neither torch nor numpy, so the command line can build its --help and checks from it.

    TASKS["i2v"].inputs   ->  ("image",)
    studio_tasks()        ->  the tasks POST /v1/videos creates, in order
    TRANSITIONS           ->  {"dissolve": "...", "continue": "...", "cut": "..."}

`tasks.run` (tasks/recipe.py) runs every task named here, on any engine that lists it.
"""

from __future__ import annotations

from dataclasses import dataclass

from kinetoscope import limits


@dataclass(frozen=True)
class Task:
    name: str
    summary: str  # one line: what it makes (the generate command's --help, the API's description)
    label: str  # the create page's name for it
    inputs: tuple[str, ...] = ()  # frames it is given; "video" is a clip, any other name an image
    options: tuple[str, ...] = ()  # its own settings besides the request's (prompt, size, seconds, seed, ...)
    endpoint: str = "/v1/videos"  # where the API makes it ("" : the command line only)
    request_only: bool = False  # one GenerationRequest: any engine whose model lists the task can run it


TASKS: dict[str, Task] = {t.name: t for t in (
    Task("t2v", "text -> video", "Text → video", request_only=True),
    Task("i2v", "an image becomes the first frame; the prompt drives the motion", "Image → video",
         inputs=("image",), request_only=True),
    Task("image", "text -> one frame", "Still image (one frame)", request_only=True),
    Task("interpolate", "two images become the first and the last frames", "Interpolate two images",
         inputs=("first", "last"), endpoint="", request_only=True),
    Task("extend", "continue a video forwards or backwards by some seconds", "Extend a video",
         inputs=("video",), options=("direction",), endpoint="/v1/videos/extensions"),
    Task("loop", "a seamless loop (of a video, or of a new clip)", "Seamless loop", inputs=("video",)),
    Task("edit", "redraw a video under the prompt", "Edit a video", inputs=("video",), options=("strength",),
         endpoint="/v1/videos/edits"),
    Task("recut", "keep part of a video, regenerate the rest around it", "Recut a video", inputs=("video",),
         options=("keep",), endpoint=""),
    Task("storyboard", "a timeline of prompts, one continuous video", "Storyboard (one shot per line)",
         options=("shots", "transition")),
)}
# loop's video is optional (without one it loops a new clip); every other input is required
OPTIONAL_INPUTS = {"loop": ("video",)}
VIDEO_INPUTS = ("video",)  # every other input is an image

# how a storyboard reaches each shot from the one before; the first is the default
TRANSITIONS = {
    "dissolve": "each shot drawn as if alone, the two continued across the cut and dissolved over 1 s",
    "continue": "each shot goes on from the last (one scene)",
    "cut": "none",
}
assert tuple(TRANSITIONS) == limits.TRANSITIONS
DIRECTIONS = ("forward", "backward")  # extend: after the last frame, or before the first

# what every output can be made again as: its recipe again, with any setting changed (remix),
# or exactly (rerender); not tasks of their own, they keep the recipe's task
REMIX = "remix"


def names() -> tuple[str, ...]:
    return tuple(TASKS)


def studio_tasks() -> tuple[str, ...]:
    """The tasks POST /v1/videos creates (the others have their own routes or none)."""
    return tuple(t.name for t in TASKS.values() if t.endpoint == "/v1/videos")


def transitions_help() -> str:
    first = next(iter(TRANSITIONS))
    return "; ".join(f"{n}{' (default)' if n == first else ''}: {h}" for n, h in TRANSITIONS.items())


def check(task: str) -> Task:
    """The task named, or a RequestError (a ValueError) listing them."""
    if task not in TASKS:
        from kinetoscope.request import RequestError

        raise RequestError(f"task {task!r} is not known: use one of {', '.join(TASKS)}")
    return TASKS[task]

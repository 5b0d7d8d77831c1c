"""Tasks as given frames + a mask: every task is the same model, told which frames are fixed.

    image        text -> one frame
    i2v          an image becomes the first frame, dissolving into the generated ones; the prompt drives the motion
    interpolate  two images become the first and the last frames, dissolving into the generated ones
    extend       a clip continues forwards or backwards by sliding windows that overlap it
    loop         a clip plus a bridge that leads from its end back into its start
    edit         video -> video under a new prompt (SDEdit: partial noise, then denoise)
    storyboard   a timeline of prompts (and keyframe images), one continuous video
    recut        keep a part of a video, regenerate the rest around it
    remix        a previous video's recipe again, with changes

Each is a plain function of a Pipeline and numpy frames that returns a GenerationRequest or a
Video; `run(engine, task, inputs, **params)` runs any of them on any engine and stores its recipe
(the one dispatcher: the command line, the studio's worker and the engines call it). The list of
tasks is kinetoscope/catalog.py.
"""

from kinetoscope.tasks.edit import DEFAULT_STRENGTH, edit
from kinetoscope.tasks.given import RESIZE_POLICY, fit, i2v_request, image_request, interpolate_request, t2v_request
from kinetoscope.tasks.loop import loop
from kinetoscope.tasks.recipe import TASKS, frames_sha256, pipeline_of, recipe_of, remix, rerender, run
from kinetoscope.tasks.recut import recut
from kinetoscope.tasks.stills import i2v, interpolate
from kinetoscope.tasks.storyboard import Shot, parse_time, parse_timeline, storyboard
from kinetoscope.tasks.windows import DIRECTIONS, extend, grow

__all__ = [
    "DEFAULT_STRENGTH", "DIRECTIONS", "RESIZE_POLICY", "TASKS", "Shot", "edit", "extend", "fit", "frames_sha256",
    "grow", "i2v", "i2v_request", "image_request", "interpolate", "interpolate_request", "loop", "parse_time", "parse_timeline",
    "pipeline_of", "recipe_of", "recut", "remix", "rerender", "run", "storyboard", "t2v_request",
]

"""`kinetoscope generate`: every task, on every engine, through the one dispatcher (`tasks.run`),
so every output keeps its recipe (remix / rerender). The tasks come from kinetoscope/catalog.py:

    (no task)                             text -> video (one frame with --frames 1)
    --task i2v --image A                  image -> video
    --task interpolate --image A --last-image B
    --task extend --video FILE [--backward]
    --task loop [--video FILE]            a looping video (of FILE, or of a new clip)
    --task edit --video FILE --strength S redraw FILE under the prompt, S in 0..1
    --task recut --video FILE --keep A:B  keep A..B seconds, regenerate the rest around it
    --task storyboard --at 0s "..." --at 2s "..."   or   --storyboard FILE.yaml|json
    --task remix --video FILE             FILE's recipe again (its task), with any option changed

The built-in engine runs every task; an open-weight engine the ones its model lists. The flag-only
forms (`--image A` alone, `--extend FILE`, `--keep` without `--task`, ...) are deprecated aliases:
they run the same task and print one note naming the `--task` form (`legacy_form`, DEPRECATED).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from kinetoscope import catalog
from kinetoscope.commands.common import (UserError, check_policy, engine_spec, model_folder, save_output,
                                         warn_unknown_words)

# a task's own options, and the flag that names them in messages
OWN_OPTIONS = {"storyboard": "--at/--storyboard", "recut": "--keep", "edit": "--strength"}
# the flags that give each task's inputs and options (catalog.TASKS names them), for --help
INPUT_FLAGS = {"image": "--image FILE", "first": "--image FILE", "last": "--last-image FILE", "video": "--video FILE"}
OPTION_FLAGS = {"direction": "[--backward]", "strength": "[--strength S]", "keep": "--keep A:B",
                "shots": "--at TIME PROMPT ... | --storyboard FILE", "transition": "[--transition T]"}
# the deprecated aliases, kept for one release: (old form, the --task form it stands for)
DEPRECATED = (
    ("--image FILE without --task", "--task i2v --image FILE"),
    ("--image A --last-image B without --task", "--task interpolate --image A --last-image B"),
    ("--extend FILE [--backward]", "--task extend --video FILE [--backward]"),
    ("--at/--storyboard without --task", "--task storyboard --at ... | --storyboard FILE"),
    ("--keep A:B without --task", "--task recut --video FILE --keep A:B"),
    ("--strength S without --task", "--task edit --video FILE --strength S"),
    ("--backward without --task", "--task extend --video FILE --backward"),
)
REMOVAL = "deprecated and will be removed in the next release"


def tasks_help() -> str:
    """The generate command's --help epilog: one `--task` line per task (from catalog.TASKS), then the
    deprecated aliases and what each stands for."""
    rows = []
    for t in catalog.TASKS.values():
        optional = catalog.OPTIONAL_INPUTS.get(t.name, ())
        flags = [f"[{INPUT_FLAGS[i]}]" if i in optional else INPUT_FLAGS[i] for i in t.inputs]
        rows.append((" ".join(["--task", t.name, *flags, *(OPTION_FLAGS[o] for o in t.options)]), t.summary))
    rows.append((f"--task {catalog.REMIX} --video FILE", "FILE's recipe again (its task), with any option changed"))
    lines = ["tasks (without --task: t2v):", *(f"  {a}\n        {b}" for a, b in rows), "",
             "deprecated aliases (they still work, print a note, and will be removed in the next release):"]
    width = max(len(a) for a, _ in DEPRECATED)
    return "\n".join([*lines, *(f"  {a.ljust(width)}  use {b}" for a, b in DEPRECATED)]) + "\n"


def _implied(args) -> str | None:
    """The task that the flag-only (deprecated) forms name without --task."""
    return ("storyboard" if args.storyboard or args.at else "recut" if args.keep else
            "edit" if args.strength is not None else "extend" if args.backward or args.extend else
            "interpolate" if args.last_image else "i2v" if args.image else None)


def legacy_form(args) -> tuple[str, str] | None:
    """(the deprecated form the command line used, the --task form that replaces it), or None when
    it used the --task form. Call after `pick_task` accepted the options."""
    q = shlex.quote
    backward = " --backward" if args.backward else ""
    if args.extend:
        return f"--extend {q(args.extend)}", f"--task extend --video {q(args.extend)}{backward}"
    implied = None if args.task else _implied(args)
    video = f"--video {q(args.video)}" if args.video else "--video FILE"
    if implied == "interpolate":
        images = f"--image {q(args.image)} --last-image {q(args.last_image)}"
        return f"{images} without --task", f"--task interpolate {images}"
    if implied == "i2v":
        return f"--image {q(args.image)} without --task", f"--task i2v --image {q(args.image)}"
    if implied == "storyboard":
        if args.storyboard:
            return (f"--storyboard {q(args.storyboard)} without --task",
                    f"--task storyboard --storyboard {q(args.storyboard)}")
        return "--at without --task", "--task storyboard --at TIME PROMPT ..."
    if implied == "recut":
        return f"--keep {q(args.keep)} without --task", f"--task recut {video} --keep {q(args.keep)}"
    if implied == "edit":
        return f"--strength {args.strength:g} without --task", f"--task edit {video} --strength {args.strength:g}"
    if implied == "extend":
        return "--backward without --task", f"--task extend {video} --backward"
    return None


def note_legacy_form(args) -> None:
    """One line on stderr when the command line used a deprecated alias, naming the --task form."""
    form = legacy_form(args)
    if form is not None:
        print(f"note: {form[0]} is {REMOVAL}; use {form[1]}", file=sys.stderr, flush=True)


def pick_task(args, error=UserError) -> str:
    if args.last_image and not args.image:
        raise error("--last-image needs --image (the first frame) too")
    if args.image and args.extend:
        raise error("--image and --extend do not combine: pick one task")
    implied = _implied(args)
    task = args.task or implied
    if task is None:
        if args.video:
            raise error("--video needs --task: one of " + ", ".join(t for t, s in catalog.TASKS.items()
                                                                 if "video" in s.inputs) + ", " + catalog.REMIX)
        return "t2v"
    if implied and task != implied and implied in OWN_OPTIONS:
        raise error(f"{OWN_OPTIONS[implied]} belongs to {implied}, not --task {task}")
    if task in ("i2v", "interpolate") and implied not in (task, None) and not (task == "interpolate" and implied == "i2v"):
        raise error(f"--task {task} does not combine with {implied}'s options")
    if (args.image or args.last_image) and task not in ("i2v", "interpolate"):
        raise error(f"--image does not combine with --task {task}: pick one task")
    if task == "i2v" and not args.image:
        raise error("--task i2v needs --image FILE")
    if task == "interpolate" and not (args.image and args.last_image):
        raise error("--task interpolate needs --image FILE (the first frame) and --last-image FILE")
    if task == "i2v" and args.last_image:
        raise error("--last-image belongs to interpolate, not --task i2v")
    if args.extend and args.video:
        raise error("give the video to extend once: --extend FILE or --video FILE")
    if task == "extend" and not (args.extend or args.video):
        raise error("--backward needs --task extend --video FILE" if args.backward else "--task extend needs --video FILE")
    if task != "extend" and args.extend:
        raise error(f"--extend does not combine with --task {task}: pick one task")
    if task in ("edit", "recut", catalog.REMIX) and not args.video:
        raise error(f"--task {task} needs --video FILE")
    if task in ("t2v", "image", "storyboard") and args.video:
        raise error(f"--task {task} takes no --video" + (": give --at TIME PROMPT or --storyboard FILE"
                                                         if task == "storyboard" else ""))
    if args.transition and task not in ("storyboard", catalog.REMIX):
        raise error(f"--transition belongs to storyboard, not {'--task ' + task if args.task else task}")
    if task == "storyboard" and not (args.at or args.storyboard):
        raise error('--task storyboard needs --at TIME "PROMPT" (repeated) or --storyboard FILE')
    if args.at and args.storyboard:
        raise error("give either --at or --storyboard, not both")
    return task


def _flag(task: str, args) -> str:
    """How the command line asked for `task`, for messages."""
    if args.task:
        return f"--task {task}"
    return {"extend": "--extend", "i2v": "--image", "interpolate": "--image"}.get(task, task)


def _timeline(args, error):
    from kinetoscope import tasks
    from kinetoscope.media import read_image

    if args.at:
        return [{"at": tasks.parse_time(t), "prompt": p, "image": None} for t, p in args.at], None, {}, {}
    path = Path(args.storyboard)
    try:
        text = path.read_text()
    except OSError as e:
        raise error(f"--storyboard {path}: {e.strerror or e}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except (ValueError, Exception) as e:  # json.JSONDecodeError, yaml.YAMLError
        raise error(f"--storyboard {path} is not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: "
                    f"{str(e).splitlines()[0]}") from None
    shots, seconds = tasks.parse_timeline(data)
    inputs, files = {}, {}
    for i, s in enumerate(shots):
        if s["image"]:
            file = (path.parent / s["image"]).resolve()
            inputs[f"shot{i + 1}"], files[f"shot{i + 1}"] = read_image(file), file
            s["image"] = f"shot{i + 1}"
    return shots, seconds, inputs, files


def _keep(text: str, error):
    from kinetoscope import tasks

    parts = str(text).split(":")
    if len(parts) != 2:
        raise error(f"--keep {text!r} is not START:END in seconds, e.g. 1:3 or 0.5s:2s")
    return [tasks.parse_time(parts[0]), tasks.parse_time(parts[1])]


def note_beyond_training(engine, task: str, req, args, error=UserError) -> None:
    """One line on stderr when the asked size or length is beyond what the model was trained for
    (engines.base.beyond_trained); the video is still made, unless the engine refuses such requests.
    Judged where the command line sets them: the size of a new clip, the length of one clip."""
    from kinetoscope.engines.base import beyond_trained

    if task not in ("t2v", "image", "i2v", "interpolate", "loop", "storyboard"):  # the input video or recipe sets them
        return
    caps = engine.capabilities
    seconds = None
    if task not in ("storyboard", "image") and args.frames != 1:
        fps = args.fps or caps.fps
        seconds = ((args.frames - 1) / fps if args.frames is not None
                   else args.seconds if args.seconds is not None else caps.seconds)
    notes = beyond_trained(caps, req.width or caps.width, req.height or caps.height, seconds)
    if notes and caps.beyond == "refuse":
        raise error(f"{next(iter(notes.values()))}: {engine.name} makes only what it was trained for")
    if notes:
        print(f"note: {'; '.join(notes.values())}", file=sys.stderr, flush=True)


def run_task_command(args, req, out: Path, error=UserError) -> int:
    """Validate the options (a deprecated alias gets its note), run the task on the engine, write `out`
    with its recipe."""
    from kinetoscope import tasks
    from kinetoscope.engines import load_engine
    from kinetoscope.media import MediaError, read_image, read_metadata, read_video
    from kinetoscope.pipeline import RequestError
    from kinetoscope.progress import Progress

    task = pick_task(args, error)
    note_legacy_form(args)
    size = {"width": req.width, "height": req.height} if req.width else {}
    given = {k: v for k, v in (("negative_prompt", args.negative), ("fps", args.fps), ("steps", args.steps),
                               ("guidance", args.guidance), ("seed", args.seed), ("sampler", args.sampler),
                               ("step_cache", args.step_cache), ("guidance_floor", args.guidance_floor)) if v is not None}
    progress = None
    try:
        engine = load_engine(engine_spec(args))  # --weights / --engine builtin:DIR / --fast
        pipe = tasks.pipeline_of(engine)
        if pipe is None and task not in (catalog.REMIX, "t2v") and task not in engine.capabilities.tasks:
            raise error(f"{engine.name} cannot do {task} ({_flag(task, args)}): it supports "
                        f"{', '.join(engine.capabilities.tasks)}")
        note_beyond_training(engine, task, req, args, error)
        progress = Progress(quiet=args.quiet)
        video_in = args.extend or args.video
        if task == catalog.REMIX:
            meta = read_metadata(args.video)
            if not meta:
                raise error(f"--video {args.video} holds no kinetoscope recipe: only videos made by kinetoscope can be remixed")
            changes = {**given, **size, "prompt": args.prompt or None, "strength": args.strength,
                       "frames": args.frames, "seconds": args.seconds, "transition": args.transition}
            video = tasks.remix(engine, meta, progress=progress, **changes)
        else:
            params = {**given, **size, "seed": req.seed}  # --seed, or the one the command line picked
            if args.frames is not None:
                params["frames"] = args.frames
            inputs, files = {}, {}
            if task == "storyboard":
                params["shots"], seconds, inputs, files = _timeline(args, error)
                check_policy(args, *(("storyboard", shot["prompt"]) for shot in params["shots"]))
                if args.storyboard:  # --at's prompts were warned of before the model loaded
                    warn_unknown_words(pipe.config, model_folder(args),
                                       *(shot["prompt"] for shot in params["shots"]), args.negative)
                seconds = args.seconds if args.seconds is not None else seconds
                if seconds is not None:
                    params["seconds"] = seconds
                if args.transition:
                    params["transition"] = args.transition
            else:
                params["prompt"] = args.prompt
                if video_in:
                    inputs["video"], files["video"] = read_video(video_in)[0], video_in
                for name, path in (("image", args.image if task == "i2v" else None),
                                   ("first", args.image if task == "interpolate" else None), ("last", args.last_image)):
                    if path:
                        inputs[name], files[name] = read_image(path), path
                if args.seconds is not None and task != "edit":
                    params["seconds"] = args.seconds
                if task == "extend":
                    params.setdefault("seconds", pipe.config.seconds)
                    params["direction"] = "backward" if args.backward else "forward"
                if task == "edit" and args.strength is not None:
                    params["strength"] = args.strength
                if task == "recut":
                    params["keep"] = _keep(args.keep, error)
            video = tasks.run(engine, task, inputs, progress=progress, files=files, **params)
        save_output(args, video, out, parent=None if task == catalog.REMIX else video_in,  # watermark + signed C2PA manifest
                    inputs=[f for f in (args.image, args.last_image) if f])
    except (FileNotFoundError, ImportError, ValueError, RequestError, MediaError) as e:
        raise error(str(e)) from None
    finally:
        if progress is not None:
            progress.close()
    t, h, w, _ = video.frames.shape
    seed = video.metadata["recipe"]["params"].get("seed")  # a remix keeps its recipe's unless --seed is given
    label, seconds = ("", video.seconds) if task == "t2v" else (f"{video.metadata['recipe']['task']}: ", t / video.fps)
    print(f"wrote {out} ({label}{t} frames, {w}x{h}, {video.fps} fps, {seconds:.2f} s, seed {seed}) in "
          f"{video.metadata['seconds_to_generate']:.1f} s")
    return 0

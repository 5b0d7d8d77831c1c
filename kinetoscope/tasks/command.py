"""`kinetoscope generate` for the tasks that take a video or a timeline:

    --task loop [--video FILE]            a looping video (of FILE, or of a new clip)
    --task edit --video FILE --strength S redraw FILE under the prompt, S in 0..1
    --task recut --video FILE --keep A:B  keep A..B seconds, regenerate the rest around it
    --task remix --video FILE             FILE's recipe again, with any option changed
    --task storyboard --at 0s "..." --at 2s "..."   or   --storyboard FILE.yaml|json
    --extend FILE [--backward]            extend after the last frame (or before the first)
    --image A [--last-image B]            image->video, or interpolate from A to B

On the built-in model every one of them runs through `tasks.run`, so the output keeps its recipe
(remix / rerender); open-weight engines run i2v, interpolate and extend in kinetoscope/cli.py.
"""

from __future__ import annotations

import json
from pathlib import Path

NEW_TASKS = ("loop", "edit", "storyboard", "recut", "remix")


def builtin_engine(args) -> bool:
    return not getattr(args, "engine", None) or str(args.engine).startswith("builtin")


def wants_task(args) -> bool:
    return bool(args.task or args.video or args.storyboard or args.at or args.keep or args.backward
                or args.strength is not None or (builtin_engine(args) and (args.image or args.last_image or args.extend)))


def pick_task(args, error) -> str:
    if args.last_image and not args.image:
        raise error("--last-image needs --image (the first frame) too")
    if args.image and args.extend:
        raise error("--image and --extend do not combine: pick one task")
    implied = ("storyboard" if args.storyboard or args.at else "recut" if args.keep else
               "edit" if args.strength is not None else "extend" if args.backward or args.extend else
               "interpolate" if args.last_image else "i2v" if args.image else None)
    task = args.task or implied
    if task is None:
        raise error("--video needs --task: one of " + ", ".join(NEW_TASKS))
    if implied and task != implied and implied not in ("extend", "i2v", "interpolate"):
        option = {"storyboard": "--at/--storyboard", "recut": "--keep", "edit": "--strength"}[implied]
        raise error(f"{option} belongs to {implied}, not --task {task}")
    if (args.image or args.last_image) and task not in ("i2v", "interpolate"):
        raise error(f"--image does not combine with --task {task}: pick one task")
    if task == "extend" and not args.extend:
        raise error("--backward needs --extend VIDEO (the video to extend)")
    if task != "extend" and args.extend:
        raise error(f"--extend does not combine with --task {task}: pick one task")
    if task in ("edit", "recut", "remix") and not args.video:
        raise error(f"--task {task} needs --video FILE")
    if task == "storyboard" and args.video:
        raise error("--task storyboard takes no --video: give --at TIME PROMPT or --storyboard FILE")
    if args.transition and task not in ("storyboard", "remix"):
        raise error(f"--transition belongs to storyboard, not {'--task ' + task if args.task else task}")
    if task == "storyboard" and not (args.at or args.storyboard):
        raise error('--task storyboard needs --at TIME "PROMPT" (repeated) or --storyboard FILE')
    if args.at and args.storyboard:
        raise error("give either --at or --storyboard, not both")
    return task


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


def run_task_command(args, req, out: Path, error) -> int:
    """Validate the options, run the task, write `out` with its recipe. `error` is the CLI's UserError."""
    from kinetoscope import tasks
    from kinetoscope.cli import check_policy, engine_spec, model_folder, warn_unknown_words
    from kinetoscope.engines import load_engine
    from kinetoscope.media import MediaError, read_image, read_metadata, read_video
    from kinetoscope.pipeline import RequestError
    from kinetoscope.progress import Progress

    task = pick_task(args, error)
    if not builtin_engine(args):
        raise error(f"--task {task} runs on the built-in engine only")
    progress = Progress(quiet=args.quiet)
    size = {"width": req.width, "height": req.height} if req.width else {}
    given = {k: v for k, v in (("negative_prompt", args.negative), ("fps", args.fps), ("steps", args.steps),
                               ("guidance", args.guidance), ("seed", args.seed), ("sampler", args.sampler)) if v is not None}
    try:
        pipe = load_engine(engine_spec(args)).pipeline  # --weights / --engine builtin:DIR / --fast
        if task == "remix":
            meta = read_metadata(args.video)
            if not meta:
                raise error(f"--video {args.video} holds no kinetoscope recipe: only videos made by kinetoscope can be remixed")
            changes = {**given, **size, "prompt": args.prompt or None, "strength": args.strength,
                       "frames": args.frames, "seconds": args.seconds, "transition": args.transition}
            video = tasks.remix(pipe, meta, progress=progress, **changes)
        else:
            params = {**given, **size, "seed": req.seed}  # --seed, or the one the command line picked
            if args.frames is not None:
                params["frames"] = args.frames
            inputs, files = {}, {}
            if task == "storyboard":
                params["shots"], seconds, inputs, files = _timeline(args, error)
                check_policy(args, *(("storyboard", shot["prompt"]) for shot in params["shots"]))
                if args.storyboard:  # --at's prompts were warned of before the model loaded
                    warn_unknown_words(pipe.config.vocabulary, model_folder(args),
                                       *(shot["prompt"] for shot in params["shots"]), args.negative)
                seconds = args.seconds if args.seconds is not None else seconds
                if seconds is not None:
                    params["seconds"] = seconds
                if args.transition:
                    params["transition"] = args.transition
            else:
                params["prompt"] = args.prompt
                src = args.extend or args.video
                if src:
                    inputs["video"], files["video"] = read_video(src)[0], src
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
            video = tasks.run(pipe, task, inputs, progress=progress, files=files, **params)
        from kinetoscope.cli import save_output  # watermark + signed C2PA manifest

        save_output(args, video, out, parent=None if task == "remix" else (args.extend or args.video),
                    inputs=[f for f in (args.image, args.last_image) if f])
    except (FileNotFoundError, ImportError, ValueError, RequestError, MediaError) as e:
        raise error(str(e)) from None
    finally:
        progress.close()
    t, h, w, _ = video.frames.shape
    seed = video.metadata["recipe"]["params"].get("seed")  # a remix keeps its recipe's unless --seed is given
    print(f"wrote {out} ({task}: {t} frames, {w}x{h}, {video.fps} fps, {t / video.fps:.2f} s, seed {seed}) in "
          f"{video.metadata['seconds_to_generate']:.1f} s")
    return 0

"""kinetoscope command line: generate | train | eval | serve | worker | verify | bench."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kinetoscope import catalog, limits
from kinetoscope.commands.common import (UserError, check_policy, engine_spec, model_folder, parse_size,  # noqa: F401
                                         save_output, warn_unknown_words)

EXAMPLES = """examples:
  kinetoscope generate "a red circle bouncing on a black background"
  kinetoscope generate "two green squares moving left" --seconds 3 --size 96x64 --seed 7 --out squares.mp4
  kinetoscope train --stage vae run_dir=runs/vae steps=2000
  kinetoscope train export runs/dit --out my-model && kinetoscope generate "a star" --weights my-model
  kinetoscope serve                     # the studio on http://127.0.0.1:8000 (web page + OpenAI-compatible API)
  kinetoscope verify video.mp4          # its signed C2PA manifest and invisible watermark
"""


def cmd_generate(args) -> int:
    from kinetoscope.request import GenerationRequest, new_seed

    width, height = parse_size(args.size) if args.size else (None, None)
    req = GenerationRequest(prompt=args.prompt, negative_prompt=args.negative or "", width=width, height=height,
                            seconds=args.seconds, frames=args.frames, fps=args.fps, steps=args.steps, guidance=args.guidance,
                            seed=new_seed() if args.seed is None else args.seed, sampler=args.sampler, step_cache=args.step_cache,
                            guidance_floor=args.guidance_floor)
    out = Path(args.out)
    if out.suffix.lower() not in (".mp4", ".webm", ".gif", ".png"):
        raise UserError(f"--out {out}: the extension must be one of .mp4 .webm .gif .png")
    config = precheck(args, req)
    check_policy(args, ("prompt", args.prompt), ("negative_prompt", args.negative))
    if config is not None and not args.storyboard:  # a storyboard file's shots are read (and warned of) with the task
        prompts = [p for _, p in args.at] if args.at else [args.prompt]
        warn_unknown_words(config, model_folder(args), *prompts, args.negative)
    # torch and the model only now, after every check that needs neither
    from kinetoscope.commands.generate import run_task_command

    return run_task_command(args, req, out)  # every task, on every engine, through tasks.run



def precheck(args, req):
    """Refuse a bad value in a fraction of a second, before torch and the model load: the built-in
    engine's request checked against the limits and the model folder's pipeline.json. The full check
    (with the model's size multiple and frame rule) runs again once it is loaded. Returns that
    pipeline.json (None for an open-weight engine, or a folder without one)."""
    import dataclasses

    from kinetoscope.request import RequestError, check_request, read_config

    folder = model_folder(args)
    config = read_config(folder) if folder != "" else None
    if config is None:  # an open-weight engine checks against its own model; a missing folder is said on loading
        return None
    if args.task or args.extend or args.video or args.storyboard or args.at or args.keep:
        # the tasks' own lengths (an extension, a storyboard, a kept part) and prompts are theirs to check
        req = dataclasses.replace(req, prompt=req.prompt or "-", seconds=None, frames=None)
    try:
        check_request(req, config)
    except RequestError as e:
        raise UserError(str(e)) from None
    return config







def cmd_verify(args) -> int:
    import json

    from kinetoscope.media.errors import MediaError
    from kinetoscope.media.provenance import EXIT_CODES, describe, verify_file

    try:
        report = verify_file(args.file, data_dir=args.data_dir)
    except MediaError as e:
        raise UserError(str(e)) from None
    print(json.dumps(report, indent=2) if args.json else describe(report))
    return EXIT_CODES[report["c2pa"]["state"]]


def cmd_train(args) -> int:
    from kinetoscope.train.config import load_config
    from kinetoscope.train.loop import Trainer

    base = {"stage": args.stage} if args.stage else None
    try:
        cfg = load_config(args.config, args.overrides, base=base)
    except (ValueError, OSError) as e:
        raise UserError(str(e)) from None
    try:
        metrics = Trainer(cfg).train(resume=args.resume)
    except FloatingPointError as e:  # a non-finite loss, gradient or weights: the message names the step
        raise UserError(str(e)) from None
    print(f"run {cfg.run_dir}: step {metrics.get('step', '?')}, loss {metrics.get('loss', float('nan')):.4f}")
    return 0


def cmd_export(args) -> int:
    from kinetoscope.train.export import export

    try:
        if sum(bool(a) for a in (args.fast_into, args.expert_into, args.main_into, args.out)) > 1:
            raise UserError("give one of --out, --fast-into, --expert-into and --main-into")
        if args.main_into:
            from kinetoscope.train.export import replace_main

            out = replace_main(args.run, args.main_into)
        elif args.fast_into:
            from kinetoscope.train.export import attach_fast

            out = attach_fast(args.run, args.fast_into)
        elif args.expert_into:
            from kinetoscope.train.export import attach_expert

            out = attach_expert(args.run, args.expert_into)
        elif not args.out:
            raise UserError("give --out DIR (a new model folder), --fast-into MODEL (a distill run's student), "
                            "--expert-into MODEL (a run trained with t_range, not [0, 1]) "
                            "or --main-into MODEL (a denoiser run as the model's main denoiser)")
        else:
            out = export(args.run, args.out, vae=args.vae)
    except (FileNotFoundError, ValueError) as e:
        raise UserError(str(e)) from None
    print(f"exported {args.run} -> {out}")
    return 0


def cmd_eval(args) -> int:
    from kinetoscope.eval.report import markdown_table, write_report
    from kinetoscope.eval.suite import FULL, QUICK, limit_suite, run_suite
    from kinetoscope.pipeline import GenerationRequest, Pipeline, RequestError

    if args.tasks:  # image->video, extend, interpolate, loop, storyboard and drift figures
        from kinetoscope.eval.tasks import cmd_eval_tasks

        return cmd_eval_tasks(args, UserError)
    seeds = args.seeds if args.seeds is not None else (QUICK if args.quick else FULL)["seeds"]
    if seeds < 1:
        raise UserError(f"--seeds {seeds} is out of range: allowed 1 or more")
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit {args.limit} is out of range: allowed 1 or more")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file: give a folder for the report")
    try:
        pipe = Pipeline.from_pretrained(args.weights, fast=args.fast)
        req = pipe.resolve(GenerationRequest(prompt="x", steps=args.steps, guidance=args.guidance, step_cache=args.step_cache,
                                             guidance_floor=args.guidance_floor))
    except (FileNotFoundError, RequestError, ValueError) as e:
        raise UserError(str(e)) from None
    from kinetoscope.eval.vocab import model_suite

    prompts = limit_suite(model_suite(pipe.config.world, args.quick), args.limit)
    from kinetoscope.progress import Progress

    bar, done = Progress(quiet=args.quiet), [0]

    def progress(i: int, n: int, rec: dict) -> None:
        done[0] += 1
        bar("eval", done[0], len(prompts) * seeds)

    try:
        report = run_suite(pipe, prompts, seeds=range(seeds), frames=req.frames, width=req.width,
                           height=req.height, steps=req.steps, guidance=req.guidance, out_dir=out,
                           weights=str(pipe.folder), quick=args.quick, progress=progress, step_cache=req.step_cache,
                           guidance_floor=req.guidance_floor)
    except (ValueError, OSError) as e:  # RequestError is a ValueError
        raise UserError(str(e)) from None
    finally:
        bar.close()
    paths = write_report(report, out)
    print(markdown_table(report))
    print(f"wrote {paths['json']}, {paths['md']}, {paths['html']}")
    return 0


def cmd_bench(args) -> int:
    import runpy

    root = Path.cwd()
    if not (root / "benchmarks" / "__main__.py").is_file():
        raise UserError(f"no benchmarks/ folder in {root}: run `kinetoscope bench` from a source checkout")
    sys.path.insert(0, str(root))
    sys.argv = ["benchmarks", *args.rest]
    runpy.run_module("benchmarks", run_name="__main__")
    return 0


def studio_settings(args, **kw):
    from kinetoscope.studio.settings import from_env

    try:
        return from_env(data_dir=Path(args.data_dir) if args.data_dir else None,
                        worker_threads=getattr(args, "threads", None), **kw)
    except ValueError as e:
        raise UserError(str(e)) from None


def cmd_serve(args) -> int:
    from kinetoscope.studio.serve import is_loopback, serve

    if not (1 <= args.port <= 65535):
        raise UserError(f"--port {args.port} is out of range: allowed 1 to 65535")
    loopback = is_loopback(args.host)
    settings = studio_settings(args, embedded_worker=not args.no_worker, open_mode=loopback)
    if not loopback:
        from kinetoscope.studio import accounts
        from kinetoscope.studio.services import Services

        svc = Services.start(settings)
        try:
            users = accounts.count_users(svc.sessions)
        finally:
            svc.close()
        if users == 0:
            raise UserError(f"--host {args.host} makes the studio reachable from other machines, which needs accounts: "
                            "create the first with `kinetoscope admin create-user NAME --admin` (or serve on 127.0.0.1)")
    serve(settings, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def cmd_worker(args) -> int:
    from kinetoscope.studio.serve import work

    work(studio_settings(args), log_level=args.log_level)
    return 0


def cmd_admin(args) -> int:
    from kinetoscope.studio.admin_cli import AdminError, run

    try:
        return run(args, studio_settings(args))
    except AdminError as e:
        raise UserError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kinetoscope", description="Open, self-hostable text-to-video: generate, train, evaluate, serve a studio, verify provenance, benchmark.",
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from kinetoscope.commands.generate import tasks_help
    from kinetoscope.request import PipelineConfig, read_config

    c = read_config() or PipelineConfig()  # the built-in model's defaults, as its pipeline.json states them
    g = sub.add_parser("generate", help="make a video from a text prompt",
                       description="Make a video from a text prompt, or run a task (--task) on images and videos.\n"
                                   "Defaults are the built-in model's; another model (--weights, --engine) brings its own.",
                       epilog=tasks_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("prompt", nargs="?", default="", help="what the video shows (1 to 1000 characters; optional for remix and storyboard)")
    g.add_argument("--seconds", type=float, default=None, help=f"length in seconds (default: {c.seconds:g})")
    g.add_argument("--frames", type=int, default=None, help="exact frame count 1+4k (overrides --seconds)")
    g.add_argument("--size", default=None, help=f"WIDTHxHEIGHT, multiples of {limits.SIZE_MULTIPLE} from {c.min_size} to {c.max_size} (default: {c.width}x{c.height})")
    g.add_argument("--fps", type=int, default=None, help=f"frames per second, {limits.FPS[0]} to {limits.FPS[1]} (default: {c.fps})")
    g.add_argument("--steps", type=int, default=None, help=f"denoising steps, {limits.STEPS[0]} to {limits.STEPS[1]} (default: {c.steps})")
    g.add_argument("--guidance", type=float, default=None, help=f"classifier-free guidance, {limits.GUIDANCE[0]:g} to {limits.GUIDANCE[1]:g} (default: {c.guidance:g})")
    g.add_argument("--guidance-floor", type=float, default=None, metavar="T",
                   help=f"no guidance below noise level T, {limits.GUIDANCE_FLOOR[0]:g} to {limits.GUIDANCE_FLOOR[1]:g}: "
                        f"it only adds texture there (default: {c.guidance_floor:g})")
    g.add_argument("--sampler", default=None, choices=["euler", "heun"], help=f"ODE sampler (default: {c.sampler})")
    g.add_argument("--seed", type=int, default=None, help="random seed: same seed, same video (default: a new one each run, printed with the result)")
    g.add_argument("--negative", default=None, help="negative prompt: what to steer away from")
    g.add_argument("--step-cache", type=float, default=None, metavar="T",
                   help=f"skip denoiser calls while the latents change less than T; 0.1-0.2 saves 30-60%% (default: {c.step_cache:g}, off)")
    g.add_argument("--out", default="video.mp4", help="output file: .mp4, .webm, .gif, or .png for a contact sheet of every frame (default: video.mp4)")
    g.add_argument("--weights", default=None, help="model folder (default: the built-in model)")
    g.add_argument("--fast", action="store_true", help="the model's fast setting (pipeline.json \"fast\"): a distilled few-step denoiser, or the full one at fewer steps")
    g.add_argument("--engine", default=None, metavar="SPEC",
                   help="builtin[:FOLDER] or diffusers:FOLDER[?dtype=bf16&offload=model&tiling=1] (Wan 2.x, "
                        "LTX-Video, CogVideoX, HunyuanVideo); the built-in model when not given")
    g.add_argument("--task", default=None, choices=[*catalog.TASKS, catalog.REMIX],
                   help="the task to run (default: t2v); each task's inputs and options are listed under 'tasks' below")
    g.add_argument("--image", default=None, metavar="FILE", help="--task i2v and interpolate: the first frame "
                   "(resized to cover, centre-cropped)")
    g.add_argument("--last-image", default=None, metavar="FILE", help="--task interpolate: held as the last frames")
    g.add_argument("--video", default=None, metavar="FILE", help="input video for --task extend, loop, edit, recut; "
                   "the earlier output for remix")
    g.add_argument("--backward", action="store_true", help="--task extend: add the new seconds before the first frame")
    g.add_argument_group("deprecated options").add_argument(
        "--extend", default=None, metavar="VIDEO", help="deprecated (removed in the next release): use --task extend --video VIDEO")
    g.add_argument("--strength", type=float, default=None, help="--task edit: how much to redraw, 0 (keep) to 1 (ignore the video); default 0.6")
    g.add_argument("--at", nargs=2, action="append", default=None, metavar=("TIME", "PROMPT"),
                   help='--task storyboard: a shot, repeatable: --at 0s "a red circle" --at 2s "it turns blue"')
    g.add_argument("--storyboard", default=None, metavar="FILE", help="storyboard timeline, YAML or JSON: "
                   "{seconds: 6, shots: [{at: 0s, prompt: ..., image: key.png, transition: cut}, ...]}")
    g.add_argument("--transition", default=None, choices=list(catalog.TRANSITIONS),
                   help=f"storyboard: how each shot is reached; {catalog.transitions_help()}. A shot in a "
                        "--storyboard file may set its own `transition`")
    g.add_argument("--keep", default=None, metavar="START:END", help="--task recut: seconds of --video to keep, e.g. 1:3")
    g.add_argument("--policy", default=None, metavar="FILE",
                   help="content policy for the prompts (default: KINETOSCOPE_POLICY or the shipped policy, as the studio)")
    g.add_argument("--no-policy", action="store_true", help="do not check the prompts against a content policy")
    g.add_argument("--no-watermark", action="store_true", help="do not embed the invisible watermark (the C2PA manifest is still signed)")
    g.add_argument("--sign-prompt", action="store_true", help="name the prompt in the signed C2PA manifest (default: only a keyed hash)")
    g.add_argument("--visible-mark", action="store_true", help="draw a small 'AI' mark in the bottom-right corner")
    g.add_argument("--data-dir", default=None, help="signing keys and installation id (default: KINETOSCOPE_DATA_DIR or ~/.local/share/kinetoscope)")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    g.set_defaults(func=cmd_generate)

    t = sub.add_parser("train", help="train the autoencoder or the denoiser (works under torchrun)",
                       description="Train. Options come from --config YAML and key=value overrides, e.g. "
                                   "`kinetoscope train --stage denoiser vae=weights/vae steps=3000 run_dir=runs/dit`; "
                                   "`--stage distill teacher=MODEL vae=MODEL/vae` teaches a copy of a denoiser to sample in half its steps. "
                                   "`kinetoscope train export RUN --out DIR` writes a model folder.")
    t.add_argument("--config", default=None, help="YAML file of TrainConfig fields")
    t.add_argument("--stage", choices=["vae", "denoiser", "distill"], default=None)
    t.add_argument("--resume", action="store_true", help="continue from run_dir/checkpoint.pt")
    t.add_argument("overrides", nargs="*", help="key=value TrainConfig overrides")
    t.set_defaults(func=cmd_train)

    v = sub.add_parser("eval", help="score a model on the fixed prompt suite (JSON + Markdown + HTML report)",
                       description="Generate the fixed world prompt suite (seen, held-out and paraphrased prompts) "
                                   "at fixed seeds, score colour/shape/motion/count/background with the analyzer, "
                                   "flicker, time per clip and autoencoder PSNR; write report.json/.md/.html.")
    v.add_argument("--weights", default=None, help="model folder (default: the built-in model)")
    v.add_argument("--quick", action="store_true", help="the quick suite: a prefix of each group, or every third composition of the model's own vocabulary (every motion kept in turn) where its pipeline.json names one (minutes on 2 cores)")
    v.add_argument("--fast", action="store_true", help="score the model's fast setting (distilled denoiser, or fewer steps)")
    v.add_argument("--out", default="eval-report", help="report folder (default: eval-report)")
    v.add_argument("--seeds", type=int, default=None, help="seeds per prompt, 0..N-1 (default: 2, or 1 with --quick)")
    v.add_argument("--steps", type=int, default=None, help="denoising steps (model default)")
    v.add_argument("--guidance", type=float, default=None, help="classifier-free guidance (model default)")
    v.add_argument("--step-cache", type=float, default=None, metavar="T", help="step caching threshold (0: off)")
    v.add_argument("--guidance-floor", type=float, default=None, metavar="T", help="no guidance below noise level T (model default)")
    v.add_argument("--limit", type=int, default=None, help="run only N prompts (taken across the groups)")
    v.add_argument("--tasks", action="store_true", help="score the tasks instead (i2v PSNR, boundary jumps, loop seam, "
                                                      "storyboard, 30-s drift): OUT/tasks.json + tasks.md")
    v.add_argument("--quiet", action="store_true", help="no progress bar")
    v.set_defaults(func=cmd_eval)

    sv = sub.add_parser("serve", help="run the studio: web page + OpenAI-compatible API (+ one worker)",
                        description="Run the studio. Settings come from KINETOSCOPE_* environment variables "
                                    "(database, Redis queue, storage, engines, webhooks; see the README).")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    sv.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    sv.add_argument("--data-dir", default=None, help="database, queue and files (default: KINETOSCOPE_DATA_DIR or ~/.local/share/kinetoscope)")
    sv.add_argument("--no-worker", action="store_true", help="run no worker in this process (use `kinetoscope worker`)")
    sv.add_argument("--threads", type=int, default=None, help="torch threads for the in-process worker")
    sv.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    sv.set_defaults(func=cmd_serve)

    wk = sub.add_parser("worker", help="run one more studio worker (same database, queue and storage as the server)")
    wk.add_argument("--data-dir", default=None, help="as for serve")
    wk.add_argument("--threads", type=int, default=None, help="torch threads for this worker")
    wk.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    wk.set_defaults(func=cmd_worker)

    from kinetoscope.studio.admin_cli import add_parser as add_admin_parser

    add_admin_parser(sub)
    sub.choices["admin"].set_defaults(func=cmd_admin)

    vf = sub.add_parser("verify", help="check a file's C2PA manifest and invisible watermark",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        description="Report a file's C2PA manifest (trusted: signed by this installation; valid: "
                                    "signature holds, signer not trusted here; tampered; missing) and its invisible "
                                    "watermark (found or not, payload, confidence).",
                        epilog="exit codes:\n  0  manifest trusted or valid\n  1  manifest tampered or invalid\n"
                               "  2  usage error (e.g. no such file)\n  3  no manifest (the watermark may still be found)")
    vf.add_argument("file", help="video or image (.mp4, .png, .gif, .webm, .jpg, ...)")
    vf.add_argument("--data-dir", default=None, help="this installation's data dir, whose CA is trusted (default: "
                                                     "KINETOSCOPE_DATA_DIR or ~/.local/share/kinetoscope)")
    vf.add_argument("--json", action="store_true", help="print the full report as JSON")
    vf.set_defaults(func=cmd_verify)

    b = sub.add_parser("bench", help="run the benchmarks in benchmarks/ (python -m benchmarks)")
    b.add_argument("rest", nargs=argparse.REMAINDER, help="arguments passed to the benchmarks")
    b.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["train", "export"]:  # `kinetoscope train export RUN --out DIR`
        e = argparse.ArgumentParser(prog="kinetoscope train export", description="write a model folder from a run's EMA weights")
        e.add_argument("run", help="run folder (holds checkpoint.pt)")
        e.add_argument("--out", default=None, help="model folder to write")
        e.add_argument("--fast-into", default=None, metavar="MODEL",
                       help="a distill run: add its student to this model folder as the fast setting (generate --fast)")
        e.add_argument("--expert-into", default=None, metavar="MODEL",
                       help="a denoiser run trained with t_range=[from, below], not [0, 1]: add it to this model folder "
                            "as the expert for those noise levels")
        e.add_argument("--main-into", default=None, metavar="MODEL",
                       help="a denoiser run: make it this model folder's main denoiser (every noise level no expert "
                            "covers), keeping its autoencoder, experts and fast setting")
        e.add_argument("--vae", default=None, help="ship this autoencoder folder (same encoder, e.g. a fine-tuned decoder)")
        args = e.parse_args(argv[2:])
        args.func = cmd_export
    else:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        # `train run_dir=R --resume steps=N`: argparse ends the overrides at the first option, so
        # key=value words after one come back unparsed; they are overrides all the same.
        if extra and getattr(args, "func", None) is cmd_train and all("=" in w and not w.startswith("-") for w in extra):
            args.overrides = [*args.overrides, *extra]
        elif extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args)
    except UserError as e:
        print(f"kinetoscope: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""What the command line's commands share: the one-line user error and the generate command's
helpers (engine spec, content policy, unknown-word warning, writing an output with provenance).
Nothing here imports torch at module level."""

from __future__ import annotations

import sys


class UserError(Exception):
    """Printed as one line, exit code 2."""


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = text.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise UserError(f"--size {text!r} is not WIDTHxHEIGHT, e.g. 64x64 or 96x64") from None


def model_folder(args) -> str | None:
    """The built-in engine's model folder (None: the shipped model); "" for any other engine."""
    kind, _, folder = engine_spec(args).partition("?")[0].partition(":")
    return (folder or None) if kind == "builtin" else ""


def warn_unknown_words(config, folder: str | None, *prompts: str | None) -> None:
    """One line on stderr naming the prompts' words that the model never saw in training and the
    background colours its world never drew (a model whose pipeline.json, `config`, records its
    vocabulary or world, as the built-in one does); it still makes the video."""
    from kinetoscope.vocabulary import prompt_warning, where_to_look

    line = prompt_warning(config, *prompts, see=where_to_look(folder))
    if line:
        print(f"warning: {line}", file=sys.stderr, flush=True)


def check_policy(args, *texts: tuple[str, str | None]) -> None:
    """The studio's content policy, on the command line too: --policy FILE, else $KINETOSCOPE_POLICY,
    else the shipped one (kinetoscope/safety/default_policy.yaml); --no-policy skips it."""
    if args.no_policy:
        return
    from kinetoscope.safety import PolicyError, PolicyRefusal, enforce, load_policy

    try:
        policy = load_policy(args.policy)
        for param, text in texts:
            if text:
                enforce(text, policy, param)
    except (PolicyError, PolicyRefusal, OSError) as e:
        raise UserError(str(e)) from None


def engine_spec(args) -> str:
    if args.engine and args.weights:
        raise UserError("--weights FOLDER is short for --engine builtin:FOLDER: give one of them")
    if args.engine and args.fast:
        raise UserError("--fast is short for --engine builtin?fast=1: give one of them")
    spec = args.engine or (f"builtin:{args.weights}" if args.weights else "builtin")
    return spec + "?fast=1" if args.fast else spec


def save_output(args, video, out, parent=None, inputs=()) -> None:
    """Write an output with its provenance: invisible watermark (unless --no-watermark) and signed C2PA manifest."""
    from kinetoscope.media.errors import MediaError
    from kinetoscope.media.provenance import save_video

    try:
        save_video(video, out, data_dir=args.data_dir, action="edited" if parent else "created", parent=parent,
                   inputs=inputs, include_prompt=args.sign_prompt, watermark=not args.no_watermark,
                   visible_mark=args.visible_mark)
    except (MediaError, OSError) as e:
        raise UserError(str(e)) from None
    except Exception as e:  # c2pa.C2paError: a signing key or certificate that c2pa refuses
        if type(e).__module__.startswith("c2pa"):
            raise UserError(f"could not sign {out}: {e}") from None
        raise

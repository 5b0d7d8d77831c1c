"""The canary: train a recipe at the canary's budget and score it on its own vocabulary, beside the
scores last recorded for the canary (configs/canary.yaml, the recipe known to learn on 2 cores).

    python -m benchmarks.canary                         # train runs/canary (resumes), score it
    python -m benchmarks.canary --config X.yaml         # a recipe change, same budget, same eval
    python -m benchmarks.canary --run runs/x --no-train # score a run (or a model folder) as it is
    python -m benchmarks.canary --record                # make this run's scores the recorded ones

Scores are the eval suite's (eval/vocab.py over pipeline.json's world; analyzer, score_clip):
per group (seen, heldout, paraphrase) colour, shape, motion (the analyzer's 15 motions), count,
background and all five; and direction, MEASURED.md's figure: the way the object travels from the
first to the last frame it is seen in, on the larger axis, against the prompt's (chance 25%).
The canary passes when seen direction reaches 90% (MEASURED.md's run: 96%). Writes benchmarks/results/canary.json
(the record) only with --record; every run writes benchmarks/results/canary-last.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

STANDALONE = True  # it trains for ~40 min: `python -m benchmarks` skips it, `python -m benchmarks.canary` runs it
RESULTS = Path(__file__).resolve().parent / "results"
RECORD = RESULTS / "canary.json"
CONFIG = Path(__file__).resolve().parent.parent / "configs" / "canary.yaml"
ATTRS = ("colour", "shape", "motion", "count", "background", "all", "direction")
PASS_DIRECTION = 0.90


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.canary", description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=CONFIG, help="training recipe (default: configs/canary.yaml)")
    p.add_argument("--run", type=Path, default=None, help="run folder (default: the config's run_dir) or a model folder")
    p.add_argument("--no-train", action="store_true", help="score the run as it is")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="every third composition of the vocabulary (a wide world's run)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--guidance", type=float, default=3.5)
    p.add_argument("--threads", type=int, default=0, help="torch threads for sampling (0: all cores)")
    p.add_argument("--record", action="store_true", help="record these scores as the canary's")
    return p.parse_args(argv)


def train(config: Path, run: Path) -> None:
    from kinetoscope.train.config import load_config
    from kinetoscope.train.loop import Trainer

    cfg = load_config(str(config), [f"run_dir={run}"])
    Trainer(cfg).train(resume=True)


def pipeline_of(path: Path):
    """A model folder as it is; a run folder exported (EMA weights) to a temporary model folder first."""
    from kinetoscope.pipeline import Pipeline
    from kinetoscope.train.export import export

    if (path / "pipeline.json").is_file():
        return Pipeline.from_pretrained(path), {}
    out = Path(tempfile.mkdtemp(prefix="canary-model-"))
    export(path, out)
    training = json.loads((out / "training.json").read_text())
    return Pipeline.from_pretrained(out), {"train_steps": training["steps"], "train_minutes": round(training["train_seconds"] / 60, 1)}


STRAIGHT = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


def direction(frames) -> tuple[int, int] | None:
    """The way the first object found travels, first to last frame it is seen in, as one of
    STRAIGHT's unit steps (the larger axis of the displacement wins); None if it is not found."""
    from kinetoscope.eval.analyzer import analyze

    rep = analyze(frames)
    seen = [p for p in (rep.objects[0].track if rep.objects else []) if p is not None]
    if len(seen) < 2:
        return None
    dx, dy = seen[-1][0] - seen[0][0], seen[-1][1] - seen[0][1]
    return (int(np.sign(dx)), 0) if abs(dx) >= abs(dy) else (0, int(np.sign(dy)))


class DirectionCounter:
    """Wraps a pipeline: every clip it makes also has its direction of travel read (MEASURED.md's
    4-way "direction" figure, chance 25%), beside the suite's stricter 15-way motion."""

    def __init__(self, pipe, prompts):
        self.pipe, self.config, self.folder, self.resolve = pipe, pipe.config, pipe.folder, pipe.resolve
        self.want = {p.prompt: (p.group, p.spec["objects"][0]["motion"]) for p in prompts}
        self.hits: dict[str, list[bool]] = {}

    def generate(self, req, progress=None):
        video = self.pipe.generate(req)
        group, motion = self.want[req.prompt]
        if motion in STRAIGHT:
            self.hits.setdefault(group, []).append(direction(video.frames) == STRAIGHT[motion])
        return video

    def scores(self) -> dict:
        every = [h for v in self.hits.values() for h in v]
        return {g: round(float(np.mean(v)), 4) for g, v in {**self.hits, "overall": every}.items() if v}


def evaluate(pipe, seeds: int, steps: int, guidance: float, quick: bool = False) -> dict:
    from kinetoscope.eval.suite import run_suite
    from kinetoscope.eval.vocab import vocabulary_suite

    if not pipe.config.world:
        raise SystemExit("this model's pipeline.json names no world: the canary scores models trained on a narrowed world")
    prompts = vocabulary_suite(pipe.config.world, quick=quick)
    frames = round(pipe.config.seconds * pipe.config.fps)
    t0 = time.perf_counter()
    counter = DirectionCounter(pipe, prompts)
    rep = run_suite(counter, prompts, seeds=range(seeds), frames=frames, width=pipe.config.width, height=pipe.config.height,
                    steps=steps, guidance=guidance, psnr_clips=0, sensitivity_clips=0)
    dirs = counter.scores()
    scores = {g: {a: rep["scores"][g][a] for a in ATTRS if a != "direction"} | {"direction": dirs.get(g), "clips": rep["scores"][g]["clips"]}
              for g in ("seen", "heldout", "paraphrase", "overall") if g in rep["scores"]}
    return {"scores": scores, "eval_seconds": round(time.perf_counter() - t0, 1), "seeds": seeds, "sample_steps": steps,
            "guidance": guidance, "prompts": len(prompts)}


def table(result: dict, record: dict | None) -> str:
    rows = ["| group | " + " | ".join(ATTRS) + " | clips |", "|---" * (len(ATTRS) + 2) + "|"]
    for g, s in result["scores"].items():
        old = (record or {}).get("scores", {}).get(g, {})
        cells = [f"{100 * s[a]:.1f}" + (f" ({100 * old[a]:.1f})" if old.get(a) is not None else "")
                 if s.get(a) is not None else "-" for a in ATTRS]
        rows.append(f"| {g} | " + " | ".join(cells) + f" | {s['clips']} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    import torch

    from kinetoscope.train.config import load_config

    args = parse_args(argv or [])
    run = args.run or Path(load_config(str(args.config)).run_dir)
    record = json.loads(RECORD.read_text()) if RECORD.is_file() else None
    if not args.no_train and not (run / "pipeline.json").is_file():
        train(args.config, run)
    if args.threads:
        torch.set_num_threads(args.threads)
    pipe, training = pipeline_of(run)
    result = {"run": str(run), "config": str(args.config), **training,
              **evaluate(pipe, args.seeds, args.steps, args.guidance, args.quick)}
    print(table(result, record))
    if record:
        print(f"(in brackets: recorded {record.get('date', '?')}, {record.get('train_steps', '?')} training steps, run {record.get('run')})")
    d = result["scores"]["seen"]["direction"] or 0.0
    print(f"canary {'PASSES' if d >= PASS_DIRECTION else 'FAILS'}: seen direction {100 * d:.1f}% "
          f"(needs {100 * PASS_DIRECTION:.0f}%)")
    result["date"] = time.strftime("%Y-%m-%d")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "canary-last.json").write_text(json.dumps(result, indent=2) + "\n")
    if args.record:
        RECORD.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))

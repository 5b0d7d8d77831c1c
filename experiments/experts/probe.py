"""Where along the noise levels does the model lose what the ground truth shows?

Each quick-suite prompt's ground-truth clip is noised to `strength` and denoised from there
(SDEdit, the pipeline's own sampler and guidance); the analyzer scores the result like any
generated clip. Strength 0 is the autoencoder's ceiling, 1 plain generation. A denoiser that
loses shape at strength 0.3, where most of the clip is still there, is weak at low noise.

    python experiments/experts/probe.py kinetoscope/weights/builtin --strengths 0,0.3,0.5,0.7,1
"""

import argparse
import dataclasses

from kinetoscope.eval.suite import OracleGenerator, build_suite, run_suite
from kinetoscope.pipeline import Pipeline

FIVE = ("colour", "shape", "motion", "count", "background")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights")
    ap.add_argument("--strengths", default="0,0.3,0.5,0.7,0.85,1")
    ap.add_argument("--seeds", type=int, default=1)
    args = ap.parse_args()
    pipe, prompts = Pipeline.from_pretrained(args.weights), build_suite(quick=True)
    oracle = OracleGenerator(prompts)

    class SDEdit:
        def __init__(self, strength):
            self.strength = strength

        def generate(self, req):
            if self.strength >= 1:
                return pipe.generate(req)
            return pipe.generate(dataclasses.replace(req, init_frames=oracle.generate(req).frames, strength=self.strength))

    print("| strength | " + " | ".join(FIVE) + " | mean |\n|---|" + "---|" * (len(FIVE) + 1))
    for s in (float(v) for v in args.strengths.split(",")):
        o = run_suite(SDEdit(s), prompts, seeds=range(args.seeds), psnr_clips=0, sensitivity_clips=0)["scores"]["overall"]
        print(f"| {s:g} | " + " | ".join(f"{100 * o[a]:.0f}%" for a in FIVE)
              + f" | {100 * sum(o[a] for a in FIVE) / len(FIVE):.1f}% |", flush=True)


if __name__ == "__main__":
    main()

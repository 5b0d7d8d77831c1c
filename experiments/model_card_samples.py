"""The model card's samples.png: example prompts from the model's vocabulary, every second frame,
one row per prompt and seed (defaults otherwise), frames enlarged 3x with nearest pixels.

    python experiments/model_card_samples.py [--weights DIR] [--seeds 4] [--out FILE.png] [PROMPT ...]
"""

import argparse

import numpy as np
from PIL import Image

from kinetoscope.media import contact_sheet
from kinetoscope.pipeline import GenerationRequest, Pipeline

PROMPTS = [
    "a red circle bouncing on a black background",
    "a large yellow square moving right",
    "a green triangle moving up",
    "two pink stars moving left",
    "a white star standing still",
    "a cyan circle moving down on a black background",
    "a large orange square moving left",
    "two blue triangles bouncing",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("prompts", nargs="*", default=PROMPTS)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--seeds", type=int, default=1, help="rows per prompt: seeds 0..N-1")
    ap.add_argument("--out", default="kinetoscope/weights/builtin/samples.png")
    args = ap.parse_args()
    pipe = Pipeline.from_pretrained(args.weights)
    rows = []
    for p in args.prompts:
        for seed in range(args.seeds):
            frames = pipe.generate(GenerationRequest(prompt=p, seed=seed)).frames[::2]
            big = np.repeat(np.repeat(frames, 3, axis=1), 3, axis=2)
            rows.append(contact_sheet(big, cols=len(big), label=f"{p} (seed {seed})"))
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)))
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    sheet.save(args.out)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height}, {len(rows)} rows)")


if __name__ == "__main__":
    main()

"""The model card's samples.png: six prompts, every second frame, one row each (seed 0, defaults).

    python experiments/model_card_samples.py [--weights DIR] [--out DIR/samples.png]
"""

import argparse

from PIL import Image

from kinetoscope.media import contact_sheet
from kinetoscope.pipeline import GenerationRequest, Pipeline

PROMPTS = [
    "a red circle bouncing on a blue background",
    "a large yellow square moving right on a black background",
    "a green triangle moving up on a white background",
    "two small blue stars on an orange background",
    "a big purple ring falling on a gray background",
    "a cyan circle growing on a red background",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None)
    ap.add_argument("--out", default="kinetoscope/weights/builtin/samples.png")
    args = ap.parse_args()
    pipe = Pipeline.from_pretrained(args.weights)
    rows = [contact_sheet(pipe.generate(GenerationRequest(prompt=p, seed=0)).frames[::2], cols=9, label=p) for p in PROMPTS]
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)))
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height
    sheet.save(args.out)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height}, {len(PROMPTS)} rows)")


if __name__ == "__main__":
    main()

"""The model card's "Every prompt" table from a `kinetoscope eval --quick` report (seed 0).

    python experiments/model_card_table.py R/report.json > every_prompt.md
"""

import json
import sys

FIVE = ("colour", "shape", "motion", "count", "background")


def read(analysis: dict) -> str:
    objs = analysis["objects"]
    what = ", ".join(f"{o['size']} {o['colour']} {o['shape']} {o['motion']}" for o in objs)
    return f"{len(objs)}: {what} on {analysis['background']}" if objs else f"0 on {analysis['background']}"


def main() -> None:
    report = json.load(open(sys.argv[1]))
    print("| id | prompt | analyzer read | right |\n|---|---|---|---|")
    for rec in report["records"]:
        if rec["seed"] != 0:
            continue
        right = " ".join(a for a in FIVE if rec["correct"].get(a)) or "–"
        print(f"| {rec['id']} | {rec['prompt']} | {read(rec['analysis'])} | {right} |")


if __name__ == "__main__":
    main()

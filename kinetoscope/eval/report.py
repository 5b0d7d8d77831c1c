"""Write an eval report (the dict from `suite.run_suite`) as report.json, report.md and report.html.

The Markdown and HTML pages show the score table (one row per group, one
column per attribute), the timing and autoencoder PSNR, and one contact
sheet per clip (the PNGs `run_suite` saved under sheets/).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from kinetoscope.eval.suite import ATTRIBUTES, EXTRA_ATTRIBUTES, GROUPS

COLUMNS = ATTRIBUTES + ("all",) + EXTRA_ATTRIBUTES


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def score_rows(report: dict) -> list[list[str]]:
    """Header + one row per group present (and overall)."""
    rows = [["group", "prompts", "clips", *COLUMNS, "flicker"]]
    for g in GROUPS + ("overall",):
        s = report["scores"].get(g)
        if s:
            rows.append([g, str(s["prompts"]), str(s["clips"]), *(_pct(s[a]) for a in COLUMNS),
                         f"{s['flicker']:.2f}"])
    return rows


def summary_lines(report: dict) -> list[str]:
    c, t, v = report["config"], report["timing"], report["vae"]
    lines = [f"weights: {c['weights'] or c['generator']}"
             + (f" (sha256 {c['weights_hash'][:16]}...)" if c.get("weights_hash") else ""),
             f"suite v{report['suite']['version']}{' (quick)' if report['suite'].get('quick') else ''}: "
             f"{report['suite']['prompts']} prompts x seeds {c['seeds']} = {t['clips']} clips at "
             f"{c['width']}x{c['height']}, {c['frames']} frames, steps {c['steps']}, guidance {c['guidance']}"
             + (f" (off below t = {c['guidance_floor']:g})" if c.get('guidance_floor') else ""),
             f"time per clip: {t['seconds_per_clip']:.3f} s mean, {t['seconds_per_clip_median']:.3f} s median, "
             f"{t['seconds_per_clip_max']:.3f} s max ({c['threads']} threads)",
             f"flicker (mean |dframe| outside objects, 0-255): {report['temporal']['flicker_mean']:.3f}"]
    if v:
        lines.append(f"autoencoder reconstruction PSNR: {v['psnr_db']:.2f} dB on {v['clips']} held-out "
                     f"clips (uint8, peak 255)")
        if "chunk_seam_ratio" in v:
            lines.append(f"autoencoder chunk seams: the step across a latent-chunk boundary is {v['chunk_seam_ratio']:.2f}x "
                         f"the median step ({v['chunk_seam_ratio_ground_truth']:.2f}x in the ground truth)")
        if v.get("ceiling"):
            c2 = v["ceiling"]["scores"]
            lines.append("autoencoder ceiling (the suite's ground truth after encode+decode): "
                         + ", ".join(f"{a} {c2[a]:.0%}" for a in ("colour", "shape", "motion", "count", "background")))
    else:
        lines.append("autoencoder reconstruction PSNR: not measured (generator has no autoencoder)")
    if report.get("text_sensitivity"):
        from kinetoscope.eval.sensitivity import sensitivity_line
        lines.append(sensitivity_line(report["text_sensitivity"]))
    return lines


def markdown_table(report: dict) -> str:
    rows = score_rows(report)
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(out + [""] + [f"- {line}" for line in summary_lines(report)])


def _flags(rec: dict) -> str:
    return " ".join(f"{a} {'✓' if ok else '✗'}" for a, ok in rec["correct"].items()
                    if ok is not None and a in COLUMNS)


def to_markdown(report: dict) -> str:
    parts = ["# kinetoscope eval report", "", f"Date: {report['config']['date']}", "",
             markdown_table(report), "",
             "Attribute columns are the fraction of clips whose analyzer reading matches the "
             "prompt's scene (all = colour, shape, motion, count and background right together; "
             "speed only where the motion was right).", "", "## Clips", ""]
    for rec in report["records"]:
        a = rec["analysis"]
        seen = ", ".join(f"{o['size']} {o['colour']} {o['shape']} {o['motion']}" for o in a["objects"])
        parts += [f"### {rec['id']} (seed {rec['seed']}, {rec['group']})", "",
                  f"Prompt: {rec['prompt']}", "",
                  f"Analyzer: {a['count']} object(s) [{seen or 'none'}] on {a['background']}; "
                  f"flicker {rec['flicker']:.2f}; {rec['seconds']:.2f} s", "", _flags(rec), ""]
        if rec.get("sheet"):
            parts += [f"![{rec['id']}]({rec['sheet']})", ""]
    return "\n".join(parts)


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}.clip{margin:1.2em 0}.ok{color:#070}.bad{color:#b00}
img{image-rendering:pixelated;max-width:100%}"""


def to_html(report: dict) -> str:
    esc = html.escape
    rows = score_rows(report)
    table = ["<table>", "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in rows[0]) + "</tr>"]
    table += ["<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows[1:]]
    table.append("</table>")
    body = ["<h1>kinetoscope eval report</h1>", f"<p>Date: {esc(report['config']['date'])}</p>",
            *table, "<ul>", *(f"<li>{esc(s)}</li>" for s in summary_lines(report)), "</ul>", "<h2>Clips</h2>"]
    for rec in report["records"]:
        flags = " ".join(f"<span class={'ok' if ok else 'bad'}>{esc(a)} {'✓' if ok else '✗'}</span>"
                         for a, ok in rec["correct"].items() if ok is not None and a in COLUMNS)
        body.append(f"<div class=clip><h3>{esc(rec['id'])} (seed {rec['seed']}, {esc(rec['group'])})</h3>"
                    f"<p>{esc(rec['prompt'])}</p><p>{flags}</p>")
        if rec.get("sheet"):
            body.append(f"<img src=\"{esc(rec['sheet'])}\" alt=\"{esc(rec['prompt'])}\">")
        body.append("</div>")
    return ("<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>kinetoscope eval</title>"
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_report(report: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write report.json, report.md and report.html into out_dir; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    paths["json"].write_text(json.dumps(report, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    paths["md"].write_text(to_markdown(report) + "\n", encoding="utf-8")
    paths["html"].write_text(to_html(report), encoding="utf-8")
    return paths

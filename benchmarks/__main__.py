"""Run every benchmark module in this folder that defines ``main(argv)``.

    python -m benchmarks            # all benchmarks, full repeats
    python -m benchmarks --quick    # the same arguments are passed to each one
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import benchmarks


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    for info in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"benchmarks.{info.name}")
        entry = getattr(module, "main", None)
        if getattr(module, "STANDALONE", False):  # trains a model first (benchmarks.canary): run it by name
            print(f"=== benchmarks.{info.name}: skipped here, run `python -m benchmarks.{info.name}` ===", flush=True)
            continue
        if callable(entry):
            print(f"=== benchmarks.{info.name} ===", flush=True)
            entry(list(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

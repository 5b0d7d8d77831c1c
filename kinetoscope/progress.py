"""Progress on the command line: a bar on a terminal, plain lines ("denoise 5/20") when the stream is
a pipe or a file (a log has no use for carriage returns and cursor codes), nothing when quiet."""

from __future__ import annotations

import sys

LINES_PER_STAGE = 10  # plain lines: about one per tenth of a stage, and its last step
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]"


class Progress:
    """`progress(stage, i, n)`: step i of n of a stage (denoise, decode, eval, ...). Use as a context
    manager, or call close(), so that a terminal's bars are cleared."""

    def __init__(self, quiet: bool = False, stream=None):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._bars: dict = {}
        self._shown: dict[str, int] = {}

    def __call__(self, stage: str, i: int, n: int) -> None:
        if self.quiet:
            return
        if self.tty:
            self._bar(stage, n).update(i - self._bars[stage].n)
        elif self._shown.get(stage) != i and (i == n or i % max(1, n // LINES_PER_STAGE) == 0):
            self._shown[stage] = i
            print(f"{stage} {i}/{n}", file=self.stream, flush=True)

    def _bar(self, stage: str, n: int):
        if stage not in self._bars:
            from tqdm import tqdm

            # no rate: a stage's first step is timed from the bar's creation, which gives absurd figures
            self._bars[stage] = tqdm(total=n, desc=stage, leave=False, file=self.stream, bar_format=BAR_FORMAT)
        return self._bars[stage]

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class WithPreview:
    """A progress callback that also takes previews: `preview(i, n, frames)` is called after
    denoising step i of n, where `frames(count)` decodes `count` frames of the step's clean
    estimate ((count, H, W, 3) uint8), doing the work only when called. Pipelines find the hook
    with `preview_hook`; every task passes its progress callback through unchanged, so all get it."""

    def __init__(self, progress, preview):
        self.progress, self.preview = progress, preview

    def __call__(self, stage: str, i: int, n: int) -> None:
        if self.progress is not None:
            self.progress(stage, i, n)


def preview_hook(progress):
    """The `preview(i, n, frames)` hook a progress callback carries (see WithPreview), or None."""
    return getattr(progress, "preview", None)

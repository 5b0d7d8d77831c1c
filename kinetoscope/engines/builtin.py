"""The built-in engine: our own pipeline (causal VAE + denoiser) from a model folder."""

from __future__ import annotations

from pathlib import Path

from kinetoscope import catalog
from kinetoscope.engines.base import Capabilities, Progress
from kinetoscope.pipeline import GenerationRequest, Pipeline, Video

TASKS = catalog.names()  # the built-in model does every task (tasks.run runs them on its pipeline)


class BuiltinEngine:
    def __init__(self, pipeline: Pipeline, name: str | None = None):
        self.pipeline = pipeline
        self.name = name or pipeline.config.name

    @classmethod
    def from_folder(cls, folder: str | Path | None = None, name: str | None = None, fast: bool = False) -> "BuiltinEngine":
        return cls(Pipeline.from_pretrained(folder, fast=fast), name=name)

    @property
    def capabilities(self) -> Capabilities:
        c, vae = self.pipeline.config, self.pipeline.vae.config
        return Capabilities(tasks=TASKS, width=c.width, height=c.height, seconds=c.seconds, fps=c.fps,
                            min_size=c.min_size, max_size=c.max_size, size_multiple=self.pipeline.size_multiple,
                            max_frames=c.max_frames,
                            trained_sizes=tuple(c.trained_sizes) if c.trained_sizes else None,
                            trained_seconds=c.trained_seconds,
                            extra={"frame_rule": f"1+{vae.time_factor}k", "steps": c.steps, "guidance": c.guidance,
                                   "guidance_floor": c.guidance_floor, "sampler": c.sampler})

    def resolve(self, request: GenerationRequest) -> GenerationRequest:
        return self.pipeline.resolve(request)

    def generate(self, request: GenerationRequest, progress: Progress | None = None) -> Video:
        return self.pipeline.generate(request, progress=progress)

"""`WorldDataset`: the procedural world as an infinite torch IterableDataset."""

from __future__ import annotations

import numpy as np
import torch

from .world import WorldConfig, make_clip


def clip_seed(base_seed: int, rank: int, index: int) -> int:
    """The seed of item `index` of rank `rank`'s stream (independent streams)."""
    seq = np.random.SeedSequence([base_seed, rank, index])
    return int(seq.generate_state(1, np.uint64)[0])


class WorldDataset(torch.utils.data.IterableDataset):
    """Infinite, seeded stream of {"video": (3, T, H, W) float in [-1, 1], "caption": str}.

    Each DDP rank reads its own stream; item `index` of a rank's stream is
    `make_clip(clip_seed(seed, rank, index), cfg, split, phrasing)`, so the
    data does not depend on how many DataLoader workers there are. Workers
    split the stream in blocks of `batch_size` items, worker w taking blocks
    w, w + n_workers, ... which is the order a DataLoader with that batch
    size hands batches back in. So with `DataLoader(ds, batch_size=B)` and
    `WorldDataset(..., batch_size=B)` the rank sees items start_index,
    start_index + 1, ... in order, and a run resumed after `steps` steps
    continues the same order with `start_index = steps * B`.

    rank / world_size default to torch.distributed's when it is initialised.
    """

    def __init__(self, cfg: WorldConfig | None = None, seed: int = 0, split: str = "train",
                 start_index: int = 0, batch_size: int = 1, phrasing: str = "random",
                 rank: int | None = None, world_size: int | None = None):
        super().__init__()
        self.cfg = cfg or WorldConfig()
        self.seed, self.split, self.phrasing = seed, split, phrasing
        self.start_index, self.batch_size = start_index, max(1, batch_size)
        dist = torch.distributed
        ready = dist.is_available() and dist.is_initialized()
        self.rank = rank if rank is not None else (dist.get_rank() if ready else 0)
        self.world_size = world_size if world_size is not None else (
            dist.get_world_size() if ready else 1)

    def item(self, index: int) -> dict:
        """Item `index` of this rank's stream."""
        clip = make_clip(clip_seed(self.seed, self.rank, index), self.cfg, self.split,
                         self.phrasing)
        video = torch.from_numpy(clip.frames).permute(3, 0, 1, 2).float()  # (3, T, H, W)
        return {"video": video / 127.5 - 1.0, "caption": clip.caption}

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        block = worker
        while True:
            first = self.start_index + block * self.batch_size
            for index in range(first, first + self.batch_size):
                yield self.item(index)
            block += workers

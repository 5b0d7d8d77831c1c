"""Training: config, deterministic data, the loop, checkpoints, export."""

"""AHD training (the paper's first stage: only AHD parameters are optimized).

- ``features``: run the frozen encoder once and cache multi-layer tokens + mask targets on disk.
- ``ahd_trainer``: focal + dice training of the AHD head on the cache (resumable, seeded,
  DistributedDataParallel under torchrun).
- ``config``: the training YAML schema.
"""

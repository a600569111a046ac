"""Benchmarks of whole models on a dataset split (``tvau eval ahd``)."""

"""Data sets for `specc train` and `specc run --data`: a registry of named sources."""
from .registry import DATASETS, Dataset, load_dataset

__all__ = ["DATASETS", "Dataset", "load_dataset"]

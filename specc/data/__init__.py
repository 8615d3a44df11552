"""Data sets for `specc train` and `specc run --data`: a registry of named sources.

Importing this package does not import torch (`specc check` shows a recipe's augmentations
from `specc.data.augment` without it)."""

__all__ = ["DATASETS", "Dataset", "load_dataset"]


def __getattr__(name):
    if name in __all__:
        from . import registry
        return getattr(registry, name)
    raise AttributeError(name)

"""Data sets for `specc train` and `specc run --data`: a registry of named sources
(registry.py) and the readers, each of which registers the names it reads. The
demonstrations' task environments register theirs from specc.tasks."""
from . import sklearn_digits, procedural, shapes, disk, folder, shards, text  # noqa: F401  (registration order)

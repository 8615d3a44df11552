"""What a recipe can name: augmentations (augment.py), losses, optimisers, schedules,
warm-ups and adversarial games (registry.py holds their tables). Importing any part of this
package imports every module of entries first, and each registers its own: the tables are
complete wherever they are read."""
from . import adversarial, augment, losses, optimizers, schedule  # noqa: F401

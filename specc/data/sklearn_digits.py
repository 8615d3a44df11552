"""`digits`: the 1,797 real handwritten 8x8 digits that ship inside scikit-learn."""
from __future__ import annotations

import torch

from .images import fit_images, memory_augment, memory_eval
from .registry import Dataset

TEST_FRACTION = 0.2
SPLIT_SEED = 0


def load(arg: str, want) -> Dataset:
    from sklearn.datasets import load_digits
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(d.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SPLIT_SEED))
    n_test = int(len(y) * TEST_FRACTION)
    test, train = order[:n_test], order[n_test:]
    notes: list[str] = []
    x = fit_images(x, want, "digits", frame=True, notes=notes)
    return Dataset("digits", x[train], y[train], x[test], y[test], 10,
                   [str(i) for i in range(10)], memory_augment(want), adaptations=notes,
                   eval_transform=memory_eval(want))

"""`digits`: the 1,797 real handwritten 8x8 digits that ship inside scikit-learn."""
from __future__ import annotations

from pathlib import Path

import torch

from .images import fit_images, memory_augment, memory_eval
from .registry import Dataset, register

TEST_FRACTION = 0.2
SPLIT_SEED = 0


def digits_arrays():
    """(images [1797, 8, 8], labels [1797]) as numpy arrays. Read straight from the CSV that
    scikit-learn ships, found without importing scikit-learn (whose import, scipy and all,
    cost a first run 0.6 s of CPU); `load_digits` reads the same file, and is the fallback."""
    import importlib.util

    import numpy as np
    spec = importlib.util.find_spec("sklearn")
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        path = Path(root) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            data = np.loadtxt(path, delimiter=",")
            return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int)
    from sklearn.datasets import load_digits
    d = load_digits()
    return d.images, d.target


def load(arg: str, want) -> Dataset:
    images, labels = digits_arrays()
    x = torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(labels, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(SPLIT_SEED))
    n_test = int(len(y) * TEST_FRACTION)
    test, train = order[:n_test], order[n_test:]
    notes: list[str] = []
    x = fit_images(x, want, "digits", frame=True, notes=notes)
    return Dataset("digits", x[train], y[train], x[test], y[test], 10,
                   [str(i) for i in range(10)], memory_augment(want), adaptations=notes,
                   eval_transform=memory_eval(want))


register("digits", load)

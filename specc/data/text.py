"""`text`: character-level language modelling on a UTF-8 text, nanoGPT's shakespeare_char
scheme. The vocabulary is the text's sorted characters; a sample is T characters and its
targets the T characters one step on ([T] -> [T]); the first 90 % of the text trains, the
rest tests. Bare `text` reads the bundled sonnets (ten of Shakespeare's, public domain);
`text:PATH` a file of the user's."""
from __future__ import annotations

from pathlib import Path

import torch

from ..core.diagnostics import SpeccError
from ..core.files import read_regular
from ..core.source import printable
from .registry import Dataset, in_memory, register

BUNDLED = Path(__file__).with_name("sonnets.txt")
TRAIN_FRACTION = 0.9  # nanoGPT's data/shakespeare_char/prepare.py
MAX_TEXT_BYTES = 64 * 2 ** 20


def read_text(arg: str) -> str:
    path = Path(arg) if arg else BUNDLED
    data = read_regular(path, "text file", limit=MAX_TEXT_BYTES)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpeccError(f"{printable(str(path))} is not UTF-8 text (byte {e.start})") from None


def windows(codes: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every run of `length` characters (x) and the run one character on (y)."""
    count = len(codes) - length
    starts = torch.arange(max(count, 0)).unsqueeze(1) + torch.arange(length)
    return codes[starts], codes[starts + 1]


def load(arg: str, want) -> Dataset:
    name = f"text:{arg}" if arg else "text"
    if len(want.shape) != 1:
        raise SpeccError(f"data set '{name}' feeds sequences of character indices [N, T]; the "
                         f"network's input is {['N', *want.shape]}")
    length = want.shape[0]
    if length is None:
        raise SpeccError(f"data set '{name}' needs the sequence length: state it in the "
                         "recipe (`size = 64`) or with --set T=64")
    text = read_text(arg)
    chars = sorted(set(text))
    vocab = want.classes or len(chars)
    if len(chars) > vocab:
        raise SpeccError(f"data set '{name}' has {len(chars)} distinct characters but the "
                         f"network's output has only {vocab}")
    split = int(len(text) * TRAIN_FRACTION)
    if min(split, len(text) - split) <= length:
        raise SpeccError(f"data set '{name}': {len(text):,} characters are too few for "
                         f"sequences of {length} (each split needs more than {length})")
    in_memory(name, len(text), 4 * length)  # x, y: int64 windows (2 x 2 float32 each)
    index = {c: i for i, c in enumerate(chars)}
    codes = torch.tensor([index[c] for c in text], dtype=torch.int64)
    train_x, train_y = windows(codes[:split], length)
    test_x, test_y = windows(codes[split:], length)
    notes = [f"{len(chars)} characters used of {vocab} outputs"] if len(chars) < vocab else []
    return Dataset(name, train_x, train_y, test_x, test_y, vocab, chars, adaptations=notes)


def bundled_vocabulary(arg: str, classes: int) -> list[str] | None:
    """The bundled text's characters, in their indices' order; a user's file is not read
    here (its vocabulary is its own, and a model's spec may name any path)."""
    return None if arg else sorted(set(read_text("")))


register("text", load, names=bundled_vocabulary)

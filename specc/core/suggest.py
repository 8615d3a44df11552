""""Did you mean ...?": the closest known name to a mistyped one (difflib's ratio)."""
from __future__ import annotations

import difflib


def closest(word: str, known, cutoff: float = 0.6) -> str | None:
    found = difflib.get_close_matches(word, [str(k) for k in known], n=1, cutoff=cutoff)
    return found[0] if found else None


def did_you_mean(word: str, known, cutoff: float = 0.6) -> str:
    """' (did you mean 'train'?)' or '' when nothing is close."""
    found = closest(word, known, cutoff)
    return f" (did you mean '{found}'?)" if found else ""

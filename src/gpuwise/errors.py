"""User-facing errors.

Library code raises :class:`GpuwiseError` with one sentence that names the file/line or
field, what was expected and, where possible, the nearest valid choice.  The CLI prints
it as ``error: ...`` and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GpuwiseError(Exception):
    """An error caused by the user's input, with a message meant to be read by them."""


def did_you_mean(word: str, choices: Iterable[str], n: int = 3) -> str:
    """Return ``" (did you mean A, B?)"`` for the closest choices, or ``""``."""
    pool = list(dict.fromkeys(choices))
    lowered = {c.lower(): c for c in pool}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=0.5)
    if not close:
        return ""
    return " (did you mean " + ", ".join(lowered[c] for c in close) + "?)"


def where(path: str | None, line: int | None = None) -> str:
    """Format a location prefix such as ``fleet.yaml:12: `` (empty when unknown)."""
    if path is None:
        return ""
    return f"{path}:{line}: " if line is not None else f"{path}: "

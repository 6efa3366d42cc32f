"""One exception type the CLI turns into a clean message (no traceback), and the checks every user-written
option goes through (unknown keys with a suggestion, numbers in range)."""
from __future__ import annotations

import difflib
import math
from typing import Iterable


class MmxError(Exception):
    """A user-facing error: the message names the file/sample at fault and how to fix it."""


def check_keys(given: Iterable[str], known: Iterable[str], where: str) -> None:
    """Refuse keys a user wrote that nothing reads (``splt=dev`` must not silently evaluate the test split)."""
    known = sorted(set(known))
    for key in given:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=3, cutoff=0.6)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise MmxError(f"{where}: unknown key {key!r}.{hint} Known keys: {', '.join(known) or 'none'}")


def check_number(name: str, value, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False, integer: bool = False, where: str = ""):
    """Return ``value`` as int/float if it is a finite number in range, else raise MmxError naming it.

    ``low_open``/``high_open`` exclude the bound itself (alpha in (0, 1)); ``integer`` refuses 2.5 for a count.
    """
    prefix = f"{where}: " if where else ""
    try:
        num = float(value)
    except (TypeError, ValueError):
        raise MmxError(f"{prefix}{name} should be a number, got {value!r}") from None
    if not math.isfinite(num):
        raise MmxError(f"{prefix}{name} should be a finite number, got {value!r}")
    if integer:
        if isinstance(value, bool) or num != int(num) or (isinstance(value, str) and not value.strip().lstrip("+-").isdigit()):
            raise MmxError(f"{prefix}{name} should be a whole number, got {value!r}")
        num = int(num)
    below = low is not None and (num <= low if low_open else num < low)
    above = high is not None and (num >= high if high_open else num > high)
    if below or above:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
        raise MmxError(f"{prefix}{name} should be {' and '.join(x for x in (lo, hi) if x)}, got {value!r}")
    return num

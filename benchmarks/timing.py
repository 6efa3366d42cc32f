"""Side-by-side timing for the benchmarks: every system runs the same work, interleaved (A B A B ...) so a
shared machine's load falls on all of them alike; each prints its median, spread and ratio to mmx.

    from timing import compare, print_table
    times = compare({"mmx": run_mmx, "clip_benchmark": run_peer}, repeats=5, warmup=1)
    print_table("retrieval, tiny CLIP", times, work=720, unit="images", baseline="mmx")

Ratio = system's median time / mmx's median time on the same work: above 1 means mmx is faster.
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Callable


def machine() -> str:
    """One line naming the machine the figures come from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    gpu = ""
    try:
        import torch

        if torch.cuda.is_available():
            gpu = f", GPU {torch.cuda.get_device_name(0)}"
    except Exception:  # noqa: BLE001  (torch absent or broken: CPU figures are still figures)
        pass
    return f"{os.cpu_count()} cores ({cpu}){gpu}, load {load:.2f}"


def compare(systems: dict[str, Callable[[], object]], repeats: int = 3, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each system, `warmup` untimed calls first, then `repeats` interleaved rounds.

    A system may return a float: then that is its time (for systems that must exclude their own set-up,
    e.g. model loading), otherwise the wall time of the call is used."""
    for _ in range(warmup):
        for fn in systems.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(repeats):
        for name, fn in systems.items():
            t0 = time.perf_counter()
            out = fn()
            times[name].append(out if isinstance(out, float) else time.perf_counter() - t0)
    return times


def spread(xs: list[float]) -> float:
    """Half the range as a share of the median: ±x."""
    m = statistics.median(xs)
    return (max(xs) - min(xs)) / 2 / m if m else 0.0


def print_table(title: str, times: dict[str, list[float]], work: float, unit: str, baseline: str = "mmx",
                rate_unit: str | None = None) -> dict[str, float]:
    """Print median s, spread, throughput (work / s) and the ratio to `baseline`.

    Returns {system: ratio}. `rate_unit` titles the throughput column (ASR: RTFx, audio seconds / seconds)."""
    print(f"\n== {title}  [{machine()}]")
    base = statistics.median(times[baseline])
    ratios = {}
    print(f"{'system':<34} {'median s':>9} {'spread':>8} {(rate_unit or unit + '/s'):>12} {'time / ' + baseline:>12}")
    for name, xs in times.items():
        m = statistics.median(xs)
        thr = work / m
        ratios[name] = m / base
        print(f"{name:<34} {m:>9.3f} {'±' + format(spread(xs) * 100, '.0f') + '%':>8} {thr:>12.1f} {ratios[name]:>12.2f}")
    print(f"({len(next(iter(times.values())))} timed runs each, interleaved; ratio above 1: {baseline} is faster)")
    return ratios

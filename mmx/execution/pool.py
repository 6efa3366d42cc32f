"""Run many programs in parallel: a thread per worker, each waiting on its own sandboxed child.

Threads suffice (the work is in child processes); each worker owns a sandbox slot, so as root each
runs under its own uid and a fork bomb in one cannot starve the others' process quota. Harnessed
programs of languages with a compile step that takes many files at once (batch.py: Java, TypeScript) go
in chunks, one compiler start per chunk, each chunk on one worker; everything else one program per task.
"""
from __future__ import annotations

import math
import os
import queue
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

from mmx.execution import batch
from mmx.execution.executors import Executor
from mmx.execution.harness import Program
from mmx.execution.sandbox import MAX_SLOTS, Result


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def execute_many(jobs: Sequence[tuple[Executor, str]], workers: int | None = None,
                 progress: Callable[[int], None] | None = None, batch_compile: bool = True) -> list[Result]:
    """Execute ``(executor, source)`` jobs; results in job order. ``batch_compile``: compile Java and
    TypeScript programs in chunks (batch.py); off, every program compiles in its own sandbox."""
    workers = max(1, min(workers or default_workers(), len(jobs) or 1, MAX_SLOTS))
    slots: queue.Queue[int] = queue.Queue()
    for i in range(workers):
        slots.put(i)
    tasks: list[list[int]] = []
    groups: dict[int, list[int]] = {}
    for i, (ex, src) in enumerate(jobs):
        if batch_compile and isinstance(src, Program) and batch.supported(ex):
            groups.setdefault(id(ex), []).append(i)
        else:
            tasks.append([i])
    for idx in groups.values():  # chunks spread over the workers, at most MAX_CHUNK programs per compile
        size = max(1, min(batch.MAX_CHUNK, math.ceil(len(idx) / workers)))
        tasks[:0] = [idx[k:k + size] for k in range(0, len(idx), size)]  # first: they take longest
    results: list[Result | None] = [None] * len(jobs)

    def one(task: list[int]) -> None:
        slot = slots.get()
        try:
            ex = jobs[task[0]][0]
            if len(task) == 1:
                out = [ex.execute(jobs[task[0]][1], slot=slot)]
            else:
                out = batch.execute_chunk(ex, [jobs[i][1] for i in task], slot=slot)
            for i, r in zip(task, out):
                results[i] = r
        finally:
            slots.put(slot)
            if progress:
                progress(len(task))

    if workers == 1:
        for t in tasks:
            one(t)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, tasks))
    return results  # type: ignore[return-value]

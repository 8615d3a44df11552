"""How many intra-op threads and DataLoader workers a run gets.

PyTorch's default (one OpenMP thread per core, spinning while it waits) loses badly when the
cores are shared: on a loaded 2-core machine the first LeNet-5 run took 338 s with the default
and 6.4 s with one thread. So the count comes from the CPUs this process may actually use
(`os.sched_getaffinity`, which respects taskset, cgroups' cpusets and Slurm's binding), less what
other processes keep busy (the larger of the 1-minute load average and the number of runnable
tasks right now, since the load average lags a minute behind a burst), shared among the
processes of this node. An explicit OMP_NUM_THREADS or --threads wins.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..core.defaults import MAX_THREADS as LIMIT_THREADS

MAX_THREADS = 32  # what the automatic choice gives at most (--threads goes to LIMIT_THREADS)
MAX_WORKERS = 16


def available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def busy_elsewhere() -> float:
    """CPUs other processes are using now, estimated (0 where the system does not say)."""
    load = 0.0
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        pass
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
        load = max(load, running - 1.0)  # minus this process itself
    except (OSError, ValueError, IndexError):
        pass
    return load


@dataclass(frozen=True)
class ThreadPlan:
    threads: int
    workers: int
    cpus: int
    busy: float

    def describe(self) -> str:
        return (f"{self.threads} thread{'s' * (self.threads != 1)}, {self.workers} data "
                f"worker{'s' * (self.workers != 1)} ({self.cpus} CPUs here, ~{self.busy:.1f} busy "
                "elsewhere)")


def plan(local_world: int = 1, accelerator: bool = False, streaming: bool = False,
         threads: int | None = None, workers: int | None = None) -> ThreadPlan:
    """Threads for this process and DataLoader workers (0 for in-memory data sets)."""
    cpus, busy = available_cpus(), busy_elsewhere()
    share = max(1, cpus // max(1, local_world))
    free = max(1, int(cpus - busy + 0.5) // max(1, local_world))
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if threads is None and omp.isascii() and omp.isdigit() and len(omp) < 8:
        threads = min(int(omp), LIMIT_THREADS) or None
    if threads is None:
        # on an accelerator the main process only feeds the device; on the CPU it computes
        threads = min(2, free) if accelerator else min(free, MAX_THREADS)
    if workers is None:
        if not streaming:
            workers = 0
        elif accelerator:
            workers = max(1, min(share - 1, MAX_WORKERS))
        else:
            workers = max(1, min(free // 4, MAX_WORKERS))
    return ThreadPlan(max(1, threads), max(0, workers), cpus, busy)


def apply(p: ThreadPlan) -> None:
    import torch
    torch.set_num_threads(p.threads)

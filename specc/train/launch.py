"""Several processes and several machines through PyTorch's own launcher (torchrun).

`specc train --nproc K` runs `python -m torch.distributed.run --standalone --nproc-per-node K`;
with `--nnodes N --node-rank R --rdzv-endpoint HOST:PORT` the same command on each machine
joins a c10d rendezvous at HOST:PORT. `--max-restarts M` lets torchrun restart the group after
a worker dies; the restarted workers resume from the run's last checkpoint.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from ..core.diagnostics import SpeccError

# flags of `specc train` that belong to the launcher, not to the workers
LAUNCH_FLAGS = ("--nproc", "--nnodes", "--node-rank", "--rdzv-endpoint", "--max-restarts",
                "--rdzv-id", "--out")


def wants_launcher(args) -> bool:
    return "RANK" not in os.environ and (args.nproc > 1 or (args.nnodes or 1) > 1
                                         or args.max_restarts is not None)


def check(args) -> None:
    if args.nproc < 1:
        raise SpeccError(f"--nproc must be at least 1, got {args.nproc}")
    nodes = args.nnodes or 1
    if nodes < 1:
        raise SpeccError(f"--nnodes must be at least 1, got {nodes}")
    if nodes > 1 and not args.rdzv_endpoint:
        raise SpeccError(f"--nnodes {nodes} needs --rdzv-endpoint HOST:PORT (the address of "
                         "one node that every node can reach), the same on every node")
    if args.node_rank is not None and not 0 <= args.node_rank < nodes:
        raise SpeccError(f"--node-rank {args.node_rank} is outside 0..{nodes - 1}")
    if args.rdzv_endpoint and not _endpoint_ok(args.rdzv_endpoint):
        raise SpeccError(f"--rdzv-endpoint '{args.rdzv_endpoint}' is not HOST:PORT")
    if args.max_restarts is not None and args.max_restarts < 0:
        raise SpeccError(f"--max-restarts must be 0 or more, got {args.max_restarts}")
    if nodes > 1 and not (args.out or args.resume):
        raise SpeccError("training on several nodes needs --out RUN_DIR on a file system "
                         "that every node sees (the run folder holds the checkpoint)")


def _endpoint_ok(endpoint: str) -> bool:
    host, _, port = endpoint.rpartition(":")
    return bool(host) and port.isascii() and port.isdigit() and len(port) < 6 and 0 < int(port) < 65536


def torchrun_command(args, argv: list[str], out: str | None) -> list[str]:
    """The torchrun command line for these `specc train` arguments."""
    nodes = args.nnodes or 1
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={args.nproc}"]
    if nodes == 1 and not args.rdzv_endpoint:
        cmd.append("--standalone")
    else:
        cmd += [f"--nnodes={nodes}", "--rdzv-backend=c10d",
                f"--rdzv-endpoint={args.rdzv_endpoint}",
                f"--rdzv-id={args.rdzv_id or 'specc'}"]
        # --node-rank is checked but not passed on: c10d orders the nodes itself (torchrun
        # would only warn that it ignores it)
    if args.max_restarts is not None:
        cmd.append(f"--max-restarts={args.max_restarts}")
    worker = strip_flags(argv, LAUNCH_FLAGS)
    if out and not args.resume:
        worker += ["--out", out]
    return cmd + ["-m", "specc"] + worker


def worker_env(args) -> dict[str, str]:
    """The workers' environment. torchrun sets OMP_NUM_THREADS=1 (with a banner) when it is
    unset, which would pin every worker to one thread however many cores are free; name the
    share each worker gets here instead (the workers record it, so a resume keeps it)."""
    env = dict(os.environ)
    if "OMP_NUM_THREADS" not in env:
        from . import threads
        accelerator = False
        if args.device != "cpu":
            import torch
            accelerator = torch.cuda.is_available()
        env["OMP_NUM_THREADS"] = str(threads.plan(args.nproc, accelerator,
                                                  threads=args.threads).threads)
    return env


def run_torchrun(cmd: list[str], env: dict[str, str] | None = None) -> int:
    """Run torchrun and wait. Ctrl-C reaches torchrun (same process group), which passes it
    on to the workers; this process only waits, so it must not die first and orphan them.
    A SIGTERM sent to this process alone (a scheduler, `timeout`) is passed on to torchrun."""
    proc = None

    def forward(signum, _frame):
        if proc is not None and proc.poll() is None:
            proc.send_signal(signum)
    old = {s: signal.signal(s, h) for s, h in ((signal.SIGINT, lambda *_: None),
                                               (signal.SIGTERM, forward))}
    try:
        proc = subprocess.Popen(cmd, env=env)
        return proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def strip_flags(argv: list[str], flags: tuple[str, ...]) -> list[str]:
    """argv without the given flags (as `--flag VALUE` or `--flag=VALUE`)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in flags:
            skip = True
            continue
        if any(a.startswith(f + "=") for f in flags):
            continue
        out.append(a)
    return out


def init_group(backend: str) -> None:
    """`init_process_group` for a worker started by torchrun. Under torchrun's c10d rendezvous
    the agent's store outlives a failed attempt, and the failed attempt's keys in it would send
    gloo to the dead rank 0's address; so each attempt keeps to its own key prefix."""
    import torch.distributed as dist
    env = os.environ
    if env.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        dist.init_process_group(backend)
        return
    from datetime import timedelta
    store = dist.TCPStore(env["MASTER_ADDR"], int(env["MASTER_PORT"]), is_master=False,
                          timeout=timedelta(minutes=10))
    attempt = env.get("TORCHELASTIC_RESTART_COUNT", "0")
    dist.init_process_group(backend, store=dist.PrefixStore(f"specc/attempt_{attempt}", store),
                            rank=int(env["RANK"]), world_size=int(env["WORLD_SIZE"]))


def elastic_restart() -> bool:
    """True in a worker that torchrun restarted after a failure (it then resumes)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0) > 0

"""`specc train FILE[:NET]`: the network's recipe, overridden by flags."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from ..network import split_target
from .common import (DEFAULT_MAX_ACTIVATIONS, DEFAULT_MAX_PARAMS, add_set, batch_size, count,
                     load_target, overrides, positive_float, positive_int, seed)
from .main import UsageError

FLAGS = {"data": str, "epochs": int, "batch_size": int, "lr": float, "optimizer": str,
         "seed": int, "device": str, "workers": int}


EXAMPLES = """\
examples:
  specc train specs/lenet5.net                          the recipe in the spec (digits)
  specc train specs/lenet5.net --epochs 3 --out runs/quick
  specc train specs/cifar_resnet.net:resnet20 --data cifar10:~/data/cifar-10-batches-bin
  specc train --resume runs/lenet5 --epochs 20          continue a run, bit-exactly
  specc train specs/resnet.net:resnet50 --data imagefolder:~/imagenet --nproc 2

A run folder holds checkpoint.safetensors, metrics.csv, curves.png, config.json and spec/ (the
spec it trains, which --resume uses; a differing FILE needs --allow-spec-change).
"""


def add_arguments(p) -> None:
    p.add_argument("target", nargs="?", metavar="FILE[:NET]",
                   help="the spec (optional with --resume)")
    p.add_argument("--data", help="data set: digits, tc, logic[:fn], synthetic, mnist:PATH, "
                   "cifar10:PATH, imagefolder:PATH (default: the recipe's)")
    p.add_argument("--epochs", type=positive_int, help="epochs (default: the recipe's)")
    p.add_argument("--batch-size", type=batch_size, help="global batch size")
    p.add_argument("--lr", type=positive_float, help="learning rate")
    p.add_argument("--optimizer", help="sgd, adam, adamw or rmsprop")
    p.add_argument("--device", help="auto (default), cpu or cuda")
    p.add_argument("--amp", action="store_true", help="mixed precision (bf16 autocast)")
    p.add_argument("--compile", action="store_true", help="torch.compile the module")
    p.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    p.add_argument("--seed", type=seed, help="seed of weights, data order and augmentation")
    p.add_argument("--out", help="run folder (default runs/NETWORK)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run to --epochs (it trains "
                   "the spec copy stored in the run)")
    p.add_argument("--allow-spec-change", action="store_true",
                   help="with --resume FILE: train FILE although it differs from the run's spec")
    p.add_argument("--nproc", type=positive_int, default=1,
                   help="processes (DistributedDataParallel)")
    p.add_argument("--workers", type=count, help="threads for decoding image files (imagefolder)")
    p.add_argument("--json", action="store_true", help="last line of stdout: a JSON summary")
    p.add_argument("--max-params", type=positive_int, default=DEFAULT_MAX_PARAMS,
                   help=argparse.SUPPRESS)
    p.add_argument("--max-activations", type=positive_int, default=DEFAULT_MAX_ACTIVATIONS,
                   help=argparse.SUPPRESS)
    add_set(p)


def _flags(args) -> dict:
    flags = {k: getattr(args, k) for k in FLAGS if getattr(args, k) is not None}
    for k in ("amp", "compile", "channels_last"):
        if getattr(args, k):
            flags[k] = True
    if overrides(args):
        flags["overrides"] = overrides(args)
    return flags


def run(args) -> int:
    if args.nproc > 1 and "RANK" not in os.environ:
        return _launch(args)
    from ..train.config import TrainConfig, resolve
    from ..train.runs import check_trainable, open_resume, plan_run_dir
    lock, changed = None, False
    if args.resume:
        run_dir = Path(args.resume)
        net, saved, lock, changed = open_resume(run_dir, args.target, args.allow_spec_change,
                                                _limits(args), _main_rank())
        for k in ("epochs", "device", "workers"):
            if getattr(args, k) is not None:
                saved[k] = getattr(args, k)
        cfg = TrainConfig(**saved)
    else:
        if not args.target:
            raise UsageError("needs a spec (FILE[:NET]) or --resume RUN_DIR")
        if args.allow_spec_change:
            raise UsageError("--allow-spec-change goes with --resume")
        spec_path = split_target(args.target)[0]
        net = load_target(args)
        cfg = resolve(str(spec_path), net.name, net.recipe, _flags(args))
        run_dir = plan_run_dir(args.out, net.name)
    try:
        check_trainable(net)
        return _train(net, cfg, run_dir, bool(args.resume), args.json, changed)
    finally:
        if lock is not None:
            lock.release()


def _limits(args) -> dict:
    return {"max_params": args.max_params, "max_activations": args.max_activations}


def _main_rank() -> bool:
    return int(os.environ.get("RANK", "0") or 0) == 0


def _train(net, cfg, run_dir: Path, resume: bool, as_json: bool, spec_changed: bool) -> int:
    import torch.distributed as dist

    from ..train.loop import Trainer
    from ..train.runs import create_run_dir, write_config
    distributed = "RANK" in os.environ
    lock = None
    if distributed:
        import torch
        backend = "nccl" if cfg.device != "cpu" and torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    try:
        trainer = Trainer(net, cfg, run_dir)  # checks data and network before anything is written
        if trainer.dist.main and (not resume or spec_changed):
            lock = None if resume else create_run_dir(run_dir)  # locked, new or empty
            write_config(run_dir, cfg.to_dict(), net.graph.meta["sources"])
        if distributed:
            dist.barrier()
        if as_json:
            Trainer.report_stream = sys.stderr
        if trainer.dist.main:
            print(f"training {net.name} on {trainer.data.name} ({len(trainer.data.train_y)} train, "
                  f"{len(trainer.data.test_y)} test) for {cfg.epochs} epochs on "
                  f"{trainer.device.type}" + (f" x{trainer.dist.world}" if distributed else "")
                  + f"; run folder {run_dir}", file=sys.stderr if as_json else sys.stdout)
        try:
            result = trainer.fit(resume=resume)
        except KeyboardInterrupt:
            if trainer.dist.main:
                print(f"interrupted; the checkpoint is saved. Continue with: specc train "
                      f"--resume {run_dir}", file=sys.stderr)
            return 130
        if trainer.dist.main:
            acc = result["test_accuracy"]
            done = f"done: test accuracy {acc:.4f}" if acc is not None else \
                "done: nothing to train (the run has reached --epochs already)"
            print(f"{done} after {result['epochs']} epochs in "
                  f"{result['seconds']:.1f} s; checkpoint {result['checkpoint']}",
                  file=sys.stderr if as_json else sys.stdout)
            if as_json:
                print(json.dumps(result))
        return 0
    finally:
        if lock is not None:
            lock.release()
        if distributed and dist.is_initialized():
            dist.destroy_process_group()


def _launch(args) -> int:
    """Start K processes through PyTorch's own launcher (torchrun)."""
    from ..train.runs import check_trainable, plan_run_dir
    if not args.target and not args.resume:
        raise UsageError("needs a spec (FILE[:NET]) or --resume RUN_DIR")
    argv = list(sys.argv[1:])
    out = args.resume or args.out
    if not args.resume:
        net = load_target(args)
        check_trainable(net)
        out = str(plan_run_dir(args.out, net.name))
    argv = _strip(argv, "--nproc")
    argv = _strip(argv, "--out")
    argv += ["--out", out] if not args.resume else []
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={args.nproc}", "-m", "specc"] + argv
    return subprocess.call(cmd)


def _strip(argv: list[str], flag: str) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == flag:
            skip = True
            continue
        if a.startswith(flag + "="):
            continue
        out.append(a)
    return out

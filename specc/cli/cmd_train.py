"""`specc train FILE[:NET]`: the network's recipe, overridden by flags."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from ..core.diagnostics import SpeccError
from ..compile.pipeline import split_target
from ..recipes.registry import OPTIMIZERS
from ..train.watch import MONITORS
from .common import (MAX_ACTIVATIONS, MAX_PARAMS, add_set, bounded, count, load_target,
                     overrides, positive_float, positive_int, processes)
from .main import UsageError

FLAGS = {"data": str, "epochs": int, "batch_size": int, "lr": float, "optimizer": str,
         "seed": int, "device": str, "workers": int, "threads": int, "steps": int,
         "eval_every": int, "eval_steps": int, "save_every": int, "monitor": str,
         "early_stop": int, "min_delta": float, "tensorboard": bool}
# what --resume may change; everything else comes from the run's config.json
RESUME_FLAGS = ("epochs", "steps", "device", "workers", "threads", "eval_every", "eval_steps",
                "save_every", "early_stop", "min_delta", "tensorboard")


EXAMPLES = """\
examples:
  specc train specs/lenet5.net                          the recipe in the spec (digits)
  specc train specs/lenet5.net --epochs 3 --out runs/quick
  specc train specs/cifar_resnet.net:resnet20 --data cifar10:~/data/cifar-10-batches-bin
  specc train --resume runs/lenet5 --epochs 20          continue a run, bit-exactly
  specc train specs/lenet5.net --tensorboard --early-stop 3   then: tensorboard --logdir runs
  specc train specs/resnet.net:resnet50 --data imagefolder:~/imagenet --steps 200
  specc train specs/resnet.net:resnet50 --data imagefolder:~/imagenet --nproc 8
  specc train ... --nnodes 2 --node-rank 0 --rdzv-endpoint node0:29400 --out /shared/run

A run folder holds checkpoint.safetensors (the last state, which --resume continues),
best.safetensors (the weights of the best evaluation on --monitor; `specc export --checkpoint
best`), metrics.csv, curves.png (losses, accuracies, learning rate), config.json, spec/ (the
spec it trains; a differing FILE needs --allow-spec-change) and, with --tensorboard,
tensorboard/ (event files; TensorBoard drops what an interrupted process logged past the
checkpoint a resumed run continues from).
"""


def add_arguments(p) -> None:
    p.add_argument("target", nargs="?", metavar="FILE[:NET]",
                   help="the spec (optional with --resume)")
    p.add_argument("--data", help="data set: digits, tc, logic[:fn], synthetic, shapes[:COUNT] "
                   "(segmentation), text[:PATH] (characters; the bundled sonnets), mnist:PATH, "
                   "cifar10:PATH, imagefolder:PATH, webdataset:PATH_OR_URL_PATTERN; the "
                   "demonstrations' procedural sets associative[:PAIRS], maze, "
                   "retina:shapes|parity, fukushima, thumos_synth[:CHUNKS] "
                   "(default: the recipe's; with --resume, only the run's own)")
    p.add_argument("--allow-pipe", action="store_true",
                   help="let a `pipe:` source given with --data run its shell command "
                   "(never from a spec or a run folder)")
    p.add_argument("--epochs", type=bounded("epochs"), help="epochs (default: the recipe's)")
    p.add_argument("--steps", type=bounded("steps"),
                   metavar="N", help="stop after N optimizer steps in all (the run "
                   "folder ends with a resumable checkpoint)")
    p.add_argument("--batch-size", type=bounded("batch_size"),
                   help="global batch size (at most 65536)")
    p.add_argument("--lr", type=positive_float, help="learning rate")
    names = list(OPTIMIZERS)
    p.add_argument("--optimizer", help=f"{', '.join(names[:-1])} or {names[-1]}")
    p.add_argument("--device", help="auto (default), cpu or cuda")
    p.add_argument("--amp", action="store_true", help="mixed precision (bf16 autocast)")
    p.add_argument("--compile", action="store_true", help="torch.compile the module")
    p.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    p.add_argument("--seed", type=bounded("seed"),
                   help="seed of weights, data order and augmentation")
    p.add_argument("--out", help="run folder (default runs/NETWORK)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run (to a larger --epochs "
                   "or --steps if given; it trains the spec copy stored in the run)")
    p.add_argument("--init", metavar="WEIGHTS", help="start from these weights (a safetensors "
                   "file, a checkpoint or a run folder; `specc import` writes one): every "
                   "tensor of the network, with its shape, strictly")
    p.add_argument("--init-skip", action="append", default=[], metavar="PATTERN",
                   help="with --init: leave the tensors matching this glob (e.g. 'fc.*') to "
                   "the spec's initialiser, as when fine-tuning a 1000-class network on 10 "
                   "classes (repeatable)")
    p.add_argument("--allow-spec-change", action="store_true",
                   help="with --resume FILE: train FILE although it differs from the run's spec")
    p.add_argument("--eval-every", type=bounded("eval_every"), metavar="N",
                   help="also evaluate every N steps "
                   "(default: at the end of each epoch)")
    p.add_argument("--eval-steps", type=bounded("eval_steps"), metavar="N",
                   help="at most N test batches per "
                   "evaluation (default: the whole test set)")
    p.add_argument("--save-every", type=bounded("save_every"), metavar="N",
                   help="also checkpoint every N steps")
    p.add_argument("--tensorboard", action="store_true", default=None,
                   help="also write TensorBoard event files to RUN/tensorboard/ (each "
                   "evaluation's losses, accuracies and learning rate at its step)")
    p.add_argument("--monitor", choices=tuple(MONITORS), help="the test metric that picks "
                   "best.safetensors and drives --early-stop: test_accuracy (higher is "
                   "better; the default) or test_loss (lower is better)")
    p.add_argument("--early-stop", type=bounded("early_stop"), metavar="PATIENCE",
                   help="stop when --monitor has not improved in PATIENCE evaluations in a "
                   "row (the run ends resumable; a larger PATIENCE continues it)")
    p.add_argument("--min-delta", type=non_negative_float, metavar="D",
                   help="with --early-stop: an improvement of D or less does not count "
                   "(default 0)")
    p.add_argument("--threads", type=bounded("threads"), metavar="N",
                   help="intra-op threads, at most 1024 (default: from the CPUs "
                   "available and the load)")
    p.add_argument("--workers", type=bounded("workers"), metavar="N",
                   help="DataLoader worker processes for image files, at most 64 "
                   "(default: from the CPUs available)")
    p.add_argument("--allow-fewer-classes", action="store_true",
                   help="train a classifier on a data set with fewer classes than outputs")
    p.add_argument("--nproc", type=processes, default=1, metavar="N",
                   help="processes on this node, at most 256 "
                   "(DistributedDataParallel)")
    p.add_argument("--nnodes", type=positive_int, metavar="N",
                   help="machines in all (torchrun c10d rendezvous)")
    p.add_argument("--node-rank", type=count, metavar="R",
                   help="this machine's rank, 0..nnodes-1 (checked; c10d orders the nodes "
                   "itself)")
    p.add_argument("--rdzv-endpoint", metavar="HOST:PORT", help="rendezvous address, the same "
                   "on every node")
    p.add_argument("--rdzv-id", help=argparse.SUPPRESS)
    p.add_argument("--max-restarts", type=count, metavar="K",
                   help="restart the group up to K times after "
                   "a worker fails (it resumes from the last checkpoint)")
    p.add_argument("--json", action="store_true", help="last line of stdout: a JSON summary")
    p.add_argument("--max-params", type=positive_int, default=MAX_PARAMS,
                   help=argparse.SUPPRESS)
    p.add_argument("--max-activations", type=positive_int, default=MAX_ACTIVATIONS,
                   help=argparse.SUPPRESS)
    add_set(p)


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of 0 or more, got {text}")
    return value


def _flags(args) -> dict:
    flags = {k: getattr(args, k) for k in FLAGS if getattr(args, k) is not None}
    for k in ("amp", "compile", "channels_last", "allow_fewer_classes"):
        if getattr(args, k):
            flags[k] = True
    if overrides(args):
        flags["overrides"] = overrides(args)
    return flags


def run(args) -> int:
    from ..train import launch
    launch.check(args)
    if launch.wants_launcher(args):
        return _launch(args)
    from ..train.config import TrainConfig, batch_lr_note, resolve
    from ..train.runs import CHECKPOINT, check_trainable, open_resume, plan_run_dir
    lock, spec_changed, init = None, False, None
    resume = bool(args.resume)
    restarted = launch.elastic_restart() and args.out and \
        os.path.lexists(Path(args.out) / CHECKPOINT)
    if not resume and restarted:
        args.resume, resume = args.out, True  # torchrun restarted us: continue the run
    trust = _source_trust(args)
    if resume:
        run_dir = Path(args.resume)
        net, saved, lock, spec_changed = open_resume(run_dir, args.target, args.allow_spec_change,
                                                     _limits(args), _main_rank(), args.data)
        try:
            changed = _resume_changes(args, saved, run_dir)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        if args.init:
            raise UsageError("--init starts a new run; a resumed run continues from its "
                             "checkpoint")
        if "epochs" in changed and "steps" not in changed:
            saved["steps"] = None  # a longer run in epochs lifts an earlier step limit
        saved.update(changed)
        cfg = TrainConfig(**saved)
    else:
        if not args.target:
            raise UsageError("needs a spec (FILE[:NET]) or --resume RUN_DIR")
        if args.min_delta is not None and not args.early_stop:
            raise UsageError("--min-delta goes with --early-stop (it sets what counts as an "
                             "improvement)")
        if args.allow_spec_change:
            raise UsageError("--allow-spec-change goes with --resume")
        if args.init_skip and not args.init:
            raise UsageError("--init-skip goes with --init")
        spec_path = split_target(args.target)[0]
        net = load_target(args)
        flags = _flags(args)
        cfg = resolve(str(spec_path), net.name, net.recipe, dict(flags))
        if args.init:  # checked before the run folder is written
            from ..train.init import load_init
            init = load_init(net, args.init, args.init_skip)
            cfg.init = init.record()
        note = batch_lr_note(net.recipe, cfg, flags)
        if note and _main_rank():
            print(note, file=sys.stderr)
        run_dir = plan_run_dir(args.out, net.name)
    try:
        check_trainable(net)
        return _train(net, cfg, run_dir, resume, args.json, spec_changed, trust, init)
    finally:
        if lock is not None:
            lock.release()


def _source_trust(args):
    """What the data source may name: one typed with --data may be an http(s) URL, and a
    `pipe:` command with --allow-pipe; the recipe's or a run's (files) only local paths."""
    from ..recipes.sources import FILE, Trust, source_problem
    if args.allow_pipe and not args.data:
        raise UsageError("--allow-pipe goes with --data (it lets the `pipe:` command given "
                         "there run)")
    if not args.data:
        return FILE
    trust = Trust(command_line=True, allow_pipe=args.allow_pipe)
    problem = source_problem(args.data, trust)
    if problem:
        raise UsageError(f"--data {args.data[:200]!r}: {problem}")
    return trust


def _resume_changes(args, saved: dict, run_dir: Path) -> dict:
    """The flags a resumed run takes (RESUME_FLAGS), checked."""
    from ..train.config import check_counts
    if args.data is not None and args.data != saved["data"]:
        raise UsageError(f"--data: run {run_dir} trains on {saved['data'][:200]!r}; a resumed "
                         "run keeps its data (give --data only to repeat that source from the "
                         "command line, as a `pipe:` or URL source needs)")
    kept = saved.get("monitor", "test_accuracy")
    if args.monitor and args.monitor != kept:
        raise UsageError(f"--monitor: run {run_dir} picks its best by {kept}; a resumed run "
                         "keeps it")
    if args.min_delta is not None and not (args.early_stop or saved.get("early_stop")):
        raise UsageError("--min-delta goes with --early-stop (it sets what counts as an "
                         "improvement)")
    changed = {k: getattr(args, k) for k in RESUME_FLAGS if getattr(args, k) is not None}
    check_counts(changed)
    return changed


def _limits(args) -> dict:
    return {"max_params": args.max_params, "max_activations": args.max_activations}


def _main_rank() -> bool:
    return int(os.environ.get("RANK", "0") or 0) == 0


def _train(net, cfg, run_dir: Path, resume: bool, as_json: bool, spec_changed: bool,
           trust, init=None) -> int:
    if "RANK" in os.environ:
        import torch
        from ..train.launch import init_group
        init_group("nccl" if cfg.device != "cpu" and torch.cuda.is_available() else "gloo")
        try:
            code = _train_in_group(net, cfg, run_dir, resume, as_json, spec_changed, trust, init)
        except SpeccError as e:  # every rank meets it: one copy of the message is enough
            if os.environ.get("RANK") == "0":
                print(e.render(), file=sys.stderr)
            code = 1
        # Past this point the interpreter's teardown can abort inside the collective
        # library's threads ("terminate called without an active exception"), which torchrun
        # reports as a failed worker: leave at once, the group torn down and output flushed.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return _train_in_group(net, cfg, run_dir, resume, as_json, spec_changed, trust, init)


def _train_in_group(net, cfg, run_dir: Path, resume: bool, as_json: bool,
                    spec_changed: bool, trust, init=None) -> int:
    import torch.distributed as dist

    from ..train.adversarial import AdversarialTrainer
    from ..train.loop import Trainer
    from ..train.runs import create_run_dir, update_config, write_config
    from ..train.signals import Interrupted
    distributed = dist.is_available() and dist.is_initialized()
    out = sys.stderr if as_json else sys.stdout
    lock = None
    try:
        # checks data and network before anything is written
        kind = AdversarialTrainer if cfg.adversary else Trainer
        trainer = kind(net, cfg, run_dir, trust=trust, init=init)
        main = trainer.dist.main
        progress = None
        if resume:
            progress = trainer.restore()
            if trainer.finished(progress):
                if main:
                    _already_finished(run_dir, cfg, progress, as_json)
                return 0
            if main and not spec_changed:
                update_config(run_dir, cfg.to_dict())  # the new --epochs, --steps, ...
        if main and (not resume or spec_changed):
            lock = None if resume else create_run_dir(run_dir)  # locked, new or empty
            write_config(run_dir, cfg.to_dict(), net.graph.meta["sources"])
        if distributed:
            dist.barrier()
        if as_json:
            trainer.report_stream = sys.stderr
        if main:
            _announce(trainer, net, cfg, run_dir, distributed, out, progress)
        try:
            result = trainer.fit(resume=resume, progress=progress)
        except Interrupted as e:
            if main:
                print(f"stopped by {e} between two steps; the checkpoint is saved. Continue "
                      f"with: specc train --resume {run_dir}", file=sys.stderr)
            return e.exit_code
        except KeyboardInterrupt:
            if main:
                print(f"interrupted during a step; the last checkpoint in {run_dir} stands. "
                      f"Continue with: specc train --resume {run_dir}", file=sys.stderr)
            return 130
        except RuntimeError as e:
            if not (distributed and _peer_lost(e)):
                raise
            print(f"rank {trainer.dist.rank}: lost a peer process ({str(e).splitlines()[0][:160]})"
                  f"; the last checkpoint in {run_dir} stands (torchrun restarts the group if "
                  "--max-restarts allows)", file=sys.stderr)
            return 1
        if main:
            _done(trainer, result, cfg, out, as_json)
        return 0
    finally:
        if lock is not None:
            lock.release()
        if distributed and dist.is_initialized():
            _leave_group(dist)


def _peer_lost(e: RuntimeError) -> bool:
    import torch.distributed as dist
    text = str(e)
    return isinstance(e, getattr(dist, "DistBackendError", ())) or any(
        w in text for w in ("Connection reset", "Connection closed", "Broken pipe", "NCCL error"))


def _leave_group(dist) -> None:
    """Wait for every rank before tearing the group down: a rank that exits while another
    still saves can abort inside gloo ("terminate called without an active exception")."""
    import sys as _sys
    if _sys.exc_info()[0] is None:
        try:
            dist.barrier()
        except RuntimeError:  # a peer is gone already
            pass
    dist.destroy_process_group()


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _announce(trainer, net, cfg, run_dir, distributed, out, progress) -> None:
    data = trainer.data
    limit = _count(cfg.epochs, "epoch") + (f" or {_count(cfg.steps, 'step')}" if cfg.steps else "")
    if progress is not None:
        limit += f", resuming at epoch {progress.epoch + 1} step {progress.step}"
    print(f"training {net.name} on {data.name} ({data.train_size} train, {data.test_size} test)"
          + (f" against {trainer.against}" if cfg.adversary else "")
          + f" for {limit} on {trainer.device.type}"
          + (f" x{trainer.dist.world}" if distributed else "") + f"; run folder {run_dir}",
          file=out)
    if trainer.adaptations:
        print(f"adapted {data.name} to {net.name}: " + "; ".join(trainer.adaptations), file=out)
    print(f"threads: {trainer.plan.describe()}", file=out, flush=True)
    if cfg.init and progress is None:
        from ..train.init import describe
        print(describe(cfg.init), file=out, flush=True)
    if progress is not None:
        from ..train import threads
        now = threads.plan(trainer.dist.local_world, trainer.device.type != "cpu").threads
        if now < trainer.plan.threads:
            print(f"note: resuming with the run's {trainer.plan.threads} threads, so that it goes on "
                  f"bit for bit; the machine is busier now (--threads {now} would suit it, at "
                  "the cost of last-bit differences)", file=sys.stderr)


def _done(trainer, result, cfg, out, as_json) -> None:
    acc = result["test_accuracy"]
    acc_text = f"{acc:.4f}" if acc is not None else "not measured"
    span = (_count(result["steps"], "step") if cfg.steps and result["steps"] >= cfg.steps
            else _count(result["epochs"], "epoch"))
    if result["stopped_early"]:
        from ..train.watch import why_stopped
        print(why_stopped(trainer.progress, cfg), file=out)
    score = (trainer.score_name() or "test accuracy").replace("_", " ")
    print(f"done: {score} {acc_text} after {span} in {result['seconds']:.1f} s; "
          f"checkpoint {result['checkpoint']}" + _best_text(result["best"], trainer.score_name()),
          file=out)
    if as_json:
        print(json.dumps(result))


def _best_text(best: dict | None, score_name: str | None = None) -> str:
    if best is None:
        return ""
    name = score_name if score_name and best["metric"] == "test_accuracy" else best["metric"]
    return (f"; best {name.replace('_', ' ')} {best['value']:.4f} at step "
            f"{best['step']}: {best['checkpoint']}")


def _already_finished(run_dir, cfg, progress, as_json) -> None:
    from ..train import watch
    acc = progress.test_accuracy
    early = watch.stopped_early(progress, cfg) and not watch.reached_limit(progress, cfg)
    by_steps = bool(cfg.steps and progress.global_step >= cfg.steps)
    what = _count(progress.global_step, "step") if by_steps else _count(progress.epoch, "epoch")
    if early:
        text = (f"{run_dir} has used up its patience: {watch.patience_text(progress, cfg)}; "
                "nothing to do. To go on, pass a larger --early-stop PATIENCE.")
    else:
        text = (f"{run_dir} is already finished ({what}"
                + (f", test accuracy {acc:.4f}" if acc is not None else "") + "); nothing to do. "
                f"To train further, pass a larger {'--steps' if by_steps else '--epochs'}"
                + (" and a larger --early-stop (its patience is used up too)."
                   if watch.stopped_early(progress, cfg) else "."))
    print(text, file=sys.stderr if as_json else sys.stdout)
    if as_json:
        print(json.dumps({"test_accuracy": acc, "epochs": progress.epoch,
                          "steps": progress.global_step, "seconds": 0.0,
                          "run_dir": str(run_dir), "checkpoint": str(Path(run_dir) /
                                                                     "checkpoint.safetensors"),
                          "best": watch.best_record(progress, cfg, Path(run_dir)),
                          "stopped_early": early, "already_finished": True}))


def _launch(args) -> int:
    """Start the processes through PyTorch's own launcher (torchrun)."""
    from ..train import launch
    from ..train.runs import plan_run_dir
    if not args.target and not args.resume:
        raise UsageError("needs a spec (FILE[:NET]) or --resume RUN_DIR")
    from ..train.runs import check_trainable
    out = args.resume or args.out
    if not args.resume:  # refuse what cannot train before any process starts
        net = load_target(args)
        check_trainable(net)
        out = out or str(plan_run_dir(None, net.name))
    return launch.run_torchrun(launch.torchrun_command(args, list(sys.argv[1:]), out),
                               launch.worker_env(args))

"""`specc predict --ray [ADDRESS]`: the items through Ray Data.

`map_batches` with a pool of actors, each holding one onnxruntime session (and the decoder of
the source), `num_gpus` per actor from --gpus-per-worker; the order of items is preserved, so
the rows and their checkpoints are the same as on one machine. The model travels to the
actors as bytes through Ray's object store (a remote node need not see this machine's files;
the source's files it must). An address that cannot be reached is refused within seconds,
before Ray is asked to connect (which otherwise waits for a long time).
"""
from __future__ import annotations

import socket

import numpy as np

from ..core.diagnostics import SpeccError

CONNECT_TIMEOUT = 3.0


def ray_batches(job, items, dims, spec, meta, first: int):
    ray = _ray()
    _connect(ray, job.ray)
    import ray.data
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    with open(job.model, "rb") as f:
        model = ray.put(f.read())
    # the item numbers as blocks in the object store: no read tasks, which would wait for
    # CPUs the actors hold
    ids = np.arange(first, len(items), dtype=np.int64)
    ds = ray.data.from_numpy(np.array_split(ids, _blocks(len(ids), job.batch)) or [ids])
    ds = ds.map_batches(Predictor, batch_size=job.batch, batch_format="numpy",
                        fn_constructor_kwargs={"model": model, "items": items, "dims": dims,
                                               "spec": spec, "meta": meta,
                                               "provider": job.provider,
                                               "threads": job.threads or 0},
                        compute=ray.data.ActorPoolStrategy(size=job.ray_workers),
                        num_gpus=job.gpus_per_worker or None,
                        num_cpus=1)
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=2):
        ok = batch["ok"].astype(bool)
        idx = [int(i) for i in batch["item"][ok]]
        failed = [(int(i), str(w)) for i, w in zip(batch["item"][~ok], batch["why"][~ok])]
        yield idx, np.stack(batch["out"][ok]) if ok.any() else np.zeros((0, 1), np.float32), \
            failed


def _blocks(n: int, batch: int) -> int:
    return max(1, min(200, -(-n // (batch * 4))))


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise SpeccError("--ray needs Ray Data", notes=("pip install 'specc[deploy]' (or "
                                                        "'ray[data]')",)) from None
    return ray


def _connect(ray, address: str) -> None:
    """A local instance for "local"; Ray's own lookup for "auto"; else HOST:PORT (or
    ray://HOST:PORT), checked with a plain TCP connection first."""
    import logging
    import warnings
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"ray\..*")
    if ray.is_initialized():
        return
    kwargs = {"include_dashboard": False, "log_to_driver": False,
              "configure_logging": True, "logging_level": "ERROR"}
    if address == "local":
        ray.init(**kwargs)
        return
    if address != "auto":
        reachable(address)
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise SpeccError(f"--ray {address}: cannot connect to a Ray cluster: "
                         f"{str(e).splitlines()[0][:300]}",
                         notes=("--ray local starts one on this machine",)) from None


def reachable(address: str) -> None:
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise SpeccError(f"--ray {address}: expected HOST:PORT (or ray://HOST:PORT, auto, "
                         "local)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT):
            pass
    except OSError as e:
        raise SpeccError(f"--ray {address}: no Ray cluster answers there "
                         f"({e.strerror or type(e).__name__})",
                         notes=("start one with `ray start --head`, or use --ray local",)) \
            from None


class Predictor:
    """One Ray actor: one onnxruntime session, the source's decoder."""

    def __init__(self, model, items, dims, spec, meta, provider, threads=0):
        import ray

        from ..backends.ort import open_session
        from .sources import Decoded
        data = model if isinstance(model, bytes) else ray.get(model)
        self.session = open_session(data, provider, threads=threads)[0]
        self.name = self.session.get_inputs()[0].name
        self.decoded = Decoded(items, dims, spec, meta)

    def __call__(self, batch: dict) -> dict:
        ids = batch["data"].astype(np.int64)
        got = [self.decoded[int(i)] for i in ids]
        ok = np.array([x is not None for _, x, _ in got])
        outs = None
        if ok.any():
            x = np.stack([x for _, x, _ in got if x is not None]).astype(np.float32)
            outs = self.session.run(None, {self.name: x})[0].reshape(int(ok.sum()), -1)
        width = outs.shape[1] if outs is not None else 1
        full = np.zeros((len(ids), width), np.float32)
        if outs is not None:
            full[ok] = outs
        return {"item": ids, "ok": ok, "why": np.array([w for _, _, w in got], dtype=object),
                "out": full}

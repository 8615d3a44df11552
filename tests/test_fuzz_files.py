"""The readers of files from a stranger, fuzzed (issue 16): IDX, CIFAR batches, tar shards,
image files, the spec an ONNX model carries, a run's config.json and its checkpoint. Each
mutated or invented file gives data or the compiler's own error, never another exception,
never an allocation beyond what the file can back, and never a wait (each case runs under
an alarm: a reader that blocked would fail the case, not hang the suite).

CI runs SPECC_FUZZ_EXAMPLES (150) cases each; `pytest --fuzz-long -m fuzz_long` 10,000."""
import copy
import gzip
import io
import json
import os
import struct
import tarfile

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import specc
from specc.core.diagnostics import SpeccError

from hostile import no_hang

EXAMPLES = int(os.environ.get("SPECC_FUZZ_EXAMPLES", "150"))
TINY = "specc 1\nnetwork tiny {\n input x: f32[N, 4]\n output y = linear(x, 3)\n}\n"


def _settings(n):
    return settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


def _mutate(data: bytes, edits) -> bytes:
    out = bytearray(data)
    for kind, pos, value in edits:
        pos = min(pos, len(out))
        if kind == "flip" and pos < len(out):
            out[pos] ^= value[0] or 1
        elif kind == "cut":
            del out[pos:]
        elif kind == "insert":
            out[pos:pos + 0] = value
        elif pos < len(out):
            out[pos:pos + len(value)] = value[:len(out) - pos]
    return bytes(out)


def edits(limit: int):
    return st.lists(st.tuples(st.sampled_from(["flip", "cut", "insert", "set"]),
                              st.integers(0, limit), st.binary(min_size=1, max_size=8)),
                    min_size=1, max_size=4)


def _either(call, *errors):
    """The call's result, or None when it raised one of the compiler's errors."""
    try:
        with no_hang():
            return call()
    except (SpeccError, *errors) as e:
        assert str(e)
        return None


# ------------------------------------------------------------------------------ IDX
def _idx_seed() -> bytes:
    dims = [3, 5, 5]
    return bytes([0, 0, 8, 3]) + struct.pack(">3I", *dims) + bytes(range(75))


def _fuzz_idx(n):
    from specc.data.disk import read_idx

    @_settings(n)
    @given(changes=edits(100), packed=st.booleans(),
           header=st.one_of(st.none(), st.lists(st.integers(0, 2 ** 32 - 1), max_size=6)))
    def run(tmp_path, changes, packed, header):
        data = _idx_seed()
        if header is not None:  # invented dims over the same body
            data = bytes([0, 0, 8, len(header) % 256]) + struct.pack(
                f">{len(header)}I", *header) + data[16:]
        data = _mutate(data, changes)
        path = tmp_path / ("case.gz" if packed else "case")
        path.write_bytes(gzip.compress(data) if packed and changes[0][0] != "set" else data)
        arr = _either(lambda: read_idx(path))
        if arr is not None:
            room = path.stat().st_size * (1032 if packed else 1)
            assert arr.dtype == np.uint8 and arr.nbytes <= room + 1024
    return run


# -------------------------------------------------------------------------------- CIFAR
def _fuzz_cifar(n):
    from specc.data.disk import read_cifar_batch

    @_settings(n)
    @given(records=st.integers(0, 3), extra=st.integers(-5, 5), label=st.integers(0, 255))
    def run(tmp_path, records, extra, label):
        data = (bytes([label]) + bytes(3072)) * records
        data = data[:max(0, len(data) + extra)] if extra < 0 else data + bytes(extra)
        path = tmp_path / "data_batch_1.bin"
        path.write_bytes(data)
        out = _either(lambda: read_cifar_batch(path))
        if out is not None:
            assert out[1].max() < 10 and len(out[0]) == len(data) // 3073
    return run


# ----------------------------------------------------------------------------- shards
def _shard_seed() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for key, label in (("a", b"1"), ("b", b"2")):
            for ext, data in (("png", _png()), ("cls", label)):
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _png() -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3)).save(buf, format="PNG")
    return buf.getvalue()


def _fuzz_shards(n):
    from specc.data.tars import local_labels, read_samples
    seed = _shard_seed()

    @_settings(n)
    @given(changes=edits(len(seed)), size=st.one_of(st.none(), st.integers(0, 2 ** 40)))
    def run(tmp_path, changes, size):
        data = bytearray(_mutate(seed, changes))
        if size is not None and len(data) >= 512:  # a header field claiming any size
            data[124:136] = f"{size:011o}".encode()[-11:] + b"\0"
        path = tmp_path / "train-000.tar"
        path.write_bytes(bytes(data))
        for read in (lambda: list(local_labels(str(path))), lambda: list(read_samples(str(path)))):
            samples = _either(read)
            for key, image, label in samples or []:
                assert 0 <= label < 1_000_000 and (image is None or len(image) <= len(data))
    return run


# ----------------------------------------------------------------------------- images
def _fuzz_images(n):
    from specc.data.images import BadImage, read_image
    seeds = [_png()]
    from PIL import Image
    for fmt in ("JPEG", "BMP", "GIF"):
        buf = io.BytesIO()
        Image.fromarray(np.full((6, 5, 3), 90, np.uint8)).save(buf, format=fmt)
        seeds.append(buf.getvalue())

    @_settings(n)
    @given(which=st.integers(0, len(seeds) - 1), changes=edits(300))
    def run(tmp_path, which, changes):
        path = tmp_path / "case.img"
        path.write_bytes(_mutate(seeds[which], changes))
        img = _either(lambda: read_image(path), BadImage)
        if img is not None:
            assert img.size[0] * img.size[1] <= Image.MAX_IMAGE_PIXELS
    return run


# --------------------------------------------------------------------- embedded specs
NAMES = st.one_of(st.text(max_size=12), st.sampled_from(
    ["tiny.net", "a/tiny.net", "../tiny.net", "/tiny.net", "a\0.net", "x" * 300 + ".net",
     "tiny.net/b.net", "./tiny.net", "a//b.net", "con.net", "\u202etiny.net"]))
VALUES = st.one_of(st.none(), st.integers(), st.floats(), st.booleans(), st.text(max_size=8),
                   st.lists(st.text(max_size=4), max_size=2),
                   st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2))


FIELDS = ["specc.spec_files", "specc.spec", "specc.network", "specc.overrides",
          "specc.spec_sha256"]


def _fuzz_embedded(n):
    """From the model's own metadata, one to three fields replaced (a file renamed or
    added, a value of another type) or the spec's text edited."""
    @_settings(n)
    @given(changes=st.lists(st.tuples(st.sampled_from(FIELDS + ["file", "text"]), NAMES,
                                      VALUES), max_size=3))
    def run(exported, changes):
        from specc.runtime.embedded import load_embedded
        path, model, meta = exported
        meta = copy.deepcopy(meta)
        for field, name, value in changes:
            files = meta["specc.spec_files"]
            if field == "file" and isinstance(files, dict):
                files[name] = TINY if isinstance(value, str) else value
            elif field == "text" and isinstance(files, dict) and \
                    isinstance(files.get("tiny.net"), str):
                files["tiny.net"] = files["tiny.net"].replace("4", str(value)[:6], 1)
                meta["specc.spec_sha256"] = None
            elif field not in ("file", "text"):
                meta[field] = name if field in ("specc.spec", "specc.network") and \
                    isinstance(value, bool) else value
        net = _either(lambda: load_embedded(meta, model, str(path)))
        if net is not None:
            assert net.name == "tiny" and net.params == 15
    return run


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from specc.runtime.model import metadata, read_model
    root = tmp_path_factory.mktemp("onnx")
    (root / "tiny.net").write_text(TINY)
    specc.load(root / "tiny.net").to_onnx(root / "tiny.onnx", verify=False)
    model = read_model(str(root / "tiny.onnx"))
    return root / "tiny.onnx", model, metadata(model)


# ------------------------------------------------------------------------ config.json
GOOD_CONFIG = {
    "spec": "tiny.net", "network": "tiny", "data": "synthetic:64", "batch_size": 8,
    "epochs": 1, "loss": "cross_entropy", "optimizer": {"name": "sgd", "lr": 0.1},
    "schedule": {"name": "constant"}, "warmup": 0, "seed": 0, "workers": 0, "threads": 1,
    "steps": None, "eval_steps": None, "device": "cpu", "overrides": {}, "augment": [],
    "spec_copy": {"file": "tiny.net", "sha256": {"tiny.net": "0" * 64}}}
KEYS = sorted(GOOD_CONFIG) + ["eval_every", "save_every", "early_stop", "min_delta",
                              "monitor", "mean", "std", "pixel_range", "labels", "unknown"]
CONFIG_VALUES = st.one_of(VALUES, st.integers(-2, 2 ** 70), st.sampled_from(
    ["webdataset:pipe:touch PWNED", "webdataset:https://x/a.tar", "synthetic:99999999999",
     {"name": "sgd", "lr": float("nan")}, {"name": "adam", "lr": -1}, [{"name": "hflip"}],
     {"file": "../x.net", "sha256": {"../x.net": "0" * 64}}, "tpu", 100000]))


def _fuzz_config(n):
    from specc.train.config import TrainConfig
    from specc.train.run_config import check_config

    @_settings(n)
    @given(changes=st.dictionaries(st.sampled_from(KEYS), CONFIG_VALUES, max_size=4),
           drop=st.lists(st.sampled_from(sorted(GOOD_CONFIG)), max_size=2))
    def run(changes, drop):
        saved = {k: v for k, v in {**copy.deepcopy(GOOD_CONFIG), **changes}.items()
                 if k not in drop}
        saved = json.loads(json.dumps(saved))  # as the file holds it
        fields = _either(lambda: TrainConfig(**check_config(saved, "config.json")[0]))
        if fields is not None:
            assert 1 <= fields.batch_size <= 65536 and fields.threads in (None, *range(1, 1025))
            assert fields.workers in (None, *range(0, 65)) and "pipe:" not in fields.data
            assert "://" not in fields.data and fields.device in ("auto", "cpu", "cuda")
    return run


# ------------------------------------------------------------------------ checkpoints
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model, optimiser (momentum) and schedule after two steps, and their checkpoint."""
    from specc.train.checkpoint import save_checkpoint
    root = tmp_path_factory.mktemp("ckpt")
    (root / "tiny.net").write_text(TINY)
    net = specc.load(root / "tiny.net")
    parts = _training(net)
    model, opt, sched = parts
    for _ in range(2):
        model(torch.ones(2, 4)).sum().backward()
        opt.step()
        sched.step()
    save_checkpoint(root / "good.safetensors", model, opt, sched,
                    {"epoch": 1, "step": 0, "global_step": 2, "network": "tiny"})
    return root, net


def _training(net):
    from specc.train.optim import make_optimizer, make_schedule
    model = net.to_torch(seed=0)
    opt = make_optimizer({"name": "sgd", "lr": 0.1, "momentum": 0.9}, model.parameters())
    sched = make_schedule({"name": "multistep", "milestones": [3], "gamma": 0.1}, opt, 5, 0)
    return model, opt, sched


TENSOR_EDITS = st.sampled_from(["drop", "shape", "dtype", "rename", "scalar", "add"])
META_KEYS = st.sampled_from(["info", "optim_groups", "optim_scalars", "scheduler", "format"])


def _fuzz_checkpoints(n):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file
    from specc.train.checkpoint import restore_training

    @_settings(n)
    @given(tensor_edits=st.lists(st.tuples(TENSOR_EDITS, st.integers(0, 20)), max_size=3),
           meta_edits=st.lists(st.tuples(META_KEYS, st.one_of(VALUES, st.just("{}"),
                                                             st.sampled_from(
                                                                 ['{"epoch": "1"}', "[]",
                                                                  '{"last_epoch": [1]}',
                                                                  '[{"lr": 1}]', "nan"]))),
                               max_size=2))
    def run(trained, tensor_edits, meta_edits):
        root, net = trained
        tensors = load_file(str(root / "good.safetensors"))
        with safe_open(str(root / "good.safetensors"), "pt") as f:
            meta = json.loads(f.metadata()["specc"])
        names = sorted(tensors)
        for kind, i in tensor_edits:
            name = names[i % len(names)]
            if name not in tensors:
                continue
            t = tensors.pop(name)
            if kind == "shape":
                tensors[name] = t.flatten()[:max(1, t.numel() - 1)].clone()
            elif kind == "dtype":
                tensors[name] = t.to(torch.float64 if t.dtype != torch.float64 else torch.int32)
            elif kind == "rename":
                tensors[name.replace("0", "9") + "x"] = t
            elif kind == "scalar":
                tensors[name] = torch.tensor(1.0)
            elif kind == "add":
                tensors[name], tensors[f"optim/{i}/momentum_buffer"] = t, t.clone()
        for key, value in meta_edits:
            meta[key] = value if isinstance(value, str) else json.dumps(value)
        path = root / "case.safetensors"
        save_file(tensors, str(path), metadata={"specc": json.dumps(meta)})
        model, opt, sched = _training(net)
        info = _either(lambda: restore_training(path, model, opt, sched))
        if info is not None:  # what was accepted trains on
            model(torch.ones(2, 4)).sum().backward()
            opt.step()
            sched.step()
            assert isinstance(info.get("epoch", 0), int)
    return run


test_idx_fuzz = _fuzz_idx(EXAMPLES)
test_idx_fuzz_long = pytest.mark.fuzz_long(_fuzz_idx(10_000))
test_cifar_fuzz = _fuzz_cifar(EXAMPLES)
test_cifar_fuzz_long = pytest.mark.fuzz_long(_fuzz_cifar(10_000))
test_shard_fuzz = _fuzz_shards(EXAMPLES)
test_shard_fuzz_long = pytest.mark.fuzz_long(_fuzz_shards(10_000))
test_image_fuzz = _fuzz_images(EXAMPLES)
test_image_fuzz_long = pytest.mark.fuzz_long(_fuzz_images(10_000))
test_embedded_spec_fuzz = _fuzz_embedded(EXAMPLES)
test_embedded_spec_fuzz_long = pytest.mark.fuzz_long(_fuzz_embedded(10_000))
test_config_fuzz = _fuzz_config(EXAMPLES)
test_config_fuzz_long = pytest.mark.fuzz_long(_fuzz_config(10_000))
test_restore_fuzz = _fuzz_checkpoints(EXAMPLES)
test_restore_fuzz_long = pytest.mark.fuzz_long(_fuzz_checkpoints(10_000))

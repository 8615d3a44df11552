"""Files and data from a stranger (issue 16): a spec, a run folder or an ONNX file never
starts a process or opens a connection; every reader goes through the one file gate
(regular files only, never waited on; claims checked against real sizes before anything
is allocated; links confined where promised; only specs quoted). Each bad case ends in
exit 1 or 2 with a clear message, never a hang or an internal error."""
import contextlib
import gzip
import io
import json
import os
import signal
import struct
import tarfile

import numpy as np
import pytest

from conftest import run_cli
from specc.cli.main import main
from imagedata import image_folder, shards
from specc.core.diagnostics import SpeccError
from specc.data.registry import InputSpec, load_dataset
from specc.recipes.sources import Trust

PIPE_SPEC = """specc 1
network tiny {
    input x: f32[N, 64]
    output y = linear(x, 10)
    train {
        data = "DATA"
        epochs = 1
    }
}
"""
WANT = InputSpec((3, 16, 16))


@contextlib.contextmanager
def no_hang(seconds: int = 20):
    """Fail instead of waiting forever (a reader that opens a FIFO would block)."""
    def fail(*_):
        raise AssertionError(f"still waiting after {seconds} s: the reader blocked")
    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def cli(capsys, monkeypatch):
    """`specc ARGS` in this process (a process start costs seconds): (code, stdout, stderr)."""
    class Result:
        def __init__(self, code, out, err):
            self.returncode, self.stdout, self.stderr = code, out, err

    def call(*args, cwd=None):
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return Result(code, out, err)
    return call


def fifo(path):
    os.mkfifo(path)
    return path


# --------------------------------------------------------------------------- sources
@pytest.mark.parametrize("data, words", [
    ("webdataset:pipe:touch PWNED; cat x.tar", "`pipe:` runs a shell command"),
    ("webdataset:a.tar::pipe:touch PWNED", "`pipe:` runs a shell command"),
    ("webdataset:{pipe:touch PWNED,a}.tar", "`pipe:` runs a shell command"),
    ("webdataset:https://example.com/train-{0..3}.tar", "not an http(s) URL"),
    ("webdataset:gs://bucket/x.tar", "'gs://' is not a source specc opens"),
    ("mnist:-", "standard input"),
])
def test_a_spec_names_local_data_only_and_check_says_where(tmp_path, cli, data, words):
    spec = tmp_path / "t.net"
    spec.write_text(PIPE_SPEC.replace("DATA", data))
    run = run_cli if "PWNED; cat" in data else cli  # one case as a user runs it
    r = run("check", spec, cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("t.net:6:9: error: recipe 'data'") and words in r.stderr, r.stderr
    r = run("train", spec, "--out", tmp_path / "run", cwd=tmp_path)
    assert r.returncode == 1 and words in r.stderr, r.stderr
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "run").exists()


def test_pipe_runs_only_from_the_command_line_behind_allow_pipe(tmp_path, cli):
    spec = tmp_path / "t.net"
    spec.write_text(PIPE_SPEC.replace("DATA", "synthetic:64"))
    command = f"webdataset:pipe:touch {tmp_path}/RAN; cat {tmp_path}/none.tar"
    r = cli("train", spec, "--data", command, "--out", tmp_path / "run")
    assert r.returncode == 2 and "add --allow-pipe" in r.stderr, r.stderr
    assert not (tmp_path / "RAN").exists()
    r = cli("train", spec, "--allow-pipe", "--out", tmp_path / "run")
    assert r.returncode == 2 and "--allow-pipe goes with --data" in r.stderr
    r = cli("train", spec, "--data", command, "--allow-pipe", "--out", tmp_path / "run")
    assert (tmp_path / "RAN").exists(), r.stderr  # the user's own command, allowed: it ran
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr


def test_the_shard_opener_refuses_what_the_origin_may_not_name(tmp_path):
    from specc.data.tars import open_shard
    for url, trust in [("pipe:true", Trust()), ("pipe:true", Trust(command_line=True)),
                       ("https://example.com/a.tar", Trust()), ("ftp://x/a.tar", Trust(True, True))]:
        with pytest.raises(SpeccError, match="webdataset: shard"):
            with open_shard(url, trust):
                pass


def test_a_shard_pattern_expands_within_a_bound_and_reads_no_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WDS_SECRET", "TOPSECRET")
    with pytest.raises(SpeccError, match="more than 100,000 shards"):
        load_dataset(f"webdataset:{tmp_path}/x-{{0..9999999999}}.tar", WANT)
    with pytest.raises(SpeccError) as e:
        load_dataset("webdataset:${SECRET}/a.tar", WANT)
    assert "TOPSECRET" not in e.value.render() and "${SECRET}" in e.value.render()


def test_http_shards_named_on_the_command_line_are_fetched_without_a_process(tmp_path,
                                                                          monkeypatch):
    import functools
    import http.server
    import subprocess
    import threading
    root = shards(tmp_path / "s", "train", 2, 4)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"webdataset:http://127.0.0.1:{server.server_port}/train-{{000..001}}.tar"
        with pytest.raises(SpeccError, match="not an http"):
            load_dataset(url, WANT)  # as a recipe would name it
        monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: pytest.fail("a process"))
        data = load_dataset(url, InputSpec((3, 16, 16), trust=Trust(command_line=True)))
        assert data.train_size + data.test_size == 8
        x, y = next(iter(data.feed(0, 0, 1, 2, 0, False).epoch(0)))
        assert tuple(x.shape) == (2, 3, 16, 16) and tuple(y.shape) == (2,)
    finally:
        server.shutdown()


# ------------------------------------------------------------------------- data files
def test_fifos_named_like_data_files_are_refused_without_waiting(tmp_path):
    cifar = tmp_path / "cifar"
    cifar.mkdir()
    fifo(cifar / "data_batch_1.bin")
    (cifar / "test_batch.bin").write_bytes(bytes(3073))
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        fifo(mnist / name)
    wds = tmp_path / "wds"
    wds.mkdir()
    fifo(wds / "train-000.tar")
    with no_hang():
        for arg, words in [(f"cifar10:{cifar}", "data_batch_1.bin is not a regular file"),
                           (f"mnist:{mnist}", "is not a regular file"),
                           (f"webdataset:{wds}", "train-000.tar is not a regular file")]:
            with pytest.raises(SpeccError, match=words):
                load_dataset(arg, WANT)


def test_a_cifar_file_that_is_a_folder(tmp_path):
    (tmp_path / "data_batch_1.bin").mkdir()
    (tmp_path / "test_batch.bin").write_bytes(bytes(3073))
    with pytest.raises(SpeccError, match="data_batch_1.bin is a folder, not a CIFAR-10 batch"):
        load_dataset(f"cifar10:{tmp_path}", WANT)


def test_cifar_labels_out_of_range(tmp_path):
    record = bytes([12]) + bytes(3072)
    (tmp_path / "data_batch_1.bin").write_bytes(record)
    (tmp_path / "test_batch.bin").write_bytes(bytes(3073))
    with pytest.raises(SpeccError, match="label 12 is out of range"):
        load_dataset(f"cifar10:{tmp_path}", WANT)


def test_an_image_folder_with_a_fifo_named_like_an_image_does_not_hang(tmp_path):
    from specc.data.folder import FolderSet, split
    from specc.data.transforms import SampleTransform, default_eval
    root = image_folder(tmp_path / "img", per_class=2, classes=2)
    fifo(root / "class0" / "0000a.jpg")
    train, test, _ = split(str(root))
    files = train if any(b"0000a" in p for p in train.paths) else test
    tf = SampleTransform(default_eval(), WANT, files=True)
    index = next(i for i, p in enumerate(files.paths) if b"0000a" in p)
    with no_hang():
        x, label, skipped = FolderSet(files, tf)[(index, 0)]
    assert x is not None and skipped and "is not a regular file" in skipped[0][1]


def _idx(dims, body: bytes, kind: int = 8) -> bytes:
    return bytes([0, 0, kind, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + body


def _mnist(folder, images: bytes, labels: bytes, packed: bool = False):
    folder.mkdir(exist_ok=True)
    for prefix in ("train", "t10k"):
        for kind, data in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{prefix}-{kind}-ubyte" + (".gz" if packed else "")
            (folder / name).write_bytes(gzip.compress(data) if packed else data)
    return folder


GOOD_IMAGES = _idx([2, 28, 28], bytes(2 * 784))
GOOD_LABELS = _idx([2], bytes([1, 2]))


@pytest.mark.parametrize("images, labels, packed, words", [
    (GOOD_IMAGES[:6], GOOD_LABELS, False, "truncated"),
    (bytes([0, 0, 8, 255]) + bytes(64), GOOD_LABELS, False, "with 1 to 4 dims"),
    (_idx([2 ** 32 - 1] * 3, bytes(64)), GOOD_LABELS, False, "header claims"),
    (GOOD_IMAGES, _idx([2], bytes([1, 200])), False, "label 200 is out of range"),
    (GOOD_IMAGES, GOOD_LABELS, True, None),
    (gzip.compress(GOOD_IMAGES)[:15], GOOD_LABELS, False, None),
], ids=["cut-short", "255-dims", "dims-wrap", "label-range", "gzip-ok", "gzip-corrupt"])
def test_mnist_headers_are_checked_before_anything_is_allocated(tmp_path, images, labels,
                                                                packed, words):
    folder = _mnist(tmp_path / "m", images, labels, packed)
    if words is None and not packed:  # a corrupt gzip under a .gz name
        for f in folder.iterdir():
            if "images" in f.name:
                f.rename(f.with_name(f.name + ".gz"))
        words = "cannot read"
    if words is None:
        assert load_dataset(f"mnist:{folder}", InputSpec((1, 28, 28))).train_size == 2
        return
    with pytest.raises(SpeccError, match=words):
        load_dataset(f"mnist:{folder}", InputSpec((1, 28, 28)))


def test_a_gzip_bomb_is_refused_from_its_header(tmp_path):
    """An IDX header claiming 10**9 bytes, gzipped into a few KB: what the compressed bytes
    can expand to is checked before any of it is decompressed."""
    body = _idx([1000, 1000, 1000], bytes(4096))
    folder = _mnist(tmp_path / "m", body, GOOD_LABELS, packed=True)
    with pytest.raises(SpeccError, match="expand to at most"):
        load_dataset(f"mnist:{folder}", InputSpec((1, 28, 28)))


def _tar(members) -> bytes:
    """A tar built header by header: (name, size claimed, bytes written)."""
    out = io.BytesIO()
    for name, size, data in members:
        info = tarfile.TarInfo(name)
        info.size = size
        out.write(info.tobuf(format=tarfile.GNU_FORMAT))
        out.write(data + bytes(-len(data) % 512))
    out.write(bytes(1024))
    return out.getvalue()


@pytest.mark.parametrize("label, words", [
    (b"-3", "is not a class index"), (b"9" * 40, "is not a class index"),
    (b"12345678901", "is not a class index"), (b"\xff", "is not a class index"),
], ids=["negative", "huge", "over-max", "not-ascii"])
def test_webdataset_labels_are_class_indices(tmp_path, label, words):
    root = shards(tmp_path / "s", "train", 1, 2)
    shard = root / "train-000.tar"
    with tarfile.open(shard, "a") as tar:
        for ext, data in (("jpg", b"x"), ("cls", label)):
            info = tarfile.TarInfo(f"zz.{ext}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(SpeccError, match=words):
        load_dataset(f"webdataset:{root}", WANT)


def test_a_tar_member_claiming_8_gib_is_refused(tmp_path):
    from specc.data.tars import read_samples
    root = tmp_path / "s"
    root.mkdir()
    (root / "train-000.tar").write_bytes(_tar([("a.cls", 1, b"1"), ("a.jpg", 2 ** 33, b"x")]))
    with pytest.raises(SpeccError, match="claims 8,589,934,592 bytes"):
        load_dataset(f"webdataset:{root}", WANT)
    with pytest.raises(SpeccError, match="claims 8,589,934,592 bytes"):
        list(read_samples(str(root / "train-000.tar")))


# ------------------------------------------------------------------------- run folders
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tiny finished run (1 step, SGD with momentum), copied by each test."""
    root = tmp_path_factory.mktemp("run")
    spec = root / "tiny.net"
    spec.write_text(PIPE_SPEC.replace("DATA", "synthetic:64").replace(
        "epochs = 1", "epochs = 1\n        optimizer = sgd(lr=0.1, momentum=0.9)"))
    assert main(["train", str(spec), "--steps", "1", "--out", str(root / "run"),
                 "--threads", "1"]) == 0
    return root / "run"


def _copy(run, tmp_path, **config):
    import shutil
    dest = tmp_path / "run"
    shutil.copytree(run, dest)
    saved = json.loads((dest / "config.json").read_text())
    saved.update(config)
    (dest / "config.json").write_text(json.dumps(saved))
    return dest


@pytest.mark.parametrize("change, words", [
    ({"eval_steps": 0}, "'eval_steps' must be at least 1, got 0"),
    ({"threads": 100000}, "'threads' must be at most 1,024"),
    ({"workers": 10 ** 6}, "'workers' must be at most 64"),
    ({"batch_size": 10 ** 9}, "'batch_size' must be an int from 1 to 65536"),
    ({"device": "tpu"}, "'device' must be auto, cpu or cuda"),
    ({"data": "webdataset:pipe:touch PWNED; cat x"}, "`pipe:` runs a shell command"),
    ({"data": "webdataset:https://example.com/a.tar"}, "not an http(s) URL"),
    ({"overrides": {"hidden": 3}}, "'overrides' must map parameter names"),
    ({"seed": -1}, "'seed' must be an int from 0 to 2**64 - 1"),
])
def test_config_values_obey_the_rules_of_their_flags(run, tmp_path, change, words):
    from specc.train.runs import read_config
    dest = _copy(run, tmp_path, **change)
    with pytest.raises(SpeccError) as e:
        read_config(dest)
    assert words in e.value.render() and "config.json" in e.value.render()


def test_a_hand_edited_config_is_refused_before_training(run, tmp_path, cli):
    dest = _copy(run, tmp_path, eval_steps=0, steps=5)
    r = cli("train", "--resume", dest)
    assert r.returncode == 1 and "'eval_steps' must be at least 1, got 0" in r.stderr, r.stderr


def test_a_run_whose_data_is_a_pipe_resumes_only_with_it_typed_again(run, tmp_path, cli):
    command = f"webdataset:pipe:touch {tmp_path}/RAN; cat {tmp_path}/none.tar"
    plain = _copy(run, tmp_path / "plain", steps=5)
    r = cli("train", "--resume", plain, "--data", "synthetic:32")
    assert r.returncode == 2 and "a resumed run keeps its data" in r.stderr, r.stderr
    dest = _copy(run, tmp_path, data=command, steps=5)
    r = cli("train", "--resume", dest, "--data", "synthetic:64")
    assert r.returncode == 1 and "`pipe:` runs a shell command" in r.stderr, r.stderr
    r = cli("train", "--resume", dest, "--data", command)
    assert r.returncode == 2 and "add --allow-pipe" in r.stderr, r.stderr
    assert not (tmp_path / "RAN").exists()
    r = cli("train", "--resume", dest, "--data", command, "--allow-pipe")
    assert (tmp_path / "RAN").exists() and r.returncode == 1, r.stderr


@pytest.mark.parametrize("given", [False, True])
def test_a_spec_copy_linked_to_a_system_file_is_not_quoted(run, tmp_path, cli, given):
    secret = tmp_path / "secret.net"
    secret.write_text("TOPSECRET first line\n")
    dest = _copy(run, tmp_path)
    saved = json.loads((dest / "config.json").read_text())
    saved["spec_copy"]["sha256"]["extra.net"] = "0" * 64
    (dest / "config.json").write_text(json.dumps(saved))
    (dest / "spec" / "extra.net").symlink_to(secret)
    args = ["train", "--resume", dest] + ([dest.parent / "tiny.net"] if given else [])
    if given:
        (dest.parent / "tiny.net").write_text((run / "spec" / "tiny.net").read_text())
    else:
        (dest / "spec" / "tiny.net").unlink()
        (dest / "spec" / "tiny.net").symlink_to(secret)
    r = cli(*args)
    assert r.returncode == 1 and "leads outside" in r.stderr, r.stderr
    assert "TOPSECRET" not in r.stderr + r.stdout


def test_a_link_named_like_a_spec_is_judged_by_its_target(tmp_path):
    from specc.lang.parse import read_source
    target = tmp_path / "passwd"
    target.write_text("root:x:0:0\n")
    (tmp_path / "x.net").symlink_to(target)
    with pytest.raises(SpeccError, match="is not a spec") as e:
        read_source(tmp_path / "x.net")
    assert "root:x" not in e.value.render()


def _checkpoint(run, tmp_path, edit):
    """A copy of the run whose checkpoint's tensors and metadata `edit` changes."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file
    dest = _copy(run, tmp_path, steps=5)
    path = dest / "checkpoint.safetensors"
    tensors = load_file(str(path))
    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()["specc"])
    edit(tensors, meta)
    save_file(tensors, str(path), metadata={"specc": json.dumps(meta)})
    return dest


def _info(meta, **fields):
    meta["info"] = json.dumps({**json.loads(meta["info"]), **fields})


@pytest.mark.parametrize("edit, words", [
    (lambda t, m: t.update({"optim/0/momentum_buffer": t["optim/0/momentum_buffer"][:3]}),
     "optimiser state 0/momentum_buffer is torch.float32 [3, 64], not a torch.float32 tensor "
     "of shape [10, 64]"),
    (lambda t, m: t.update({"optim/7/momentum_buffer": t["optim/0/momentum_buffer"].clone()}),
     "names no parameter of this run"),
    (lambda t, m: t.update({"optim/0/exp_avg": t["optim/0/momentum_buffer"].clone()}),
     "this optimiser keeps ['momentum_buffer']"),
    (lambda t, m: t.update({"model/y.weight": t["model/y.weight"].int()}),
     "dtype y.weight: checkpoint torch.int32"),
    (lambda t, m: t.update({"rng/torch": t["rng/torch"][:10]}), "rng/torch is torch.uint8 [10]"),
    (lambda t, m: t.update({"elsewhere": t["rng/torch"].clone()}), "unexpected tensor 'elsewhere'"),
    (lambda t, m: _info(m, epoch="1"), "info.epoch must be int"),
    (lambda t, m: _info(m, step=-1), "info.step must be int"),
    (lambda t, m: _info(m, test_accuracy=[1]), "info.test_accuracy must be float or null"),
    (lambda t, m: _info(m, network=3), "info.network is int"),
    (lambda t, m: m.update(optim_groups=json.dumps([{"lr": "fast"}])), "the optimiser's groups"),
    (lambda t, m: m.update(scheduler=json.dumps({"last_epoch": [1]})), "the schedule's state"),
])
def test_a_checkpoint_is_checked_before_anything_is_loaded(run, tmp_path, edit, words):
    import specc
    from specc.train.checkpoint import restore_training
    from specc.train.optim import make_optimizer, make_schedule
    dest = _checkpoint(run, tmp_path, edit)
    config = json.loads((dest / "config.json").read_text())
    model = specc.load(dest / "spec" / "tiny.net").to_torch(seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = make_optimizer(config["optimizer"], model.parameters())
    sched = make_schedule(config["schedule"], opt, config["epochs"], config["warmup"])
    with pytest.raises(SpeccError) as e:
        restore_training(dest / "checkpoint.safetensors", model, opt, sched)
    text = e.value.render()
    assert ("cannot be resumed" in text or "does not fit" in text) and words in text, text
    assert all((before[k] == v).all() for k, v in model.state_dict().items())  # nothing loaded
    assert not opt.state


def test_a_crafted_checkpoint_is_a_user_error_on_resume(run, tmp_path, cli):
    dest = _checkpoint(run, tmp_path, lambda t, m: t.update(
        {"optim/0/momentum_buffer": t["optim/0/momentum_buffer"][:3].clone()}))
    r = cli("train", "--resume", dest)
    assert r.returncode == 1 and "optimiser state 0/momentum_buffer" in r.stderr, r.stderr


def test_fifos_in_a_run_folder_are_refused_without_waiting(run, tmp_path, cli):
    for name in ("checkpoint.safetensors", "metrics.csv", ".lock"):
        dest = _copy(run, tmp_path / name, steps=5, epochs=3)
        (dest / name).unlink()
        fifo(dest / name)
        with no_hang(60):
            r = cli("train", "--resume", dest)
        assert r.returncode == 1 and "not a regular file" in r.stderr, (name, r.stderr)


# ----------------------------------------------------------------------------- flags
@pytest.mark.parametrize("flags, words", [
    (["--threads", "100000"], "argument --threads: must be between 1 and 1024"),
    (["--workers", "1000"], "argument --workers: must be between 0 and 64"),
    (["--batch-size", "1000000"], "argument --batch-size: must be between 1 and 65536"),
    (["--nproc", "100000"], "argument --nproc: must be between 1 and 256"),
    (["--epochs", "9" * 30], "argument --epochs: must be at most"),
])
def test_resource_flags_have_upper_bounds(tmp_path, cli, flags, words):
    spec = tmp_path / "t.net"
    spec.write_text(PIPE_SPEC.replace("DATA", "synthetic:64"))
    r = cli("train", spec, *flags, "--out", tmp_path / "run")
    assert r.returncode == 2 and words in r.stderr, r.stderr


@pytest.mark.parametrize("data, words", [
    ("synthetic:99999999999", "more than an in-memory set may hold (10,000,000)"),
    ("synthetic:9999999", "more than an in-memory set may (2,147,483,648)"),
    ("synthetic:²", "give the number of samples"),
    ("logic", "at most 20"),
    ("associative:99999999999", "more than an in-memory set may hold"),
])
def test_data_set_sizes_are_checked_before_allocation(data, words):
    import specc.tasks  # noqa: F401  (associative registers itself)
    with pytest.raises(SpeccError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load_dataset(data, InputSpec((64,), classes=10))


# ------------------------------------------------------------------- embedded specs
@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import specc
    from specc.runtime.model import metadata, read_model
    root = tmp_path_factory.mktemp("onnx")
    (root / "tiny.net").write_text(PIPE_SPEC.replace("DATA", "synthetic:64"))
    specc.load(root / "tiny.net").to_onnx(root / "tiny.onnx", verify=False)
    model = read_model(str(root / "tiny.onnx"))
    return root / "tiny.onnx", model, metadata(model)


def _embedded(exported, **changes):
    from specc.runtime.embedded import load_embedded
    path, model, meta = exported
    meta = {**meta, **changes}
    if "specc.spec_files" in changes and "specc.spec_sha256" not in changes:
        meta["specc.spec_sha256"] = None
    return load_embedded(meta, model, str(path))


TEXT = PIPE_SPEC.replace("DATA", "synthetic:64")


@pytest.mark.parametrize("changes, words", [
    ({"specc.spec_files": {"a\0b.net": TEXT}, "specc.spec": "a\0b.net"}, "control character"),
    ({"specc.spec_files": {"x" * 300 + ".net": TEXT}, "specc.spec": "x" * 300 + ".net"},
     "a file or folder name longer than 255 bytes"),
    ({"specc.spec_files": {"a.net": TEXT, "a.net/b.net": TEXT}, "specc.spec": "a.net"},
     "a.net names a spec file and a folder"),
    ({"specc.spec_files": {"../a.net": TEXT}, "specc.spec": "../a.net"}, "'..' would leave"),
    ({"specc.spec_files": {"/a.net": TEXT}, "specc.spec": "/a.net"}, "not a plain relative"),
    ({"specc.spec_files": {"a.net": 3}, "specc.spec": "a.net"}, "holds int, not text"),
    ({"specc.spec": ["tiny.net"]}, "specc.spec must name one of its spec files"),
    ({"specc.network": ["tiny"]}, "specc.network must be a network's name"),
    ({"specc.overrides": {"x": 1}}, "specc.overrides must map"),
    ({"specc.spec_files": [TEXT]}, "specc.spec_files must map"),
    ({"specc.spec_sha256": "0" * 64}, "does not match its recorded sha256"),
    ({"specc.spec_files": {"tiny.net": TEXT.replace("f32[N, 64]", "f32[N, 65]")}},
     "inputs differ"),
    ({"specc.spec_files": {"tiny.net": TEXT.replace("output y", "output z")}},
     "outputs differ"),
    ({"specc.spec_files": {"tiny.net": TEXT.replace("linear(x, 10)",
                                                    "linear(relu(linear(x, 20000)), 10)")}},
     "holds 1,500,010 parameters, but the model stores 650 weights"),
    ({"specc.spec_files": {"tiny.net": TEXT.replace("epochs = 1", "data = \"webdataset:pipe:x\"")
                           .replace('data = "synthetic:64"\n', "")}},
     "`pipe:` runs a shell command"),
])
def test_an_embedded_spec_is_checked_against_the_graph_it_ships_with(exported, changes, words):
    with pytest.raises(SpeccError) as e:
        _embedded(exported, **changes)
    assert words in e.value.render(), e.value.render()


def test_bench_of_a_model_whose_spec_does_not_fit_is_a_clear_error(exported, tmp_path, cli):
    import onnx
    path, model, meta = exported
    m = onnx.load(str(path))
    text = TEXT.replace("f32[N, 64]", "f32[N, 65]")
    for p in m.metadata_props:
        if p.key == "specc.spec_files":
            p.value = json.dumps({"tiny.net": text})
        if p.key == "specc.spec_sha256":
            p.value = ""
    onnx.save(m, str(tmp_path / "m.onnx"))
    r = cli("bench", tmp_path / "m.onnx", "--iters", "1", "--warmup", "0")
    assert r.returncode == 1 and "inputs differ" in r.stderr and "Traceback" not in r.stderr, \
        r.stderr


def test_external_data_outside_the_models_folder_is_refused(exported, tmp_path):
    import onnx
    from onnx.external_data_helper import convert_model_to_external_data
    from specc.runtime.model import read_model
    m = onnx.load(str(exported[0]))
    convert_model_to_external_data(m, location="w.data", size_threshold=0)
    onnx.save(m, str(tmp_path / "m.onnx"))
    assert read_model(str(tmp_path / "m.onnx"))
    for init in m.graph.initializer:
        for e in init.external_data:
            if e.key == "location":
                e.value = "../secret.data"
    (tmp_path.parent / "secret.data").write_bytes(bytes(10_000))
    onnx.save(m, str(tmp_path / "m.onnx"), save_as_external_data=False)
    with pytest.raises(SpeccError, match="leads outside"):
        read_model(str(tmp_path / "m.onnx"))


def test_zoo_exports_fit_their_own_budgets(tmp_path):
    """The budgets measured on the graph accept what specc exports (no false refusals)."""
    import specc
    from specc.runtime.embedded import load_embedded
    from specc.runtime.model import metadata, read_model
    from conftest import SPECS
    for target, network, sets in [("lenet5.net", None, {}), ("googlenet.net", "googlenet",
                                                              {"aux": "true"})]:
        specc.load(SPECS / target, network, overrides=sets).to_onnx(tmp_path / "m.onnx",
                                                                    verify=False)
        model = read_model(str(tmp_path / "m.onnx"))
        net = load_embedded(metadata(model), model, str(tmp_path / "m.onnx"))
        assert net.name == (network or "lenet5") and "aux1_logits" not in net.graph.outputs


def test_npz_members_are_checked_against_their_compressed_size(tmp_path):
    """A member whose zip header claims 2 GiB while 100 bytes are stored: refused from the
    header, before anything is unpacked."""
    import zipfile
    from specc.runtime.model import read_arrays
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", zipfile.ZIP_STORED) as z:
        z.writestr("x.npy", bytes(100))
    data = bytearray((tmp_path / "bomb.npz").read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 24:central + 28] = (2 ** 31).to_bytes(4, "little")  # uncompressed size
    (tmp_path / "bomb.npz").write_bytes(bytes(data))
    with pytest.raises(SpeccError, match="its header claims 2,147,483,648 bytes but the file "
                                         "holds 100 bytes"):
        read_arrays(str(tmp_path / "bomb.npz"))
    arr = np.ones(3, np.float32)
    np.savez_compressed(tmp_path / "ok.npz", x=arr)
    assert (read_arrays(str(tmp_path / "ok.npz"))["x"] == arr).all()

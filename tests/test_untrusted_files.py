"""Files and data from a stranger (issue 16): a spec, a run folder or an ONNX file never
starts a process or opens a connection; every reader goes through the one file gate
(regular files only, never waited on; claims checked against real sizes before anything
is allocated; links confined where promised; only specs quoted). Each bad case ends in
exit 1 or 2 with a clear message, never a hang or an internal error. Run folders and
models: tests/test_untrusted_runs.py."""
import gzip
import io
import struct
import tarfile

import numpy as np
import pytest

from conftest import run_cli
from hostile import PIPE_SPEC, fifo, make_cli, no_hang
from imagedata import image_folder, shards
from specc.core.diagnostics import SpeccError
from specc.data.registry import InputSpec, load_dataset
from specc.recipes.sources import Trust

WANT = InputSpec((3, 16, 16))


@pytest.fixture
def cli(capsys, monkeypatch):
    return make_cli(capsys, monkeypatch)


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

"""`specc run` shows each output as what it is: class rows, a class per pixel (shares of the
map, with the data set's names), a token per position (as text with a character data set's
vocabulary), or plain values; and an array of another kind of number than the input's is
refused, naming both."""
import json

import numpy as np
import pytest

import specc
from specc.compile.outputs import CLASSES, MAP, SEQUENCE, VALUES, read_outputs
from specc.data.text import read_text

MAPS = """network seg {
    input image: f32[N, 3, H, W]
    f = relu(conv(image, 6, 3, padding=1))
    output out = resize(conv(f, 4, 1), [image.height, image.width], mode="bilinear")
    output gen = tanh(conv(f, 3, 1))
    train {
        data = "shapes"
        loss = "cross_entropy"
        size = [12, 10]
    }
}
"""
TOKENS = """network lm {
    input idx: i64[N, T]
    output logits = linear(embedding(idx, 70, 8), 70)
    train {
        data = "text"
        loss = "sequence_cross_entropy"
        size = 16
    }
}
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kinds")
    out = {}
    for name, text in (("seg", MAPS), ("lm", TOKENS)):
        (tmp / f"{name}.net").write_text(text)
        specc.load(tmp / f"{name}.net").to_onnx(tmp / f"{name}.onnx")
        out[name] = tmp / f"{name}.onnx"
    return out


def test_kinds_come_from_the_graph_and_the_loss(load_spec):
    net = load_spec(MAPS)
    assert [(r.name, r.kind) for r in read_outputs(net.graph, net.recipe)] == [
        ("out", MAP), ("gen", VALUES)]  # resize keeps the conv's scores; tanh makes values
    net = load_spec(TOKENS)
    assert [(r.kind, r.axis) for r in read_outputs(net.graph, net.recipe)] == [(SEQUENCE, -1)]
    joined = load_spec("network j {\n input x: f32[N, 2, 8, 8]\n"
                       " output y = conv(x, 3, 1) + conv(x, 3, 3, padding=1)\n"
                       " output z = reshape(conv(x, 3, 1), [-1, 3, 64])\n"
                       " output c = linear(flatten(x), 5)\n}")
    assert [r.kind for r in read_outputs(joined.graph, joined.recipe)] == [MAP, VALUES, CLASSES]


def test_a_map_shows_each_class_share_with_the_data_sets_names(models, cli, tmp_path):
    x = np.random.default_rng(0).random((2, 3, 12, 10)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    r = cli("run", models["seg"], tmp_path / "x.npy", "--json", "--save", tmp_path / "y.npz")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert [(o["name"], o["kind"]) for o in obj["outputs"]] == [("out", "map"), ("gen", "values")]
    assert "top_k" not in obj  # the first output is not class rows
    saved = np.load(tmp_path / "y.npz")
    names = ["background", "square", "disc", "triangle"]
    for sample, pred in zip(obj["outputs"][0]["samples"], saved["out"].argmax(1)):
        counts = np.bincount(pred.ravel(), minlength=4)
        want = sorted(((-c, i) for i, c in enumerate(counts) if c))
        assert [(c["index"], c["label"]) for c in sample["classes"]] == [
            (i, names[i]) for _, i in want]
        assert [c["share"] for c in sample["classes"]] == pytest.approx(
            [-c / 120 for c, _ in want])
        assert sample["size"] == [12, 10]
    gen = obj["outputs"][1]["samples"][0]
    assert gen["shape"] == [3, 12, 10]
    assert (gen["min"], gen["max"]) == pytest.approx((saved["gen"][0].min(),
                                                      saved["gen"][0].max()))
    text = cli("run", models["seg"], tmp_path / "x.npy", "--top-k", "1").stdout.splitlines()
    assert text[0] == "out (map):" and "[12x10 pixels]" in text[1]
    assert text[3] == "gen (values):" and "[3x12x10] min " in text[4]


def test_a_sequence_shows_the_best_token_per_position_as_text(models, cli, tmp_path):
    idx = np.random.default_rng(1).integers(0, 60, (2, 100))
    np.save(tmp_path / "idx.npy", idx)
    r = cli("run", models["lm"], tmp_path / "idx.npy", "--json", "--save", tmp_path / "y.npy")
    assert r.returncode == 0, r.stderr
    best = np.load(tmp_path / "y.npy").argmax(-1)
    vocabulary = sorted(set(read_text("")))
    samples = json.loads(r.stdout)["outputs"][0]["samples"]
    for sample, row in zip(samples, best):
        assert sample["tokens"] == row.tolist() and sample["length"] == 100
        assert sample["text"] == "".join(vocabulary[t] if t < len(vocabulary) else "\ufffd"
                                         for t in row)
    lines = cli("run", models["lm"], tmp_path / "idx.npy").stdout.splitlines()
    assert len(lines) == 2 and lines[0].endswith("…\"  [100 positions]")
    shown = lines[0].split('"', 1)[1].rsplit('"', 1)[0]
    text = samples[0]["text"]
    assert shown.replace("\\n", "\n") == text[:72] + "…"  # newlines escaped, cut short


@pytest.mark.parametrize("given, want", [
    (np.float32, "holds float32 (floating point)"), (np.bool_, "holds bool;")])
def test_another_kind_of_number_than_the_input_is_refused(models, cli, tmp_path, given, want):
    np.save(tmp_path / "a.npy", np.zeros((2, 16), given))
    r = cli("run", models["lm"], tmp_path / "a.npy")
    assert r.returncode == 1
    assert f"input 'idx' is i64 in the spec (integer), but {tmp_path / 'a.npy'} {want}" \
        in r.stderr and "astype(np.int64)" in r.stderr
    np.save(tmp_path / "i32.npy", np.zeros((2, 16), np.int32))  # an integer is an integer
    assert cli("run", models["lm"], tmp_path / "i32.npy").returncode == 0
    np.save(tmp_path / "ints.npy", np.zeros((1, 3, 12, 10), np.int64))
    r = cli("run", models["seg"], tmp_path / "ints.npy")
    assert r.returncode == 1 and "input 'image' is f32 in the spec (floating point), but" \
        in r.stderr and "holds int64 (integer)" in r.stderr


def test_predict_refuses_an_integer_model_and_another_kind_of_array(models, cli, tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((2, 16), np.int64))
    r = cli("predict", models["lm"], "--data", tmp_path / "a.npy", "--out", tmp_path / "p.csv")
    assert r.returncode == 1 and "input 'idx' is i64 in the spec; specc predict feeds " \
        "floating-point samples" in r.stderr
    np.save(tmp_path / "b.npy", np.zeros((2, 3, 12, 10), np.bool_))
    r = cli("predict", models["seg"], "--data", tmp_path / "b.npy", "--out", tmp_path / "p.csv")
    assert r.returncode == 1 and "holds bool;" in r.stderr
    assert not (tmp_path / "p.csv").exists()


def test_a_new_kind_is_one_more_printer():
    """A kind added beside the others: its printer alone decides how its outputs read."""
    from specc.compile.outputs import OutputRead
    from specc.runtime import printers
    from specc.runtime.printers.base import PRINTERS, Output, Printer, register

    class Norms(Printer):
        kind = "test_norms"

        def records(self, out):
            return [{"name": n, "norm": float(np.linalg.norm(x))}
                    for n, x in zip(out.samples, out.array)]

        def line(self, record, out):
            return f"norm {record['norm']:.1f}"

    register(Norms())
    try:
        x = np.array([[3.0, 4.0], [0.0, 2.0]])
        outs = [Output(x, OutputRead("v", "test_norms"), [], ["a", "b"]),
                Output(x, OutputRead("c", CLASSES), ["p", "q"], ["a", "b"], top_k=1)]
        assert printers.lines(outs) == ["v (test_norms):", "  a  norm 5.0", "  b  norm 2.0",
                                        "c (classes):", "  a  q (4)", "  b  q (2)"]
        assert printers.as_json(outs)[0]["samples"][0] == {"name": "a", "norm": 5.0}
    finally:
        del PRINTERS["test_norms"]


def test_a_model_trained_on_own_text_carries_its_vocabulary(tmp_path, cli):
    """The class names (here a text's characters) of the data a run trained on travel in its
    checkpoint into the export, so `specc run` decodes a model trained on `text:PATH`: the
    spec names a path only the training machine has."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("zyx wvu " * 400)
    spec = tmp_path / "own.net"
    spec.write_text(TOKENS.replace('data = "text"', f'data = "text:{corpus}"')
                    .replace("70", "8"))
    r = cli("train", spec, "--out", tmp_path / "run", "--steps", "2")
    assert r.returncode == 0, r.stderr
    r = cli("export", spec, "--weights", tmp_path / "run", "-o", tmp_path / "own.onnx")
    assert r.returncode == 0, r.stderr
    corpus.unlink()  # what the spec names is gone: the model alone must say it
    np.save(tmp_path / "idx.npy", np.zeros((1, 16), np.int64))
    r = cli("run", tmp_path / "own.onnx", tmp_path / "idx.npy", "--json",
            "--save", tmp_path / "y.npy")
    assert r.returncode == 0, r.stderr
    vocabulary = sorted(set("zyx wvu "))
    best = np.load(tmp_path / "y.npy").argmax(-1)[0]
    sample = json.loads(r.stdout)["outputs"][0]["samples"][0]
    assert sample["text"] == "".join(vocabulary[t] for t in best)


def test_a_crafted_checkpoint_label_is_refused_not_echoed(tmp_path, cli):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file
    spec = tmp_path / "lm.net"
    spec.write_text(TOKENS)
    assert cli("train", spec, "--out", tmp_path / "run", "--steps", "1").returncode == 0
    path = tmp_path / "run" / "checkpoint.safetensors"
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    fields = json.loads(meta["specc"])
    info = json.loads(fields["info"])
    assert info["labels"] == sorted(set(read_text("")))
    info["labels"] = ["x" * 300]
    fields["info"] = json.dumps(info)
    save_file(load_file(str(path)), str(path), metadata={"specc": json.dumps(fields)})
    r = cli("export", spec, "--weights", tmp_path / "run", "-o", tmp_path / "m.onnx")
    assert r.returncode == 1 and "info.labels must be a list" in r.stderr, r.stderr
    assert "xxxx" not in r.stderr and not (tmp_path / "m.onnx").exists()


FCN = """network fcn {
    input image: f32[N, 3, H, W]
    assert H % 4 == 0 and W % 4 == 0, "sides of multiples of 4"
    f = relu(conv(image, 4, 3, padding=1, stride=2))
    output out = resize(conv(f, 3, 1), [image.height, image.width], mode="bilinear")
}
"""


def _jpeg(path, h, w):
    from PIL import Image
    pixels = np.random.default_rng(h * w).integers(0, 256, (h, w, 3)).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def test_an_image_runs_at_its_own_size_through_open_sizes(tmp_path, cli, write_spec):
    """An open H, W is the image's own (it was handed to the resize as text: exit 3); the
    network's assumptions are checked; images of two sizes cannot share a batch."""
    model = tmp_path / "fcn.onnx"
    assert cli("export", write_spec(FCN), "-o", model).returncode == 0
    a, b = _jpeg(tmp_path / "a.jpg", 24, 32), _jpeg(tmp_path / "b.jpg", 20, 16)
    r = cli("run", model, a, "--save", tmp_path / "y.npy")
    assert r.returncode == 0, r.stderr
    assert np.load(tmp_path / "y.npy").shape == (1, 3, 24, 32) and "[24x32 pixels]" in r.stdout
    r = cli("run", model, a, b)
    assert r.returncode == 1 and "the images differ (" in r.stderr and "32x24" in r.stderr
    r = cli("run", model, _jpeg(tmp_path / "c.jpg", 22, 16))
    assert r.returncode == 1, r.stderr
    assert "H=22 breaks the network's assumption H%4 == 0" in r.stderr


def test_predict_refuses_open_sizes_it_has_no_size_for(tmp_path, cli, write_spec):
    import onnx
    model = tmp_path / "fcn.onnx"
    assert cli("export", write_spec(FCN), "-o", model).returncode == 0
    m = onnx.load(model)
    kept = [p for p in m.metadata_props if p.key != "specc.sizes"]
    del m.metadata_props[:]
    m.metadata_props.extend(kept)
    onnx.save(m, tmp_path / "bare.onnx")
    (tmp_path / "imgs").mkdir()
    _jpeg(tmp_path / "imgs" / "a.jpg", 24, 32)
    r = cli("predict", tmp_path / "bare.onnx", "--data", tmp_path / "imgs",
            "--out", tmp_path / "p.csv")
    assert r.returncode == 1 and "has open sizes (H, W) and states none" in r.stderr, r.stderr
    assert not (tmp_path / "p.csv").exists()
    r = cli("predict", model, "--data", tmp_path / "imgs", "--out", tmp_path / "q.csv")
    assert r.returncode == 0 and "1 rows" in r.stdout, r.stderr  # at the size it states


def test_predict_that_reads_nothing_fails(tmp_path, cli):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.jpg").write_bytes(b"not a jpeg at all")
    model = tmp_path / "lenet.onnx"
    from conftest import SPECS
    assert cli("export", SPECS / "lenet5.net", "-o", model).returncode == 0
    r = cli("predict", model, "--data", tmp_path / "imgs", "--out", tmp_path / "p.csv")
    assert r.returncode == 1 and "no sample of" in r.stderr and "1 skipped" in r.stderr


def test_run_says_what_it_changed_to_fit_an_image(tmp_path, cli):
    from conftest import SPECS
    model = tmp_path / "lenet.onnx"
    assert cli("export", SPECS / "lenet5.net", "-o", model).returncode == 0
    r = cli("run", model, _jpeg(tmp_path / "a.jpg", 24, 32))
    assert r.returncode == 0, r.stderr
    assert "adapted the images to the model: channels 3->1 (grey" in r.stderr
    assert "adapted the images to the model: resized 24x32->32x32" in r.stderr

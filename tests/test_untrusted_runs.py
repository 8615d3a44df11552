"""Run folders and ONNX models from a stranger (issue 16): a hand-edited config.json obeys the
rules of the flags it stands for, spec copies are read only inside the run, a checkpoint is
checked against the model, optimiser and schedule before anything is loaded, and the spec a
model carries is checked against the graph it ships with before anything is built."""
import json

import pytest

from hostile import PIPE_SPEC, fifo, make_cli, no_hang
from specc.cli.main import main
from specc.core.diagnostics import SpeccError


@pytest.fixture
def cli(capsys, monkeypatch):
    return make_cli(capsys, monkeypatch)


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


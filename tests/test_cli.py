"""The command line as a user meets it: output, JSON, exit codes, no tracebacks."""
import json
import subprocess
import sys

from conftest import ROOT, SPECS, run_cli


def test_check_prints_a_table_with_totals():
    r = run_cli("check", "specs/lenet5.net")
    assert r.returncode == 0, r.stderr
    assert "c3" in r.stdout and "table_conv" in r.stdout and "1,516" in r.stdout
    assert "lenet5: 60,000 trainable parameters (+840 fixed), 325,680 MACs" in r.stdout


def test_check_every_network_of_a_file():
    r = run_cli("check", "specs/resnet.net")
    assert r.returncode == 0
    for name in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152"):
        assert f"{name}: " in r.stdout
    assert "resnet: not checked (generic: needs depths)" in r.stdout


def test_check_json_fields():
    r = run_cli("check", "specs/resnet.net:resnet50", "--json")
    obj = json.loads(r.stdout)
    assert set(obj) == {"network", "params", "macs", "inputs", "outputs", "layers", "reference"}
    assert obj["reference"]["params"] == 25_557_032 and "torchvision" in obj["reference"]["source"]
    assert (obj["network"], obj["params"], obj["macs"]) == ("resnet50", 25_557_032, 4_089_184_256)
    assert obj["inputs"] == [{"name": "image", "shape": ["N", 3, 224, 224], "dtype": "f32"}]
    assert obj["outputs"] == [{"name": "logits", "shape": ["N", 1000], "dtype": "f32"}]
    assert obj["layers"][0] == {"name": "conv1", "op": "conv", "shape": ["N", 64, 112, 112],
                                "dtype": "f32", "params": 9408, "macs": 118013952, "tied": []}


def test_print_ir():
    r = run_cli("check", "specs/lenet5.net", "--print-ir")
    assert r.stdout.startswith("graph lenet5 {") and "%c3: f32[N, 16, 10, 10] = table_conv" in r.stdout


def test_check_does_not_import_torch_or_onnx():
    code = ("import sys; from specc.cli.main import main; main(['check', 'specs/resnet.net:resnet152']);"
            "print('torch' in sys.modules, 'onnx' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.stdout.strip().splitlines()[-1] == "False False"


def test_user_errors_exit_1_without_traceback():
    r = run_cli("check", "tests/errors/unknown_name.net")
    assert r.returncode == 1
    assert r.stderr.startswith("tests/errors/unknown_name.net:4:14: error: unknown name 'imgae'")
    assert "Traceback" not in r.stderr
    for args in (["check", "missing.net"], ["check", "specs/resnet.net:resnet9"],
                 ["export", "specs/lenet5.net", "-o", "pyproject.toml/x.onnx", "--no-verify"],
                 ["run", "README.md"], ["train", "specs/lenet5.net", "--data", "nope"]):
        r = run_cli(*args)
        assert r.returncode == 1, (args, r.stderr)
        assert "error" in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)


def test_debug_shows_the_traceback():
    r = run_cli("--debug", "check", "missing.net")
    assert r.returncode == 1 and "Traceback" in r.stderr


def test_run_given_a_spec_says_to_export_it_first():
    """A new user's `specc run specs/lenet5.net` (bench takes a spec) used to read as a corrupt
    ONNX file; it names what run takes and the export command instead."""
    for target in ("specs/lenet5.net", "specs/resnet.net:resnet18"):
        r = run_cli("run", target)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert r.stderr.startswith(f"error: {target} is a spec; specc run takes a model "
                                   "written by specc export"), r.stderr
        assert f"specc export {target} -o model.onnx" in r.stderr


def test_usage_errors_exit_2():
    assert run_cli().returncode == 2
    assert run_cli("check").returncode == 2
    assert run_cli("frobnicate").returncode == 2


def test_zoo_lists_every_network(cli, zoo_rows_once):
    r = cli("zoo", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert {row["network"] for row in rows} >= {"lenet5", "resnet50", "googlenet"}
    assert all(row["source"] for row in rows)
    by_name = {row["network"]: row for row in rows}
    assert by_name["resnet50"]["params_agree"] == "=" and by_name["vgg16"]["top1_error"] == 28.408
    text = cli("zoo")
    assert text.returncode == 0 and "needs ImageNet" in text.stdout and "-17.1%" in text.stdout
    # long texts are cut in the table (a reproduction note padded it to 392 columns), whole
    # in --json
    widest = max(len(r["reproduced"]) for r in rows)
    assert widest > 60 and max(map(len, text.stdout.splitlines())) <= 240
    assert any(line.rstrip().endswith("…") for line in text.stdout.splitlines())


def test_graph_writes_dot(tmp_path):
    out = tmp_path / "lenet.dot"
    r = run_cli("graph", str(SPECS / "lenet5.net"), "-o", out)
    assert r.returncode == 0
    text = out.read_text()
    assert text.startswith('digraph "lenet5"') and '"c1" -> "scaled_tanh"' in text


def test_a_wrong_set_value_is_one_error_that_says_where_it_came_from(cli):
    r = cli("check", f"{SPECS / 'resnet.net'}:resnet18", "--set", "classes=2.5")
    assert r.returncode == 1
    assert "parameter 'classes' of network 'resnet' must be an int, got float 2.5" in r.stderr
    assert "given as classes= (by --set" in r.stderr
    assert "argument 'features' of linear" not in r.stderr  # its use says nothing more

"""The one boundary in specc/cli/main.py decides every exit code: 0 ok, 1 user error, 2 usage,
3 internal error (a bug, reported in one line), 130 interrupted. Run in-process: cheap."""
import pytest

from specc.cli import main as cli
from specc.cli.main import main


@pytest.mark.parametrize("argv", [
    [], ["frobnicate"], ["check"], ["train"],
    ["train", "x.net", "--lr", "nan"], ["train", "x.net", "--lr", "inf"],
    ["train", "x.net", "--lr", "-0.1"], ["train", "x.net", "--lr", "1e999"],
    ["train", "x.net", "--batch-size", "-1"], ["train", "x.net", "--epochs", "0"],
    ["train", "x.net", "--batch-size", str(2 ** 31)],
    ["train", "x.net", "--nproc", "0"], ["train", "x.net", "--workers", "-1"],
    ["train", "x.net", "--seed", str(2 ** 64)], ["train", "x.net", "--seed", "-1"],
    ["train", "x.net", "--seed", "9" * 5000],
    ["export", "x.net", "-o", "x.onnx", "--opset", "x"], ["export", "x.net", "-o", ""],
    ["export", "x.net"],  # -o is required
    ["check", "x.net", "--max-params", "0"],
    ["run", "m.onnx", "--top-k", "0"], ["run", "m.onnx", "--batch-size", "0"],
    ["bench", "m.onnx", "--batch-sizes", "0,1"], ["bench", "m.onnx", "--batch-sizes", "x"],
    ["bench", "m.onnx", "--iters", "0"], ["bench", "m.onnx", "--threads", "-2"],
    ["bench", "m.onnx", "--threads", str(2 ** 64)], ["bench", "m.onnx", "--batch-sizes", "99999999"],
])
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if argv and argv[0] == "train" and len(argv) > 1:
        assert "error: argument" in err  # says which flag


def test_flag_values_in_range_are_accepted():
    from specc.cli.common import int_list, positive_float, seed
    assert seed(str(2 ** 64 - 1)) == 2 ** 64 - 1 and seed("0") == 0
    assert positive_float("1e-3") == 1e-3
    assert int_list("1, 8,32") == [1, 8, 32]


def test_an_unexpected_exception_is_an_internal_error(monkeypatch, capsys):
    import specc.cli.cmd_zoo as zoo

    def broken(args):
        raise KeyError("\x1b[31mboom")
    monkeypatch.setattr(zoo, "run", broken)
    assert main(["zoo"]) == 3
    err = capsys.readouterr().err
    assert err == ("internal error: KeyError: '\\x1b[31mboom' (please report; rerun with "
                   "--debug)\n")
    with pytest.raises(KeyError):
        main(["--debug", "zoo"])


def test_a_ctrl_c_that_a_c_extension_turns_into_another_error_is_an_interruption(monkeypatch,
                                                                               capsys):
    """A SIGINT landing while onnxruntime's extension initialises surfaces as 'ImportError:
    initialization failed' (seen once in 80 interrupted exports); it is still Ctrl-C: exit 130,
    not an internal error. Without a SIGINT the same error stays internal."""
    import signal

    import specc.cli.cmd_zoo as zoo

    def importing(args):
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            raise ImportError("initialization failed") from None
    monkeypatch.setattr(zoo, "run", importing)
    assert main(["zoo"]) == 130
    assert capsys.readouterr().err == "interrupted\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    def failing(args):
        raise ImportError("initialization failed")
    monkeypatch.setattr(zoo, "run", failing)
    assert main(["zoo"]) == 3


@pytest.mark.parametrize("exc, code, text", [
    (cli.UserError("no such thing"), 1, "error: no such thing\n"),
    (cli.UsageError("needs X"), 2, "specc zoo: error: needs X (see specc zoo --help)\n"),
    (KeyboardInterrupt(), 130, "interrupted\n"),
    (MemoryError(), 3, "internal error: MemoryError:  (please report; rerun with --debug)\n"),
    (RecursionError("too deep"), 3, "internal error: RecursionError: too deep (please report; "
     "rerun with --debug)\n"),
])
def test_each_kind_of_failure_has_its_exit_code(exc, code, text, monkeypatch, capsys):
    import specc.cli.cmd_zoo as zoo

    def broken(args):
        raise exc
    monkeypatch.setattr(zoo, "run", broken)
    assert main(["zoo"]) == code
    assert capsys.readouterr().err == text


def test_user_error_messages_escape_control_characters(tmp_path, capsys):
    bad = tmp_path / "a\x1b[2Jb.net"
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "a\\x1b[2Jb.net" in err

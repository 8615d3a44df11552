"""Shared by the tests of untrusted input: a spec whose recipe names a data source, the
command line run in this process, an alarm instead of a hang, FIFOs."""
import contextlib
import os
import signal

from specc.cli.main import main

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


def make_cli(capsys, monkeypatch):
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

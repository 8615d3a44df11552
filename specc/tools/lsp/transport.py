"""The language server's stdio transport: LSP base-protocol framing with limits, and a JSON-RPC
error response for every message that cannot be handled.

pygls's own reader trusts the header (`Content-Length: 99999999999999` is read into memory)
and answers a message it cannot decode with a traceback on stderr and nothing to the client.
Here every header line, the header count and the body size are bounded before anything is
read; a frame that breaks the rules gets an error response (id null, as JSON-RPC says when
the id cannot be known) and the reader finds the next `Content-Length` header. A body that is
not JSON is a parse error (-32700), a message that is not a JSON-RPC request an invalid
request (-32600), a request whose parameters do not fit its method (a negative position,
a string where a number belongs) invalid params (-32602) with its id. Problems are logged
to stderr in one line each, never with a traceback."""
from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import sys
import threading

from ...core.source import printable

MAX_HEADER_LINE = 8_192  # bytes in one header line
MAX_HEADERS = 32  # header lines before a body
MAX_MESSAGE = 32 * 2 ** 20  # bytes in one body; a 256 KB spec is at most ~1.5 MB of JSON
MAX_LOGGED = 200  # problems logged to stderr; later ones are only answered

PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS = -32700, -32600, -32602
_HEADER = re.compile(rb"([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*?)[ \t]*\r?\n?")
_LENGTH = re.compile(rb"content-length[ \t]*:", re.IGNORECASE)


class Frames:
    """Reads message bodies from a binary stream; `next()` returns (body, None) or
    (None, problem) and raises EOFError at the end of the input."""

    def __init__(self, stream):
        self.stream = stream
        self.pending = b""  # the start of the next header, found while resynchronising
        self.resync = False  # after a refused frame: skip to the next Content-Length header

    def _line(self) -> bytes:
        if self.pending:
            line, self.pending = self.pending, b""
            return line
        line = self.stream.readline(MAX_HEADER_LINE + 1)
        if not line:
            raise EOFError
        return line

    def next(self) -> tuple[bytes | None, str | None]:
        headers: dict[bytes, bytes] = {}
        problem = None
        while True:
            line = self._line()
            found = _LENGTH.search(line)
            if self.resync:
                if found is None:
                    continue
                line, self.resync = line[found.start():], False
            elif found is not None and found.start() > 0 and line[:found.start()].strip():
                self.pending = line[found.start():]  # bytes outside any message
                return self._refuse("bytes outside a message (no header before them)")
            if not line.strip():
                if headers or problem:
                    break
                continue  # blank lines between messages
            problem = problem or self._header(line, headers)
        if problem is not None:
            return self._refuse(problem)
        return self._body(headers)

    def _header(self, line: bytes, headers: dict) -> str | None:
        if len(line) > MAX_HEADER_LINE:
            return f"a header line longer than {MAX_HEADER_LINE:,} bytes"
        m = _HEADER.fullmatch(line)
        if m is None:
            return f"a header line that is not 'Name: value': {_show(line)}"
        if len(headers) >= MAX_HEADERS:
            return f"more than {MAX_HEADERS} header lines"
        headers[m.group(1).lower()] = m.group(2)
        return None

    def _body(self, headers: dict) -> tuple[bytes | None, str | None]:
        length = headers.get(b"content-length")
        if length is None:
            return self._refuse("a message without a Content-Length header")
        if not length.isdigit() or len(length) > 30:
            return self._refuse(f"Content-Length {_show(length)} is not a number of bytes")
        n = int(length)
        if n > MAX_MESSAGE:
            return self._refuse(f"a message of {n:,} bytes is over the limit of "
                                f"{MAX_MESSAGE:,} bytes")
        body = self.stream.read(n)
        if len(body) < n:
            raise EOFError
        return body, None

    def _refuse(self, problem: str) -> tuple[None, str]:
        self.resync = not self.pending
        return None, problem


def _show(data: bytes) -> str:
    text = data[:60].decode("utf-8", "replace").rstrip("\r\n")
    return repr(printable(text)) + ("..." if len(data) > 60 else "")


class Transport:
    """Feeds checked messages to a pygls protocol and answers the ones it cannot take."""

    def __init__(self, protocol, stdout):
        self.protocol = protocol
        self.stdout = stdout
        self.logged = 0

    def write(self, payload: dict) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.stdout.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.stdout.flush()

    def refuse(self, msg_id, code: int, problem: str) -> None:
        self.write({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": problem}})
        self.log(f"refused a message: {problem}")

    def log(self, text: str) -> None:
        self.logged += 1
        if self.logged <= MAX_LOGGED:
            logging.getLogger("specc.lsp").warning(text)
        elif self.logged == MAX_LOGGED + 1:
            logging.getLogger("specc.lsp").warning("more problems: answered, no longer logged")

    def handle(self, body: bytes) -> None:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as e:
            why = "it nests too deeply" if isinstance(e, RecursionError) else \
                str(e).split("\n")[0][:120]
            return self.refuse(None, PARSE_ERROR, f"the message is not JSON ({why})")
        problem, msg_id = _envelope(data)
        if problem is not None:
            return self.refuse(msg_id, INVALID_REQUEST, problem)
        try:
            message = self.protocol.structure_message(data)
        except Exception as e:  # noqa: BLE001 - cattrs says why the params do not fit
            why = f"invalid params for {printable(str(data.get('method', 'a response')))[:80]}"
            detail = _why(e.__cause__ or e)
            why += f": {detail}" if detail else ""
            if "method" in data and "id" in data:
                return self.refuse(msg_id, INVALID_PARAMS, why)
            return self.log(f"ignored a notification: {why}")
        if "method" in data and "id" in data and not hasattr(message, "id"):
            return self.refuse(msg_id, INVALID_REQUEST, f"{printable(data['method'])[:80]} is a "
                               "notification: it takes no id")
        try:
            self.protocol.handle_message(message)
        except Exception as e:  # noqa: BLE001 - a bug of ours or pygls': answer, go on
            why = f"internal error: {type(e).__name__}: {str(e).split(chr(10))[0][:160]}"
            if "method" in data and "id" in data:
                return self.refuse(msg_id, -32603, why)
            self.log(why)


def _why(e: BaseException) -> str:
    """cattrs's account of what did not fit (`expected int @ $.params.position.line`)."""
    try:
        from cattrs import transform_error
        lines = transform_error(e) if hasattr(e, "exceptions") else [str(e)]
    except Exception:  # noqa: BLE001 - an account of an account: fall back to the type
        lines = [type(e).__name__]
    return printable("; ".join(lines).split("\n")[0])[:200]


def _envelope(data) -> tuple[str | None, object]:
    """(problem, id): what makes `data` not a JSON-RPC 2.0 message, and its usable id."""
    if not isinstance(data, dict):
        return "a message is a JSON object", None
    msg_id = data.get("id")
    if "id" in data and (isinstance(msg_id, bool) or not isinstance(msg_id, (int, str))):
        return "a message id is a number or a string", None
    if data.get("jsonrpc") != "2.0":
        return 'a message says "jsonrpc": "2.0"', msg_id
    if "method" in data:
        if not isinstance(data["method"], str):
            return "a method name is a string", msg_id
        if data.get("params") is not None and not isinstance(data["params"], (dict, list)):
            return "params are an object or an array", msg_id
    elif "id" not in data or not ("result" in data or "error" in data):
        return "a message is a request, a notification or a response", msg_id
    return None, msg_id


def serve_stdio(server) -> None:
    """Run `server` (a pygls LanguageServer) over stdin and stdout until `exit` or EOF. The
    reader is a daemon thread that hands one frame at a time to the event loop (so nothing
    piles up, and a process told to exit never waits for stdin to close)."""
    _quiet_logging()
    stdout = sys.stdout.buffer
    transport = Transport(server.protocol, stdout)

    class _Writer:  # pygls writes its own responses and notifications through this
        def write(self, data: bytes) -> None:
            stdout.write(data)
            stdout.flush()

        def close(self) -> None:
            stdout.flush()

    server.protocol.set_writer(_Writer())
    # a reader of its own on fd 0: the daemon thread blocked in it must not hold the lock of
    # sys.stdin, which the interpreter takes when it shuts down
    stdin = io.BufferedReader(io.FileIO(sys.stdin.fileno(), "rb", closefd=False))
    try:
        asyncio.run(_loop(Frames(stdin), transport))
    except (BrokenPipeError, KeyboardInterrupt):
        pass
    finally:
        server.shutdown()


async def _loop(frames: Frames, transport: Transport) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue(maxsize=1)

    def read() -> None:
        while True:
            try:
                item = frames.next()
            except (EOFError, OSError, ValueError):
                item = None
            asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()
            if item is None:
                return

    threading.Thread(target=read, name="specc-lsp-reader", daemon=True).start()
    while (item := await queue.get()) is not None:
        body, problem = item
        if problem is not None:
            transport.refuse(None, INVALID_REQUEST, problem)
        else:
            transport.handle(body)


class _OneLine(logging.Formatter):
    """`specc lsp: <first line of the message>`; tracebacks are never printed."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage().split("\n")[0][:300]
        return f"specc lsp: {printable(text)}"


def _not_ours(record: logging.LogRecord) -> bool:
    """pygls's own report of a message it could not structure: Transport reports those."""
    return not str(record.msg).startswith("Unable to deserialize message")


def _quiet_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    handler.addFilter(_not_ours)
    for name in ("pygls", "specc.lsp"):
        log = logging.getLogger(name)
        log.handlers[:] = [handler]
        log.setLevel(logging.WARNING)
        log.propagate = False

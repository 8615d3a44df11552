"""A raw client of `specc lsp`: bytes in, framed JSON-RPC messages out, with deadlines (so a
server that stops answering fails a test instead of hanging it)."""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

from conftest import ROOT

TEXT = "specc 1\nnetwork n {\n    input x: f32[N, 4]\n    output y = relu(x)\n}\n"


def frame(message) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class Wire:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "specc", "lsp"], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buffer = b""
        self.next_id = 1000
        self.uri = "file:///nonexistent/specc-wire/t.net"
        self.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        self.send(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        self.send(frame({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
            "textDocument": {"uri": self.uri, "languageId": "specc", "version": 1,
                             "text": TEXT}}}))

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def messages(self, timeout: float = 30, until=None) -> list[dict]:
        """What the server wrote, until `until(message)` holds for one (or the deadline)."""
        out, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            while b"\r\n\r\n" in self.buffer:
                head, rest = self.buffer.split(b"\r\n\r\n", 1)
                length = int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
                if len(rest) < length:
                    break
                out.append(json.loads(rest[:length]))
                self.buffer = rest[length:]
                if until is not None and until(out[-1]):
                    return out
            if until is None and out:
                return out
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                chunk = self.proc.stdout.read()
                if not chunk:
                    break
                self.buffer += chunk
        return out

    def request(self, method: str, params) -> tuple[dict | None, list[dict]]:
        """Send a request and wait for its answer: (answer or None, everything received)."""
        self.next_id += 1
        msg_id = self.next_id
        self.send(frame({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}))
        got = self.messages(until=lambda m: m.get("id") == msg_id and "method" not in m)
        answer = next((m for m in got if m.get("id") == msg_id and "method" not in m), None)
        return answer, got

    def hover(self, line: int = 3, character: int = 17):
        return self.request("textDocument/hover", {
            "textDocument": {"uri": self.uri}, "position": {"line": line, "character": character}})

    def close(self) -> str:
        """Shut down, exit; the server's stderr."""
        try:
            self.request("shutdown", None)
            self.send(frame({"jsonrpc": "2.0", "method": "exit"}))
            self.proc.wait(30)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        return self.proc.stderr.read().decode("utf-8", "replace")

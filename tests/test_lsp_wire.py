"""`specc lsp` at the byte level: every malformed frame or request gets a JSON-RPC error
response (id null when the id cannot be known), nothing is read into memory before the
header is checked, stderr holds one line per problem and no traceback, and the server goes
on answering."""
import json

import pytest

from lsp_wire import TEXT, Wire, frame


@pytest.fixture(scope="module")
def wire():
    w = Wire()
    yield w
    stderr = w.close()
    assert "Traceback" not in stderr and w.proc.returncode == 0, stderr


def _error(got: list, msg_id) -> dict:
    errors = [m for m in got if "error" in m and m.get("id") == msg_id]
    assert errors, got
    return errors[0]["error"]


BAD_FRAMES = [  # (bytes, the error's code, words of its message)
    (b"Content-Length: 99999999999999\r\n\r\n{}", -32600, "over the limit"),
    (b"Content-Length: -5\r\n\r\n", -32600, "is not a number of bytes"),
    (b"Content-Length: 1e3\r\n\r\n", -32600, "is not a number of bytes"),
    (b"Content-Type: text/plain\r\n\r\n{}", -32600, "without a Content-Length"),
    (b"X" * 20000 + b"\r\n\r\n", -32600, "header line longer than"),
    (b"no colon here\r\n\r\n", -32600, "not 'Name: value'"),
    (b"".join(b"H%d: v\r\n" % i for i in range(40)) + b"\r\n", -32600, "header lines"),
    (frame(b"{not json"), -32700, "not JSON"),
    (frame(b"\xff\xfe\x00"), -32700, "not JSON"),
    (frame(b"[" * 100_000 + b"]" * 100_000), -32700, "nests too deeply"),
    (frame([1, 2]), -32600, "a JSON object"),
    (frame({"jsonrpc": "2.0", "id": [1], "method": "x"}), -32600, "id is a number or a string"),
    (frame({"jsonrpc": "1.0", "id": None}), -32600, "id is a number or a string"),
    (frame({"jsonrpc": "2.0"}), -32600, "a request, a notification or a response"),
]


@pytest.mark.parametrize("data, code, words", BAD_FRAMES, ids=range(len(BAD_FRAMES)))
def test_a_broken_frame_is_answered_and_the_server_goes_on(wire, data, code, words):
    wire.send(data)
    answer, got = wire.hover()
    error = _error(got, None)
    assert error["code"] == code and words in error["message"], error
    assert answer is not None and "result" in answer  # the next request is served


@pytest.mark.parametrize("params, words", [
    ({"textDocument": {"uri": "URI"}, "position": {"line": -1, "character": 0}}, "position"),
    ({"textDocument": {"uri": "URI"}, "position": {"line": 0, "character": -7}}, "position"),
    ({"textDocument": {"uri": "URI"}, "position": {"line": 2 ** 40, "character": 0}}, "position"),
    ({"textDocument": {"uri": "URI"}, "position": {"line": "three", "character": 0}}, "position"),
    ({"textDocument": {"uri": 5}, "position": {"line": 0, "character": 0}}, "not an open"),
    ({"position": {"line": 0, "character": 0}}, "textDocument"),
    ({"textDocument": {"uri": "file:///etc/passwd"}, "position": {"line": 0, "character": 0}},
     "is not an open document"),
])
def test_a_request_with_bad_params_gets_invalid_params(wire, params, words):
    text = json.dumps(params).replace('"URI"', json.dumps(wire.uri))
    answer, got = wire.request("textDocument/hover", json.loads(text))
    assert answer is not None and answer["error"]["code"] == -32602, got
    assert words in answer["error"]["message"]


def test_positions_past_the_end_are_clamped(wire):
    for line, character in ((0, 10 ** 6), (10 ** 6, 0), (3, 10 ** 9)):
        answer, _ = wire.hover(line, character)
        assert answer is not None and "result" in answer


def test_an_unknown_method_is_method_not_found(wire):
    answer, _ = wire.request("specc/nothing", {})
    assert answer["error"]["code"] == -32601


def test_a_document_over_the_size_limit_gets_one_diagnostic(wire):
    from specc.lang.parse import MAX_SPEC_BYTES
    uri = wire.uri.replace("t.net", "big.net")
    wire.send(frame({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
        "textDocument": {"uri": uri, "languageId": "specc", "version": 1,
                         "text": TEXT + "#" * MAX_SPEC_BYTES}}}))
    got = wire.messages(until=lambda m: m.get("method") == "textDocument/publishDiagnostics"
                        and m["params"]["uri"] == uri)
    diagnostics = got[-1]["params"]["diagnostics"]
    assert len(diagnostics) == 1 and "more than a spec" in diagnostics[0]["message"]
    answer, _ = wire.request("textDocument/completion", {
        "textDocument": {"uri": uri}, "position": {"line": 3, "character": 4}})
    assert answer["result"]["items"] == []


def test_stderr_has_one_line_per_problem_and_no_traceback():
    w = Wire()
    for data, _, _ in BAD_FRAMES[:8]:
        w.send(data)
        w.hover()
    stderr = w.close()
    lines = stderr.strip().split("\n")
    assert len(lines) == 8 and all(x.startswith("specc lsp: refused a message: ") for x in lines)
    assert "Traceback" not in stderr and w.proc.returncode == 0

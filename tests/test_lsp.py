"""`specc lsp`: a real LSP session over stdio with pygls's client, and the features alone."""
import asyncio
import sys
from pathlib import Path

import pytest
from lsprotocol import types as T
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

from conftest import ROOT, SPECS, run_cli
from specc.tools.fmt import format_text
from specc.tools.lsp import features as F
from specc.tools.lsp.analysis import analyse

BROKEN = """specc 1
import "blocks.net"

block unit(x, width: int) {
    y = conv(x, width, 3, padding=1)
    return y + x
}

network n {
    input x: f32[N, 3, 8, 8]
    a = unit(x, 3)
    b = unit(a, 5)
    output out = linear(flatten(b), 10)
}
"""
FIXED = BROKEN.replace("b = unit(a, 5)", "b = conv_bn(a, 5, 3)").replace(
    "linear(flatten(b), 10)", "linear( flatten(b),10 )")  # fine, but not formatted


def _pos(text: str, line: int, needle: str) -> T.Position:
    """0-based LSP position of `needle` on 1-based `line`."""
    return T.Position(line - 1, text.splitlines()[line - 1].index(needle))


async def _session(path: Path):
    client = LanguageClient("specc-test", "1")
    published: list = []
    arrived = asyncio.Event()

    @client.feature(T.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params):
        published.append(params)
        arrived.set()

    await client.start_io(sys.executable, "-m", "specc", "lsp", cwd=str(ROOT))
    try:
        result = await client.initialize_async(T.InitializeParams(
            process_id=None, root_uri=from_fs_path(str(path.parent)),
            capabilities=T.ClientCapabilities()))
        caps = result.capabilities
        assert caps.hover_provider and caps.definition_provider and caps.completion_provider
        assert caps.document_formatting_provider
        client.initialized(T.InitializedParams())
        uri = from_fs_path(str(path))

        async def diagnostics():
            await asyncio.wait_for(arrived.wait(), 60)
            arrived.clear()
            return published[-1].diagnostics

        client.text_document_did_open(T.DidOpenTextDocumentParams(
            T.TextDocumentItem(uri=uri, language_id="specc", version=1, text=BROKEN)))
        broken = await diagnostics()
        client.text_document_did_change(T.DidChangeTextDocumentParams(
            T.VersionedTextDocumentIdentifier(uri=uri, version=2),
            [T.TextDocumentContentChangeWholeDocument(text=FIXED)]))
        fixed = await diagnostics()
        doc = T.TextDocumentIdentifier(uri)
        hover = await client.text_document_hover_async(
            T.HoverParams(doc, _pos(FIXED, 5, "conv")))
        definition = await client.text_document_definition_async(
            T.DefinitionParams(doc, _pos(FIXED, 12, "conv_bn")))
        local = await client.text_document_definition_async(
            T.DefinitionParams(doc, _pos(FIXED, 12, "a,")))
        completion = await client.text_document_completion_async(
            T.CompletionParams(doc, T.Position(4, len("    y = conv("))))
        edits = await client.text_document_formatting_async(T.DocumentFormattingParams(
            doc, T.FormattingOptions(tab_size=4, insert_spaces=True)))
        await client.shutdown_async(None)
        client.exit(None)
        return broken, fixed, hover, definition, local, completion, edits
    finally:
        await asyncio.wait_for(client.stop(), 30)


def test_a_whole_session_over_stdio(tmp_path):
    path = tmp_path / "doc.net"
    path.write_text(BROKEN)
    broken, fixed, hover, definition, local, completion, edits = \
        asyncio.run(asyncio.wait_for(_session(path), 120))

    # diagnostics: the same message and range as `specc check`, the chain as related information
    (d,) = broken
    check = run_cli("check", "doc.net", cwd=tmp_path).stderr.splitlines()
    assert check[0] == f"doc.net:6:12: error: {d.message.splitlines()[0]}"
    assert d.message.startswith("'+' cannot broadcast [N, 5, 8, 8] and [N, 3, 8, 8]")
    assert (d.range.start.line, d.range.start.character) == (5, 11)  # 6:12 as specc prints it
    assert (d.range.end.line, d.range.end.character) == (5, 16)  # the five carets under `y + x`
    assert check[2].strip() == "|" + " " * 12 + "^" * 5
    assert [r.message for r in d.related_information] == ["while expanding block 'unit'"]
    assert check[3] == "  while expanding block 'unit' at doc.net:12:9"
    assert d.related_information[0].location.range.start.line == 11  # the call `unit(a, 5)`
    assert list(fixed) == []

    assert "conv(x: tensor, channels: int" in hover.contents.value
    # 3*3*3*3 weights + 3 biases; 81 MACs per output pixel, 8*8 pixels
    assert "`f32[N, 3, 8, 8]` | 84 | 5,184 | `a.y` in n |" in hover.contents.value
    assert definition.uri.endswith("/specs/blocks.net")
    blocks = (SPECS / "blocks.net").read_text().splitlines()
    assert blocks[definition.range.start.line].startswith("block conv_bn(")
    assert local.range.start.line == 10 and local.uri.endswith("doc.net")
    labels = {i.label for i in completion.items}
    assert {"stride=", "padding=", "groups=", "conv", "conv_bn", "unit"} <= labels
    (edit,) = edits
    assert edit.new_text == format_text(FIXED) and "linear(flatten(b), 10)" in edit.new_text
    assert (edit.range.start.line, edit.range.end.line) == (0, len(FIXED.splitlines()))


def test_hover_shows_shapes_params_and_macs_of_every_expansion():
    text = (SPECS / "resnet.net").read_text()
    an = analyse(text, str(SPECS / "resnet.net"))
    line = next(i for i, t in enumerate(text.splitlines(), 1)  # in block basic
                if t.strip().startswith("conv2 = conv(relu(bn1), width, 3"))
    col = text.splitlines()[line - 1].index("conv(") + 1
    shown = F.hover(an, line, col)
    # defaults as a spec writes them (an initialiser's is `default`, not its type's name)
    assert "bias: bool = true, init: init = default, bias_init: init = default, weight: " in shown
    # torchvision ResNet-18 layer1 conv2: 64*64*3*3 = 36,864 weights, x 56*56 = 115,605,504 MACs
    assert "| `f32[N, 64, 56, 56]` | 36,864 | 115,605,504 | `layer1.0.conv2` in resnet18" in shown
    assert "`f32[N, 512, 7, 7]` | 2,359,296 | 115,605,504" in shown
    target = F.hover(an, line - 1, 6)  # the name bn1 in `bn1 = norm(conv1)`: `norm` is a
    # block parameter (batchnorm by default), so its expansions show, with batch norm's
    # 2 x 64 parameters, and no one op's signature
    assert "| `f32[N, 64, 56, 56]` | 128 | 0 | `layer1.0.bn1` in resnet18" in target


def test_definitions_of_constants_networks_and_imports(tmp_path):
    (tmp_path / "lib.net").write_text("specc 1\nWIDTH = 8\n")
    text = ('specc 1\nimport "lib.net"\nimport "resnet.net"\n'
            "network n {\n    input x: f32[N, 4]\n    output y = linear(x, WIDTH)\n}\n"
            "network m = resnet18\n")
    path = tmp_path / "main.net"
    path.write_text(text)
    an = analyse(text, str(path))
    const = F.definition(an, 6, text.splitlines()[5].index("WIDTH") + 1)
    assert (Path(const.path).name, const.line, const.col) == ("lib.net", 2, 1)
    net = F.definition(an, 8, 14)
    preset = next(i for i, ln in enumerate((SPECS / "resnet.net").read_text().splitlines(), 1)
                  if ln.startswith("network resnet18 "))
    assert Path(net.path).name == "resnet.net" and net.line == preset
    imported = F.definition(an, 2, 10)
    assert Path(imported.path).name == "lib.net"


def test_completion_of_recipe_keys_and_optimiser_arguments(tmp_path):
    text = ("specc 1\nnetwork n {\n    input x: f32[N, 4]\n    output y = linear(x, 2)\n"
            "    train {\n        epo\n        optimizer = adam(\n    }\n}\n")
    an = analyse(text, str(tmp_path / "t.net"))
    keys = {i.label for i in F.complete(an, 6, 12)}
    assert {"epochs", "batch_size", "optimizer", "schedule"} <= keys
    args = {i.label for i in F.complete(an, 7, 26)}
    assert {"lr=", "beta1=", "weight_decay="} <= args

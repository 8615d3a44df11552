"""`specc lsp`: the language server (pygls) over stdio.

Each open document is analysed on open and on every change, as `specc check` would check it;
its errors are published with the same messages and ranges, the expansion chain ("while
expanding block ...") as related information. Requests are answered from the latest analysis."""
from __future__ import annotations

from urllib.parse import unquote

from lsprotocol import types as T
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from ...core.diagnostics import SpeccError
from ...core.nesting import room
from ...core.source import Span
from ...core.version import __version__
from ...lang.parse import read_source
from . import features as F
from .analysis import Analysis, analyse, local_span, oversized
from .positions import ProtocolText, from_position, to_range
from .transport import serve_stdio

_KINDS = {"op": T.CompletionItemKind.Function, "block": T.CompletionItemKind.Class,
          "network": T.CompletionItemKind.Module, "keyword": T.CompletionItemKind.Keyword,
          "argument": T.CompletionItemKind.Property, "recipe": T.CompletionItemKind.Field,
          "value": T.CompletionItemKind.Variable, "builtin": T.CompletionItemKind.Function}


class SpeccServer(LanguageServer):
    def __init__(self):
        super().__init__("specc", __version__,
                         text_document_sync_kind=T.TextDocumentSyncKind.Full)
        self.analyses: dict[str, Analysis] = {}

    def text(self, uri: str) -> str:
        """The text of an open document; a request about any other is invalid (the server
        never reads a file because a client named it)."""
        docs = self.workspace.text_documents
        doc = docs.get(uri) or docs.get(unquote(uri))
        if doc is None:
            raise JsonRpcInvalidParams(f"{uri} is not an open document (didOpen it first)")
        return doc.source

    def analysis(self, uri: str) -> Analysis:
        text = self.text(uri)
        cached = self.analyses.get(uri)
        if cached is None or cached.source.text != text:
            cached = self.analyses[uri] = analyse(text, _path(uri))
        return cached

    def publish(self, uri: str) -> None:
        an = self.analysis(uri)
        self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(
            uri=uri, diagnostics=[diagnostic(self, an, e) for e in an.errors]))

    def protocol_text(self, text: str) -> ProtocolText:
        return ProtocolText(text, self.workspace.position_encoding or "utf-16")


def _path(uri: str) -> str:
    return to_fs_path(uri) or uri


def _span_range(server: SpeccServer, span: Span) -> T.Range:
    source = span.source
    return to_range(source, server.protocol_text(source.text), span.line, span.col,
                    span.end_line, span.end_col)


def diagnostic(server: SpeccServer, an: Analysis, err: SpeccError) -> T.Diagnostic:
    """One error as `specc check` shows it: the message (notes on the following lines) at the
    first span of its expansion chain that lies in this document."""
    here = local_span(err.span, an.path)
    related = []
    if err.span is not None and here is not err.span:
        related.append(T.DiagnosticRelatedInformation(
            T.Location(from_fs_path(err.span.source.path), _span_range(server, err.span)),
            f"{err.message} ({err.span})"))
    if err.span is not None:
        for context, site in err.span.chain():
            related.append(T.DiagnosticRelatedInformation(
                T.Location(from_fs_path(site.source.path), _span_range(server, site)),
                f"while expanding {context}"))
    message = "\n".join([err.message] + [f"note: {n}" for n in err.notes])
    if here is None:
        where = f" ({err.span})" if err.span is not None else ""
        rng = T.Range(T.Position(0, 0), T.Position(0, 0))
        message = message.replace(err.message, err.message + where, 1)
    else:
        rng = _span_range(server, here)
    return T.Diagnostic(range=rng, message=message, severity=T.DiagnosticSeverity.Error,
                        source="specc", related_information=related or None)


def _position(server: SpeccServer, uri: str, pos: T.Position) -> tuple[int, int] | None:
    """The client's position as specc's (line, col) in the analysed text; None when the
    document is too large to answer about (its diagnostic says so)."""
    an = server.analysis(uri)
    if an.module is None and oversized(an.source):
        return None
    return from_position(an.source, server.protocol_text(an.source.text), pos)


def _place_range(server: SpeccServer, uri: str, place) -> T.Range:
    """A place in this document or in a spec it imports (read through the spec gate)."""
    try:
        source = read_source(place.path)
    except SpeccError:
        source = server.analysis(uri).source
    return to_range(source, server.protocol_text(source.text), place.line, place.col,
                    place.end_line, place.end_col)


def build_server() -> SpeccServer:
    server = SpeccServer()

    @server.feature(T.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: SpeccServer, params: T.DidOpenTextDocumentParams):
        ls.publish(params.text_document.uri)

    @server.feature(T.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: SpeccServer, params: T.DidChangeTextDocumentParams):
        ls.publish(params.text_document.uri)

    @server.feature(T.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: SpeccServer, params: T.DidSaveTextDocumentParams):
        ls.analyses.pop(params.text_document.uri, None)  # imported files may have changed
        ls.publish(params.text_document.uri)

    @server.feature(T.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: SpeccServer, params: T.DidCloseTextDocumentParams):
        ls.analyses.pop(params.text_document.uri, None)
        ls.text_document_publish_diagnostics(
            T.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))

    @server.feature(T.TEXT_DOCUMENT_HOVER)
    def hover(ls: SpeccServer, params: T.HoverParams):
        uri = params.text_document.uri
        at = _position(ls, uri, params.position)
        text = F.hover(ls.analysis(uri), *at) if at else None
        if not text:
            return None
        return T.Hover(contents=T.MarkupContent(kind=T.MarkupKind.Markdown, value=text))

    @server.feature(T.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: SpeccServer, params: T.DefinitionParams):
        uri = params.text_document.uri
        at = _position(ls, uri, params.position)
        place = F.definition(ls.analysis(uri), *at) if at else None
        if place is None:
            return None
        return T.Location(from_fs_path(place.path), _place_range(ls, uri, place))

    @server.feature(T.TEXT_DOCUMENT_COMPLETION,
                    T.CompletionOptions(trigger_characters=["(", ",", " ", "="]))
    def completion(ls: SpeccServer, params: T.CompletionParams):
        uri = params.text_document.uri
        at = _position(ls, uri, params.position)
        items = F.complete(ls.analysis(uri), *at) if at else []
        return T.CompletionList(is_incomplete=False, items=[
            T.CompletionItem(label=i.label, kind=_KINDS[i.kind], detail=i.detail or None,
                             insert_text=i.insert) for i in items])

    @server.feature(T.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: SpeccServer, params: T.DocumentFormattingParams):
        from ..fmt import format_text
        source = ls.text(params.text_document.uri)
        try:
            text = format_text(source, _path(params.text_document.uri))
        except SpeccError:
            return None  # the diagnostics already say why it does not parse
        if text == source:
            return []
        end = ls.protocol_text(source).position(len(source))
        return [T.TextEdit(range=T.Range(T.Position(0, 0), end), new_text=text)]

    return server


def serve() -> None:
    with room():
        serve_stdio(build_server())

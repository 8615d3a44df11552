"""`specc lsp`: the language server (pygls) over stdio.

Each open document is analysed on open and on every change, as `specc check` would check it;
its errors are published with the same messages and ranges, the expansion chain ("while
expanding block ...") as related information. Requests are answered from the latest analysis."""
from __future__ import annotations

from lsprotocol import types as T
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace.position_codec import ServerTextPosition, ServerTextRange

from ...core.version import __version__
from ...core.diagnostics import SpeccError
from ...core.source import Span
from . import features as F
from .analysis import Analysis, analyse, local_span

_KINDS = {"op": T.CompletionItemKind.Function, "block": T.CompletionItemKind.Class,
          "network": T.CompletionItemKind.Module, "keyword": T.CompletionItemKind.Keyword,
          "argument": T.CompletionItemKind.Property, "recipe": T.CompletionItemKind.Field,
          "value": T.CompletionItemKind.Variable, "builtin": T.CompletionItemKind.Function}


class SpeccServer(LanguageServer):
    def __init__(self):
        super().__init__("specc", __version__,
                         text_document_sync_kind=T.TextDocumentSyncKind.Full)
        self.analyses: dict[str, Analysis] = {}

    def analysis(self, uri: str) -> Analysis:
        doc = self.workspace.get_text_document(uri)
        cached = self.analyses.get(uri)
        if cached is None or cached.source.text != doc.source:
            cached = self.analyses[uri] = analyse(doc.source, _path(uri))
        return cached

    def publish(self, uri: str) -> None:
        an = self.analysis(uri)
        self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(
            uri=uri, diagnostics=[diagnostic(self, an, e) for e in an.errors]))


def _path(uri: str) -> str:
    return to_fs_path(uri) or uri


def _lines(text: str) -> list[str]:
    return text.splitlines(True) or [""]


def to_range(server: SpeccServer, span_lines: list[str], line: int, col: int, end_line: int,
             end_col: int) -> T.Range:
    """specc's 1-based code-point columns -> the client's 0-based code units."""
    codec = server.workspace.position_codec
    server_range = ServerTextRange(ServerTextPosition(line - 1, col - 1),
                                   ServerTextPosition(end_line - 1, end_col - 1))
    return codec.range_to_client_units(span_lines, server_range)


def _span_range(server, span: Span) -> T.Range:
    return to_range(server, _lines(span.source.text), span.line, span.col, span.end_line,
                    span.end_col)


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


def _position(server: SpeccServer, uri: str, pos: T.Position) -> tuple[int, int]:
    doc = server.workspace.get_text_document(uri)
    p = doc.position_from_client_units(pos)
    return p.line + 1, p.character + 1


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
        text = F.hover(ls.analysis(uri), *_position(ls, uri, params.position))
        if not text:
            return None
        return T.Hover(contents=T.MarkupContent(kind=T.MarkupKind.Markdown, value=text))

    @server.feature(T.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: SpeccServer, params: T.DefinitionParams):
        uri = params.text_document.uri
        place = F.definition(ls.analysis(uri), *_position(ls, uri, params.position))
        if place is None:
            return None
        try:
            with open(place.path, encoding="utf-8") as f:
                lines = _lines(f.read())
        except OSError:
            lines = _lines(ls.workspace.get_text_document(uri).source)
        return T.Location(from_fs_path(place.path), to_range(
            ls, lines, place.line, place.col, place.end_line, place.end_col))

    @server.feature(T.TEXT_DOCUMENT_COMPLETION,
                    T.CompletionOptions(trigger_characters=["(", ",", " ", "="]))
    def completion(ls: SpeccServer, params: T.CompletionParams):
        uri = params.text_document.uri
        items = F.complete(ls.analysis(uri), *_position(ls, uri, params.position))
        return T.CompletionList(is_incomplete=False, items=[
            T.CompletionItem(label=i.label, kind=_KINDS[i.kind], detail=i.detail or None,
                             insert_text=i.insert) for i in items])

    @server.feature(T.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: SpeccServer, params: T.DocumentFormattingParams):
        from ..fmt import format_text
        doc = ls.workspace.get_text_document(params.text_document.uri)
        try:
            text = format_text(doc.source, _path(params.text_document.uri))
        except SpeccError:
            return None  # the diagnostics already say why it does not parse
        if text == doc.source:
            return []
        end = doc.position_to_client_units(ServerTextPosition(len(doc.lines), 0))
        return [T.TextEdit(range=T.Range(T.Position(0, 0), end), new_text=text)]

    return server


def serve() -> None:
    build_server().start_io()

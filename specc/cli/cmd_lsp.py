"""`specc lsp`: the language server for editors, over stdio."""
from __future__ import annotations

EXAMPLES = """\
examples:
  specc lsp                 what an editor starts; it speaks LSP on stdin/stdout
  (VS Code: editors/vscode; Neovim: vim.lsp.start({ name = "specc", cmd = { "specc", "lsp" } }))

It publishes the errors `specc check` reports as you type, shows a value's type and shape
(and for an op call its parameters and MACs) on hover, jumps to definitions across imports,
completes op names, keyword arguments, block names and recipe keys, and formats with
`specc fmt`.
"""


def add_arguments(p) -> None:
    p.add_argument("--stdio", action="store_true",
                   help="talk over stdin/stdout (the default; accepted because LSP clients "
                        "such as VS Code's pass it)")


def run(args) -> int:
    from ..tools.lsp.server import serve
    serve()
    return 0

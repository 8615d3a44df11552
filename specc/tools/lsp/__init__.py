"""The language server behind `specc lsp`: analysis (no pygls), features, the pygls server."""

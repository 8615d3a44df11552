// Starts `specc lsp` (stdio) for .net files; everything else comes from the server.
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("specc").get("command");
  const server = { command, args, transport: TransportKind.stdio };
  client = new LanguageClient(
    "specc",
    "specc language server",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "specc" }] }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };

// Parse and type-check KQL with Microsoft's Kusto language service (npm @kusto/language-service-next).
//
// Input (stdin): one JSON value per line, either a list of queries, or
//   {"schemas": {"Table": "(Col:type, ...)", ...}, "queries": ["...", ...]}
// (schemas, once given, are kept for later lines). Output (stdout): one line per input line, a JSON
// list with, per query: {"diagnostics": [{"severity", "code", "message", "start", "length"}],
// "columns": [[name, type], ...] (the result schema, or null), "literals": [values of its string
// literals, in order, as the parser decodes them]}. One process serves many queries: loading the
// language service costs about half a second, each query a few milliseconds after that.
"use strict";

const path = require("path");
const readline = require("readline");

const serviceDir = path.resolve(__dirname, "..", "..", "node_modules", "@kusto", "language-service-next");
require(path.join(serviceDir, "bridge.min.js"));
require(path.join(serviceDir, "Kusto.Language.Bridge.min.js"));
const K = global.Kusto.Language;

let globals = K.GlobalState.Default;

function useSchemas(schemas) {
  const tables = Object.entries(schemas).map(([name, schema]) => K.Symbols.TableSymbol.From(schema).WithName(name));
  const database = new K.Symbols.DatabaseSymbol.$ctor1("workspace", tables);
  globals = K.GlobalState.Default.WithDatabase(database);
}

function list(items) {
  const out = [];
  for (let i = 0; i < items.Count; i++) out.push(items.getItem(i));
  return out;
}

function check(query) {
  const code = K.KustoCode.ParseAndAnalyze(query, globals);
  const diagnostics = list(code.GetDiagnostics()).map((d) => ({
    severity: String(d.Severity),
    code: d.Code,
    message: d.Message,
    start: d.Start,
    length: d.Length,
  }));
  const result = code.ResultType;
  const columns =
    result && result.Columns ? list(result.Columns).map((c) => [c.Name, c.Type ? c.Type.Name : null]) : null;
  const literals = list(code.Syntax.GetDescendants(K.Syntax.LiteralExpression))
    .filter((l) => l.Kind === K.Syntax.SyntaxKind.StringLiteralExpression)
    .map((l) => l.LiteralValue);
  return { diagnostics, columns, literals };
}

const lines = readline.createInterface({ input: process.stdin, terminal: false });
lines.on("line", (line) => {
  if (!line.trim()) return;
  let reply;
  try {
    const request = JSON.parse(line);
    const queries = Array.isArray(request) ? request : request.queries;
    if (!Array.isArray(request) && request.schemas) useSchemas(request.schemas);
    reply = queries.map(check);
  } catch (error) {
    reply = { error: String(error && error.stack ? error.stack : error) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
});

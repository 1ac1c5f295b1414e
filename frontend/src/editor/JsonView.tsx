/**
 * The definition as editable JSON. Until the person types, the text follows the editor store;
 * "Apply JSON" loads the edited text as one undoable step, "Revert" drops the edits. Text that is
 * not JSON, or not a definition's shape, changes nothing and says where it is wrong.
 */
import { useMemo, useRef, useState } from "react";

import { Button } from "../components/ui";
import type { Definition } from "../lib/definition";
import { graphToDefinition } from "../lib/graph";
import { useEditor, useEditorStoreApi } from "./EditorStoreContext";

export type ParsedDefinition =
  | { ok: true; definition: Definition }
  | { ok: false; message: string; /** Where the text stops being JSON, for syntax errors. */ offset?: number };

/** Line and column (1-based) of a character offset in `text`. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

class JsonSyntaxProblem {
  readonly offset: number;
  readonly message: string;
  constructor(offset: number, message: string) {
    this.offset = offset;
    this.message = message;
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPE = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y;

/**
 * Where `text` stops being JSON and why: browsers word (and place) JSON.parse errors differently,
 * so the editor finds the spot itself.
 */
function locateJsonError(text: string): JsonSyntaxProblem | null {
  let at = 0;
  const fail = (message: string): never => {
    throw new JsonSyntaxProblem(at, message);
  };
  const skipSpace = () => {
    while (at < text.length && " \t\n\r".includes(text.charAt(at))) at += 1;
  };
  const readString = () => {
    at += 1;
    for (;;) {
      if (at >= text.length) fail("Unterminated string");
      const char = text.charAt(at);
      if (char === '"') {
        at += 1;
        return;
      }
      if (char === "\\") {
        ESCAPE.lastIndex = at;
        if (!ESCAPE.test(text)) fail("Bad escape in a string");
        at = ESCAPE.lastIndex;
      } else if (char < " ") {
        fail("Line break or control character inside a string");
      } else {
        at += 1;
      }
    }
  };
  const readSequence = (close: "}" | "]", readItem: () => void) => {
    at += 1;
    skipSpace();
    if (text[at] === close) {
      at += 1;
      return;
    }
    for (;;) {
      readItem();
      skipSpace();
      if (text[at] === ",") at += 1;
      else if (text[at] === close) {
        at += 1;
        return;
      } else fail(`Expected ',' or '${close}'`);
    }
  };
  const readValue = (): void => {
    skipSpace();
    const char = text[at];
    if (char === undefined) fail("Unexpected end of JSON");
    else if (char === "{") {
      readSequence("}", () => {
        skipSpace();
        if (text[at] !== '"') fail("Expected a property name in double quotes");
        readString();
        skipSpace();
        if (text[at] !== ":") fail("Expected ':' after a property name");
        at += 1;
        readValue();
      });
    } else if (char === "[") readSequence("]", readValue);
    else if (char === '"') readString();
    else {
      const literal = ["true", "false", "null"].find((word) => text.startsWith(word, at));
      NUMBER.lastIndex = at;
      if (literal) at += literal.length;
      else if (NUMBER.test(text)) at = NUMBER.lastIndex;
      else fail(`Unexpected character '${char}'`);
    }
  };
  try {
    readValue();
    skipSpace();
    if (at < text.length) fail("Unexpected text after the end of the JSON value");
    return null;
  } catch (problem) {
    if (problem instanceof JsonSyntaxProblem) return problem;
    throw problem;
  }
}

function syntaxFailure(text: string, error: unknown): ParsedDefinition {
  const problem = locateJsonError(text);
  if (!problem) return { ok: false, message: `Invalid JSON: ${error instanceof Error ? error.message : String(error)}` };
  const { line, column } = lineColumn(text, problem.offset);
  return { ok: false, message: `Invalid JSON at line ${line}, column ${column}: ${problem.message}`, offset: problem.offset };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Why a list of nodes could not be loaded on the canvas, or null when it can. */
function nodesProblem(nodes: unknown, field: string): string | null {
  if (!Array.isArray(nodes)) return `"${field}" must be an array of nodes`;
  for (const [index, node] of nodes.entries()) {
    const where = `${field}[${index}]`;
    if (!isObject(node)) return `${where} must be an object`;
    if (typeof node.id !== "string" || node.id === "") return `${where}.id must be a non-empty string`;
    if (typeof node.type !== "string") return `${where} (${node.id}): "type" must be a string`;
    if (node.needs != null && !(Array.isArray(node.needs) && node.needs.every((id) => typeof id === "string"))) {
      return `${where} (${node.id}): "needs" must be a list of node ids`;
    }
    const position = node.position;
    if (position != null && !(isObject(position) && typeof position.x === "number" && typeof position.y === "number")) {
      return `${where} (${node.id}): "position" must be {"x": number, "y": number}`;
    }
  }
  return null;
}

/** Text → a definition the editor can load, or what is wrong with it. The API validates the rest on save. */
export function parseDefinitionJson(text: string): ParsedDefinition {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return syntaxFailure(text, error);
  }
  if (!isObject(value)) return { ok: false, message: "The definition must be a JSON object" };
  if (!("nodes" in value)) return { ok: false, message: 'The definition needs a "nodes" array' };
  if (typeof value.name !== "string") return { ok: false, message: 'The definition needs a "name" string' };
  const problem = nodesProblem(value.nodes, "nodes") ?? (value.on_failure == null ? null : nodesProblem(value.on_failure, "on_failure"));
  if (problem) return { ok: false, message: problem };
  return { ok: true, definition: value as unknown as Definition };
}

export function JsonView() {
  const store = useEditorStoreApi();
  const { meta, nodes, edges } = useEditor((s) => ({ meta: s.meta, nodes: s.nodes, edges: s.edges }));
  const current = useMemo(() => JSON.stringify(graphToDefinition(meta, nodes, edges), null, 2), [meta, nodes, edges]);
  const [draft, setDraft] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const textareaRef = useRef<HTMLTextAreaElement>(null);
  const edited = draft !== null;

  const apply = () => {
    if (draft === null) return;
    const parsed = parseDefinitionJson(draft);
    if (!parsed.ok) {
      setError(parsed.message);
      if (parsed.offset !== undefined) {
        textareaRef.current?.focus();
        textareaRef.current?.setSelectionRange(parsed.offset, parsed.offset + 1);
      }
      return;
    }
    store.getState().replaceDefinition(parsed.definition);
    setDraft(null);
    setError(null);
  };

  const revert = () => {
    setDraft(null);
    setError(null);
  };

  return (
    <div className="flex h-full min-h-0 flex-col gap-2 p-3" data-testid="json-view">
      <div className="flex items-center justify-between gap-2">
        <label htmlFor="definition-json" className="text-sm font-medium text-slate-700">
          Definition JSON
        </label>
        {edited && <span className="text-xs text-amber-700">Edited, not applied</span>}
      </div>
      <textarea
        ref={textareaRef}
        id="definition-json"
        className="input min-h-64 flex-1 resize-none font-mono text-xs leading-5"
        spellCheck={false}
        autoComplete="off"
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? "definition-json-error" : "definition-json-hint"}
        value={draft ?? current}
        onChange={(event) => {
          setDraft(event.target.value);
          setError(null);
        }}
      />
      {error ? (
        <p id="definition-json-error" role="alert" className="rounded-md border border-rose-200 bg-rose-50 p-2 text-xs text-rose-800">
          {error}
        </p>
      ) : (
        <p id="definition-json-hint" className="text-xs text-slate-500">
          Edit and apply to load the JSON into the editor (undo brings the previous version back).
        </p>
      )}
      <div className="flex gap-2">
        <Button tone="primary" onClick={apply} disabled={!edited}>
          Apply JSON
        </Button>
        <Button onClick={revert} disabled={!edited}>
          Revert
        </Button>
      </div>
    </div>
  );
}

/**
 * The names a node's templates can read, exactly as the engine provides them (DESIGN.md §4,
 * workflows/dag.py and the validator in workflows/definition.py): `inputs.<name>`,
 * `nodes.<id>.output`/`.status` of upstream nodes, `run.*`, `item`/`index` in a foreach body and
 * its output, `error` in `on_failure` nodes. Also how a chosen name goes into template text.
 */
import type { Definition, DefinitionNode } from "../lib/definition";

export interface ScopeName {
  /** What goes between `{{` and `}}`, e.g. "nodes.fetch.output". */
  name: string;
  /** A short explanation shown next to it. */
  detail: string;
}

type Needing = Pick<DefinitionNode, "id" | "needs">;

/** Every node `id` waits for, directly or through other nodes, in `nodes`' order. */
export function upstreamOf(nodes: readonly Needing[], id: string): string[] {
  const needsOf = new Map(nodes.map((node) => [node.id, node.needs ?? []]));
  const found = new Set<string>();
  const stack = [...(needsOf.get(id) ?? [])];
  while (stack.length > 0) {
    const current = stack.pop() as string;
    if (found.has(current) || current === id) continue;
    found.add(current);
    stack.push(...(needsOf.get(current) ?? []));
  }
  return nodes.map((node) => node.id).filter((nodeId) => found.has(nodeId));
}

const RUN_NAMES: ScopeName[] = [
  { name: "run.id", detail: "this run's id" },
  { name: "run.workflow", detail: "the workflow's name" },
  { name: "run.started_at", detail: "when the run started (ISO 8601)" },
];

const ERROR_NAMES: ScopeName[] = [
  { name: "error.message", detail: "why the run failed" },
  { name: "error.node", detail: "the node that failed (null if none)" },
  { name: "error.type", detail: "the error's type" },
];

const ITEM_NAMES: ScopeName[] = [
  { name: "item", detail: "the current item of the foreach" },
  { name: "index", detail: "the item's position, from 0" },
];

function nodeNames(nodes: readonly DefinitionNode[], ids: readonly string[]): ScopeName[] {
  const typeOf = new Map(nodes.map((node) => [node.id, node.type]));
  return ids.flatMap((id) => [
    { name: `nodes.${id}.output`, detail: `output of ${typeOf.get(id) ?? "a node"}` },
    { name: `nodes.${id}.status`, detail: "succeeded, failed or skipped" },
  ]);
}

function bodyOf(node: DefinitionNode): DefinitionNode[] {
  const body = node.params?.nodes;
  if (!Array.isArray(body)) return [];
  return body.filter(
    (inner): inner is DefinitionNode =>
      typeof inner === "object" && inner !== null && typeof (inner as { id?: unknown }).id === "string",
  );
}

/**
 * The names in scope for `field` ("params.url", "when", …) of node `nodeId`. Only names the
 * validator accepts there: a foreach's `params.output` also sees `item`, `index` and its body
 * nodes; its `params.nodes` (the body) sees `item` and `index`.
 */
export function scopeFor(definition: Definition, nodeId: string, field = ""): ScopeName[] {
  const inputs: ScopeName[] = Object.entries(definition.inputs ?? {}).map(([name, spec]) => ({
    name: `inputs.${name}`,
    detail: [`input · ${spec.type ?? "string"}`, spec.description].filter(Boolean).join(" — "),
  }));
  const main = definition.nodes;
  const handlers = definition.on_failure ?? [];
  const inMain = main.find((node) => node.id === nodeId);
  const node = inMain ?? handlers.find((handler) => handler.id === nodeId);
  if (!node) return [...inputs, ...RUN_NAMES];

  const upstream = inMain
    ? nodeNames(main, upstreamOf(main, nodeId))
    : [...nodeNames(main, main.map((other) => other.id)), ...nodeNames(handlers, upstreamOf(handlers, nodeId))];
  const names = [...inputs, ...upstream, ...RUN_NAMES];
  if (!inMain) names.push(...ERROR_NAMES);
  if (node.type === "foreach") {
    if (field === "params.output") {
      const body = bodyOf(node);
      names.push(...ITEM_NAMES, ...nodeNames(body, body.map((inner) => inner.id)));
    } else if (field === "params.nodes" || field.startsWith("params.nodes.") || field.startsWith("params.nodes[")) {
      names.push(...ITEM_NAMES);
    }
  }
  return names;
}

/** Names matching what was typed after `{{`: those starting with it first, then those containing it. */
export function filterNames(names: readonly ScopeName[], query: string): ScopeName[] {
  const wanted = query.trim().toLowerCase();
  if (!wanted) return [...names];
  const starts = names.filter((entry) => entry.name.toLowerCase().startsWith(wanted));
  const contains = names.filter(
    (entry) => !entry.name.toLowerCase().startsWith(wanted) && entry.name.toLowerCase().includes(wanted),
  );
  return [...starts, ...contains];
}

export interface OpenTemplate {
  /** Where the unfinished `{{` starts. */
  start: number;
  /** What has been typed after it, trimmed. */
  query: string;
}

/** The unfinished `{{ name` just before the caret, if the caret is inside one. */
export function openTemplateAt(text: string, caret: number): OpenTemplate | null {
  const before = text.slice(0, caret);
  const start = before.lastIndexOf("{{");
  if (start < 0) return null;
  const typed = before.slice(start + 2);
  if (!/^\s*[\w.]*$/.test(typed)) return null;
  return { start, query: typed.trim() };
}

/**
 * `text` with `{{ name }}` inserted: over the unfinished `{{ …` before the caret (and a `}}` right
 * after it) when there is one, else over the selection. Returns the caret to place after it.
 */
export function insertName(
  text: string,
  selection: { start: number; end: number },
  name: string,
): { text: string; caret: number } {
  const snippet = `{{ ${name} }}`;
  const open = selection.start === selection.end ? openTemplateAt(text, selection.start) : null;
  let from = selection.start;
  let to = selection.end;
  if (open) {
    from = open.start;
    const closing = /^[\w.]*\s*}}/.exec(text.slice(to));
    if (closing) to += closing[0].length;
  }
  return { text: text.slice(0, from) + snippet + text.slice(to), caret: from + snippet.length };
}

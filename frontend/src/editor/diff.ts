/**
 * What differs between two definitions: nodes added, removed, changed (field by field, as dotted
 * paths) or only moved, `needs` edges added or removed, and the workflow-level fields.
 * `null`, a missing field and (for objects) `{}` count as the same; arrays other than `needs`
 * compare as one value.
 */
import type { Definition, DefinitionNode } from "../lib/definition";

export interface FieldChange {
  path: string;
  before: unknown;
  after: unknown;
}

export interface NodeChange {
  id: string;
  type: string;
  changes: FieldChange[];
}

export interface EdgeRef {
  from: string;
  to: string;
}

export interface DefinitionDiff {
  nodesAdded: DefinitionNode[];
  nodesRemoved: DefinitionNode[];
  nodesChanged: NodeChange[];
  /** Ids of nodes whose only change is their position on the canvas (both sides placed). */
  nodesMoved: string[];
  edgesAdded: EdgeRef[];
  edgesRemoved: EdgeRef[];
  /** Workflow-level changes: name, description, inputs, trigger, defaults, output, on_failure. */
  fieldsChanged: FieldChange[];
}

const TOP_LEVEL_FIELDS = ["name", "description", "inputs", "trigger", "defaults", "output"] as const;
const GRAPH_FIELDS = new Set(["id", "needs", "position"]);

type Plain = Record<string, unknown>;

function isPlainObject(value: unknown): value is Plain {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (isAbsent(a) && isAbsent(b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, index) => deepEqual(item, b[index]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((key) => deepEqual(a[key], b[key]));
  }
  return Object.is(a, b);
}

/** An object to descend into: the object itself, or `{}` for a missing value; otherwise undefined. */
function asObject(value: unknown): Plain | undefined {
  if (isPlainObject(value)) return value;
  return isAbsent(value) ? {} : undefined;
}

/** Leaf-level differences between two values, as dotted paths under `prefix`. */
export function diffValues(before: unknown, after: unknown, prefix: string, skip?: ReadonlySet<string>): FieldChange[] {
  const a = asObject(before);
  const b = asObject(after);
  if (a && b && (isPlainObject(before) || isPlainObject(after))) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys
      .filter((key) => !skip?.has(key))
      .flatMap((key) => diffValues(a[key], b[key], prefix ? `${prefix}.${key}` : key));
  }
  return deepEqual(before, after) ? [] : [{ path: prefix, before, after }];
}

function edgesOf(nodes: readonly DefinitionNode[]): Map<string, EdgeRef> {
  const edges = new Map<string, EdgeRef>();
  for (const node of nodes) {
    for (const from of node.needs ?? []) edges.set(`${from}->${node.id}`, { from, to: node.id });
  }
  return edges;
}

function diffOnFailure(before: readonly DefinitionNode[], after: readonly DefinitionNode[]): FieldChange[] {
  const old = new Map(before.map((node) => [node.id, node]));
  const now = new Map(after.map((node) => [node.id, node]));
  const ids = [...new Set([...old.keys(), ...now.keys()])];
  return ids.flatMap((id) => {
    const a = old.get(id);
    const b = now.get(id);
    if (!a || !b) return [{ path: `on_failure.${id}`, before: a, after: b }];
    return diffValues(a, b, `on_failure.${id}`, new Set(["id", "position"]));
  });
}

export function diffDefinitions(before: Definition, after: Definition): DefinitionDiff {
  const old = new Map(before.nodes.map((node) => [node.id, node]));
  const now = new Map(after.nodes.map((node) => [node.id, node]));
  const nodesChanged: NodeChange[] = [];
  const nodesMoved: string[] = [];
  for (const node of after.nodes) {
    const previous = old.get(node.id);
    if (!previous) continue;
    const changes = diffValues(previous, node, "", GRAPH_FIELDS);
    if (changes.length > 0) nodesChanged.push({ id: node.id, type: node.type, changes });
    else if (previous.position && node.position && !deepEqual(previous.position, node.position)) nodesMoved.push(node.id);
  }
  const oldEdges = edgesOf(before.nodes);
  const newEdges = edgesOf(after.nodes);
  return {
    nodesAdded: after.nodes.filter((node) => !old.has(node.id)),
    nodesRemoved: before.nodes.filter((node) => !now.has(node.id)),
    nodesChanged,
    nodesMoved,
    edgesAdded: [...newEdges].filter(([key]) => !oldEdges.has(key)).map(([, edge]) => edge),
    edgesRemoved: [...oldEdges].filter(([key]) => !newEdges.has(key)).map(([, edge]) => edge),
    fieldsChanged: [
      ...TOP_LEVEL_FIELDS.flatMap((field) => diffValues(before[field], after[field], field)),
      ...diffOnFailure(before.on_failure ?? [], after.on_failure ?? []),
    ],
  };
}

export function isEmptyDiff(diff: DefinitionDiff): boolean {
  return Object.values(diff).every((part: unknown[]) => part.length === 0);
}

const MAX_VALUE_LENGTH = 80;

/** A value as a person reads it in a diff line: strings quoted, long values shortened. */
export function formatValue(value: unknown): string {
  if (isAbsent(value)) return "(none)";
  const text = typeof value === "string" ? `'${value}'` : JSON.stringify(value);
  const oneLine = text.replace(/\s*\n\s*/g, "⏎");
  return oneLine.length > MAX_VALUE_LENGTH ? `${oneLine.slice(0, MAX_VALUE_LENGTH - 1)}…` : oneLine;
}

export type DiffLineKind = "added" | "removed" | "changed" | "moved";

export interface DiffLine {
  kind: DiffLineKind;
  text: string;
}

const SIGNS: Record<DiffLineKind, string> = { added: "+", removed: "-", changed: "~", moved: "↕" };

function change(path: string, before: unknown, after: unknown): string {
  return `${path} ${formatValue(before)} → ${formatValue(after)}`;
}

/** The diff as readable lines, e.g. "+ node send_email (email.send)", "~ fetch: params.url 'a' → 'b'". */
export function describeDiff(diff: DefinitionDiff): DiffLine[] {
  const line = (kind: DiffLineKind, text: string): DiffLine => ({ kind, text: `${SIGNS[kind]} ${text}` });
  return [
    ...diff.fieldsChanged.map((field) =>
      isAbsent(field.before)
        ? line("added", `${field.path} ${formatValue(field.after)}`)
        : isAbsent(field.after)
          ? line("removed", `${field.path} ${formatValue(field.before)}`)
          : line("changed", change(field.path, field.before, field.after)),
    ),
    ...diff.nodesAdded.map((node) => line("added", `node ${node.id} (${node.type})`)),
    ...diff.nodesRemoved.map((node) => line("removed", `node ${node.id} (${node.type})`)),
    ...diff.nodesChanged.flatMap((node) =>
      node.changes.map((field) => line("changed", `${node.id}: ${change(field.path, field.before, field.after)}`)),
    ),
    ...diff.nodesMoved.map((id) => line("moved", `${id} moved`)),
    ...diff.edgesAdded.map((edge) => line("added", `edge ${edge.from} → ${edge.to}`)),
    ...diff.edgesRemoved.map((edge) => line("removed", `edge ${edge.from} → ${edge.to}`)),
  ];
}

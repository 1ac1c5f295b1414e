/**
 * The editor's client state: the definition being edited (as React Flow nodes/edges plus the
 * non-graph fields), the selection, and undo/redo snapshots. Server data stays in React Query.
 */
import type { Edge } from "@xyflow/react";
import { createStore } from "zustand/vanilla";

import type { Definition, DefinitionNode } from "../lib/definition";
import { freshNodeId } from "../lib/definition";
import type { StepData, StepNode } from "../lib/graph";
import { definitionToGraph, edgeId, graphToDefinition, layoutGraph, wouldCycle } from "../lib/graph";
import { renameNodeReferences } from "../lib/references";

interface Snapshot {
  meta: Definition;
  nodes: StepNode[];
  edges: Edge[];
}

const HISTORY_LIMIT = 100;
/** Edits of the same fields of one node this close together are one undo step (typing). */
const COALESCE_MS = 1000;

type Step = StepData["step"];

function withoutUndefined(step: Step): Step {
  return Object.fromEntries(Object.entries(step).filter(([, value]) => value !== undefined)) as Step;
}

export interface EditorState extends Snapshot {
  selectedId: string | null;
  past: Snapshot[];
  future: Snapshot[];
  dirty: boolean;
  /** The graph as it was when the current drag began: the undo step a finished drag records. */
  dragOrigin: Snapshot | null;
  lastEdit: { key: string; at: number } | null;
  addNode: (type: string, position?: { x: number; y: number }) => string;
  connect: (source: string, target: string) => { ok: true } | { ok: false; reason: string };
  removeElements: (nodeIds: readonly string[], edgeIds: readonly string[]) => void;
  /** Frames of a drag move nodes without history; `endDrag` records the whole drag as one step. */
  dragNodes: (nodes: StepNode[]) => void;
  endDrag: (nodes: StepNode[]) => void;
  updateStep: (id: string, patch: Partial<Omit<DefinitionNode, "id" | "needs" | "position">>) => void;
  renameNode: (from: string, to: string) => void;
  updateMeta: (patch: Partial<Omit<Definition, "nodes">>) => void;
  replaceDefinition: (definition: Definition) => void;
  autoLayout: () => void;
  select: (id: string | null) => void;
  undo: () => void;
  redo: () => void;
  markSaved: () => void;
  definition: () => Definition;
}

export function createEditorStore(initial: Definition) {
  const graph = definitionToGraph(initial);
  return createStore<EditorState>()((set, get) => {
    /** Applies a change, remembering the state before it so undo can bring it back. */
    const commit = (next: Partial<Snapshot> & { selectedId?: string | null }, editKey?: string) => {
      const { meta, nodes, edges, past, dragOrigin, lastEdit } = get();
      const now = Date.now();
      const sameEdit = editKey !== undefined && lastEdit?.key === editKey && now - lastEdit.at < COALESCE_MS;
      set({
        ...next,
        past: sameEdit ? past : [...past, dragOrigin ?? { meta, nodes, edges }].slice(-HISTORY_LIMIT),
        future: [],
        dirty: true,
        dragOrigin: null,
        lastEdit: editKey === undefined ? null : { key: editKey, at: now },
      });
    };
    return {
      meta: initial,
      nodes: graph.nodes,
      edges: graph.edges,
      selectedId: null,
      past: [],
      future: [],
      dirty: false,
      dragOrigin: null,
      lastEdit: null,
      definition: () => {
        const { meta, nodes, edges } = get();
        return graphToDefinition(meta, nodes, edges);
      },
      addNode: (type, position) => {
        const id = freshNodeId(get().definition(), type);
        const { nodes } = get();
        const at = position ?? { x: 40, y: 40 + nodes.length * 100 };
        commit({ nodes: [...nodes, { id, type: "step", position: at, data: { step: { type } } }], selectedId: id });
        return id;
      },
      connect: (source, target) => {
        const { edges } = get();
        if (edges.some((e) => e.source === source && e.target === target)) {
          return { ok: false, reason: `${target} already needs ${source}` };
        }
        if (wouldCycle(edges, source, target)) {
          return { ok: false, reason: `Connecting ${source} → ${target} would create a cycle` };
        }
        commit({ edges: [...edges, { id: edgeId(source, target), source, target }] });
        return { ok: true };
      },
      removeElements: (nodeIds, edgeIds) => {
        if (nodeIds.length === 0 && edgeIds.length === 0) return;
        const gone = new Set(nodeIds);
        const goneEdges = new Set(edgeIds);
        const { nodes, edges, selectedId } = get();
        commit({
          nodes: nodes.filter((n) => !gone.has(n.id)),
          edges: edges.filter((e) => !goneEdges.has(e.id) && !gone.has(e.source) && !gone.has(e.target)),
          selectedId: selectedId && gone.has(selectedId) ? null : selectedId,
        });
      },
      dragNodes: (nodes) => {
        const { meta, edges, dragOrigin } = get();
        set({ nodes, dragOrigin: dragOrigin ?? { meta, nodes: get().nodes, edges } });
      },
      endDrag: (nodes) => commit({ nodes }),
      updateStep: (id, patch) => {
        commit(
          {
            nodes: get().nodes.map((n) =>
              n.id === id ? { ...n, data: { step: withoutUndefined({ ...n.data.step, ...patch }) } } : n,
            ),
          },
          `${id}:${Object.keys(patch).sort().join(",")}`,
        );
      },
      renameNode: (from, to) => {
        const { meta, nodes, edges, selectedId } = get();
        if (from === to || nodes.some((n) => n.id === to)) return;
        const swap = (id: string) => (id === from ? to : id);
        commit({
          // Templates that read the node by its old id would break: they follow the rename.
          meta: { ...meta, output: renameNodeReferences(meta.output, from, to) },
          nodes: nodes.map((n) => ({
            ...n,
            id: swap(n.id),
            data: { step: renameNodeReferences(n.data.step, from, to) },
          })),
          edges: edges.map((e) =>
            e.source === from || e.target === from
              ? { ...e, id: edgeId(swap(e.source), swap(e.target)), source: swap(e.source), target: swap(e.target) }
              : e,
          ),
          selectedId: selectedId === from ? to : selectedId,
        });
      },
      updateMeta: (patch) => commit({ meta: { ...get().meta, ...patch } }, `meta:${Object.keys(patch).sort().join(",")}`),
      replaceDefinition: (definition) => {
        const next = definitionToGraph(definition);
        commit({ meta: definition, nodes: next.nodes, edges: next.edges, selectedId: null });
      },
      autoLayout: () => commit({ nodes: layoutGraph(get().nodes, get().edges) }),
      select: (id) => set({ selectedId: id }),
      undo: () => {
        const { past, future, meta, nodes, edges } = get();
        const previous = past.at(-1);
        if (!previous) return;
        set({ ...previous, past: past.slice(0, -1), future: [{ meta, nodes, edges }, ...future], dirty: true });
      },
      redo: () => {
        const { past, future, meta, nodes, edges } = get();
        const next = future[0];
        if (!next) return;
        set({ ...next, past: [...past, { meta, nodes, edges }], future: future.slice(1), dirty: true });
      },
      markSaved: () => set({ dirty: false }),
    };
  });
}

export type EditorStore = ReturnType<typeof createEditorStore>;

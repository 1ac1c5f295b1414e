/** "Runs after": a node's `needs` as checkboxes, the keyboard's way to draw and remove edges. */
import type { Edge } from "@xyflow/react";

import { edgeId, wouldCycle } from "../lib/graph";
import { useEditorStoreApi } from "./EditorStoreContext";

export function NeedsPicker({
  nodeId,
  nodeIds,
  edges,
  error,
}: {
  nodeId: string;
  nodeIds: readonly string[];
  edges: readonly Edge[];
  error?: string;
}) {
  const store = useEditorStoreApi();
  const others = nodeIds.filter((id) => id !== nodeId);
  const needs = new Set(edges.filter((edge) => edge.target === nodeId).map((edge) => edge.source));

  const toggle = (source: string, on: boolean) => {
    if (on) store.getState().connect(source, nodeId);
    else store.getState().removeElements([], [edgeId(source, nodeId)]);
  };

  return (
    <fieldset data-testid="needs-picker" aria-invalid={error ? true : undefined}>
      <legend className="mb-1 text-sm font-medium text-slate-700">Runs after</legend>
      {others.length === 0 ? (
        <p className="text-xs text-slate-500">No other node yet.</p>
      ) : (
        <ul className="max-h-32 space-y-0.5 overflow-y-auto">
          {others.map((source) => {
            const checked = needs.has(source);
            const cycle = !checked && wouldCycle(edges, source, nodeId);
            return (
              <li key={source}>
                <label className={`flex items-center gap-2 text-xs ${cycle ? "text-slate-400" : ""}`} title={cycle ? `${source} already runs after this node` : undefined}>
                  <input type="checkbox" checked={checked} disabled={cycle} onChange={(event) => toggle(source, event.target.checked)} />
                  <span className="font-mono">{source}</span>
                </label>
              </li>
            );
          })}
        </ul>
      )}
      <p className="mt-1 text-xs text-slate-500">The same as drawing an edge into this node on the canvas.</p>
      {error && <p className="mt-1 text-xs text-rose-700" data-testid="field-error-needs">{error}</p>}
    </fieldset>
  );
}

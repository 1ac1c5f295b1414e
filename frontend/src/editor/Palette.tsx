/** The node palette: search, grouped node types; drag one onto the canvas, or press it to add it. */
import { useState, type DragEvent } from "react";

import { useNodeTypes } from "../api/queries";
import { ErrorState, Spinner } from "../components/ui";
import { NODE_TYPE_MIME, paletteGroups } from "./palette";

export function Palette({ onAdd }: { onAdd: (type: string) => void }) {
  const nodeTypes = useNodeTypes();
  const [search, setSearch] = useState("");

  const startDrag = (event: DragEvent<HTMLButtonElement>, type: string) => {
    event.dataTransfer.setData(NODE_TYPE_MIME, type);
    event.dataTransfer.effectAllowed = "copy";
  };

  const groups = paletteGroups(nodeTypes.data ?? [], search);
  return (
    <aside className="flex w-60 shrink-0 flex-col border-r border-slate-200 bg-white" aria-label="Node palette">
      <div className="border-b border-slate-200 p-2">
        <input
          type="search"
          aria-label="Search node types"
          placeholder="Search nodes…"
          className="input"
          value={search}
          onChange={(event) => setSearch(event.target.value)}
        />
        <p className="mt-1 text-xs text-slate-500">Drag onto the canvas, or press to add.</p>
      </div>
      <div className="min-h-0 flex-1 overflow-y-auto p-2">
        {nodeTypes.isPending && <Spinner label="Loading node types…" />}
        {nodeTypes.isError && <ErrorState error={nodeTypes.error} retry={() => void nodeTypes.refetch()} />}
        {nodeTypes.isSuccess && groups.length === 0 && (
          <p className="p-2 text-sm text-slate-500">No node type matches “{search}”.</p>
        )}
        {groups.map((group) => (
          <section key={group.title} className="mb-3" aria-label={group.title}>
            <h3 className="mb-1 px-1 text-xs font-semibold uppercase tracking-wide text-slate-500">{group.title}</h3>
            {group.types.map((type) => (
              <button
                key={type.type}
                type="button"
                draggable
                data-testid={`palette-${type.type}`}
                className="mb-1 block w-full cursor-grab rounded-md border border-slate-200 px-2 py-1.5 text-left text-sm hover:border-indigo-300 hover:bg-indigo-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
                title={type.description}
                onDragStart={(event) => startDrag(event, type.type)}
                onClick={() => onAdd(type.type)}
              >
                <span className="block font-medium">{type.title}</span>
                <span className="block truncate font-mono text-xs text-slate-500">{type.type}</span>
              </button>
            ))}
          </section>
        ))}
      </div>
    </aside>
  );
}

/** Every node type, grouped by the service it talks to, with the credential kinds it takes. */
import { useState } from "react";

import { useNodeTypes } from "../api/queries";
import { EmptyState, ErrorState, Spinner } from "../components/ui";
import { groupByService, matchesSearch } from "./catalog";

export function NodeCatalog({ onAddCredential }: { onAddCredential?: (kind: string) => void }) {
  const nodeTypes = useNodeTypes();
  const [search, setSearch] = useState("");

  if (nodeTypes.isPending) return <Spinner label="Loading the catalog…" />;
  if (nodeTypes.isError) return <ErrorState error={nodeTypes.error} retry={() => void nodeTypes.refetch()} />;

  const groups = groupByService(nodeTypes.data.filter((entry) => matchesSearch(entry, search))).filter(
    (group) => group.nodeTypes.length > 0,
  );
  return (
    <div className="space-y-4">
      <label className="block max-w-sm text-sm">
        <span className="sr-only">Search node types</span>
        <input
          type="search"
          className="input w-full"
          placeholder="Search node types…"
          value={search}
          onChange={(event) => setSearch(event.target.value)}
        />
      </label>
      {groups.length === 0 && <EmptyState title={`No node type matches “${search}”`} />}
      {groups.map((group) => (
        <section key={group.id} aria-labelledby={`service-${group.id}`} className="space-y-2" data-testid="service-group">
          <h3 id={`service-${group.id}`} className="text-sm font-semibold uppercase tracking-wide text-slate-500">
            {group.title}
          </h3>
          <ul className="grid gap-3 sm:grid-cols-2 xl:grid-cols-3">
            {group.nodeTypes.map((entry) => (
              <li key={entry.type} className="card p-3" data-testid="node-type" data-type={entry.type}>
                <p className="font-medium">{entry.title}</p>
                <p className="font-mono text-xs text-indigo-700">{entry.type}</p>
                <p className="mt-1 text-sm text-slate-600">{entry.description}</p>
                <p className="mt-2 text-xs text-slate-500">
                  {entry.credential_kinds.length === 0
                    ? "No credential"
                    : `${entry.credential_required ? "Needs" : "Optional"} credential: `}
                  {entry.credential_kinds.map((kind, index) => (
                    <span key={kind}>
                      {index > 0 && " or "}
                      {onAddCredential ? (
                        <button
                          type="button"
                          className="font-mono text-indigo-700 hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
                          onClick={() => onAddCredential(kind)}
                          title={`New ${kind} credential`}
                        >
                          {kind}
                        </button>
                      ) : (
                        <span className="font-mono">{kind}</span>
                      )}
                    </span>
                  ))}
                </p>
              </li>
            ))}
          </ul>
        </section>
      ))}
    </div>
  );
}

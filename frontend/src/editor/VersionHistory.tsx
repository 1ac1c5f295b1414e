/**
 * A workflow's saved versions, newest first. Selecting one shows what restoring it would change in
 * the editor; "Restore version N" loads it as one undoable step, to be saved as a new version.
 */
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";

import { http } from "../api/client";
import { keys, useMe } from "../api/queries";
import type { WorkflowVersion } from "../api/types";
import { Button, EmptyState, ErrorState, formatTime, Spinner } from "../components/ui";
import type { Definition } from "../lib/definition";
import { graphToDefinition } from "../lib/graph";
import { describeDiff, type DiffLineKind, diffDefinitions } from "./diff";
import { useEditor, useEditorStoreApi } from "./EditorStoreContext";

const LINE_COLOURS: Record<DiffLineKind, string> = {
  added: "text-emerald-800 bg-emerald-50",
  removed: "text-rose-800 bg-rose-50",
  changed: "text-amber-900 bg-amber-50",
  moved: "text-slate-600",
};

function useVersions(workflowId: string) {
  return useQuery({
    queryKey: keys.versions(workflowId),
    queryFn: async () => (await http.get<WorkflowVersion[]>(`/workflows/${workflowId}/versions`)).data,
  });
}

function authorOf(createdBy: string | null, myId: string | undefined): string | null {
  if (!createdBy) return null;
  return createdBy === myId ? "you" : `user ${createdBy.slice(0, 8)}`;
}

function VersionDiff({ version }: { version: WorkflowVersion }) {
  const { meta, nodes, edges } = useEditor((s) => ({ meta: s.meta, nodes: s.nodes, edges: s.edges }));
  const lines = useMemo(
    () => describeDiff(diffDefinitions(graphToDefinition(meta, nodes, edges), version.definition as unknown as Definition)),
    [meta, nodes, edges, version.definition],
  );
  return (
    <div data-testid="version-diff" aria-label={`Changes if version ${version.version} is restored`} className="text-xs">
      <p className="mb-1 font-medium text-slate-700">Restoring version {version.version} would change the editor:</p>
      {lines.length === 0 ? (
        <p className="text-slate-500">Nothing: the editor holds the same definition.</p>
      ) : (
        <ul className="max-h-72 space-y-0.5 overflow-auto font-mono">
          {lines.map((line, index) => (
            <li key={index} data-kind={line.kind} className={`whitespace-pre-wrap break-all rounded px-1.5 py-0.5 ${LINE_COLOURS[line.kind]}`}>
              {line.text}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function VersionHistory({ workflowId, currentVersion }: { workflowId: string; currentVersion: number }) {
  const versions = useVersions(workflowId);
  const me = useMe();
  const store = useEditorStoreApi();
  const [selected, setSelected] = useState<number | null>(null);
  const [restored, setRestored] = useState<number | null>(null);
  const chosen = versions.data?.find((version) => version.version === selected);

  const restore = (version: WorkflowVersion) => {
    store.getState().replaceDefinition(version.definition as unknown as Definition);
    setRestored(version.version);
  };

  if (versions.isPending) return <Spinner label="Loading versions…" />;
  if (versions.isError) return <ErrorState error={versions.error} retry={() => void versions.refetch()} />;
  if (versions.data.length === 0) return <EmptyState title="No saved versions yet." />;

  return (
    <div className="space-y-3 p-3" data-testid="version-history">
      <ul className="divide-y divide-slate-100 rounded-md border border-slate-200" aria-label="Versions">
        {versions.data.map((version) => {
          const author = authorOf(version.created_by, me.data?.id);
          const isSelected = version.version === selected;
          return (
            <li key={version.version}>
              <button
                type="button"
                data-testid={`version-${version.version}`}
                aria-pressed={isSelected}
                onClick={() => {
                  setSelected(isSelected ? null : version.version);
                  setRestored(null);
                }}
                className={`flex w-full items-baseline justify-between gap-2 px-3 py-2 text-left text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-indigo-500 ${isSelected ? "bg-indigo-50" : "hover:bg-slate-50"}`}
              >
                <span className="font-medium">
                  Version {version.version}
                  {version.version === currentVersion && (
                    <span className="ml-2 rounded-full bg-slate-100 px-2 py-0.5 text-xs font-normal text-slate-600">current</span>
                  )}
                </span>
                <span className="text-xs text-slate-500">
                  {formatTime(version.created_at)}
                  {author && ` · by ${author}`}
                </span>
              </button>
            </li>
          );
        })}
      </ul>
      {chosen ? (
        <div className="space-y-3 rounded-md border border-slate-200 p-3">
          <VersionDiff version={chosen} />
          <Button tone="primary" onClick={() => restore(chosen)}>
            Restore version {chosen.version}
          </Button>
          {restored === chosen.version ? (
            <p role="status" className="text-xs text-emerald-800">
              Version {chosen.version} is loaded in the editor. Save to keep it as version {currentVersion + 1}, or undo to go back.
            </p>
          ) : (
            <p className="text-xs text-slate-500">
              Restoring loads this version into the editor as unsaved changes; saving it makes a new version ({currentVersion + 1}). No version is
              deleted.
            </p>
          )}
        </div>
      ) : (
        <p className="text-xs text-slate-500">Select a version to compare it with the editor.</p>
      )}
    </div>
  );
}

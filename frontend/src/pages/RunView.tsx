/** One run: header, live status graph, node detail, controls and timeline. */
import { useQuery } from "@tanstack/react-query";
import { useCallback } from "react";
import { Link, useParams, useSearchParams } from "react-router";

import { http } from "../api/client";
import { keys, useRun, useWorkflow } from "../api/queries";
import type { WorkflowVersion } from "../api/types";
import { EmptyState, ErrorState, formatDuration, formatTime, PageHeader, Spinner, StatusBadge } from "../components/ui";
import type { Definition } from "../lib/definition";
import { Json } from "../runs/Json";
import { NodeDetail } from "../runs/NodeDetail";
import { RunControls } from "../runs/RunControls";
import { RunGraph } from "../runs/RunGraph";
import { RunTimeline } from "../runs/RunTimeline";
import { useRunEvents } from "../runs/useRunEvents";

export default function RunView() {
  const { runId } = useParams();
  const run = useRun(runId);
  const workflowId = run.data?.workflow_id;
  const workflow = useWorkflow(workflowId);
  const versions = useQuery({
    queryKey: keys.versions(workflowId ?? ""),
    queryFn: async () => (await http.get<WorkflowVersion[]>(`/workflows/${workflowId}/versions`)).data,
    enabled: Boolean(workflowId),
    staleTime: 60_000,
  });
  useRunEvents(runId, run.data?.status);
  // The selected node lives in the URL so a link can point at it.
  const [search, setSearch] = useSearchParams();
  const selected = search.get("node");
  const open = useCallback(
    (id: string) => setSearch((prev) => { const next = new URLSearchParams(prev); next.set("node", id); return next; }, { replace: true }),
    [setSearch],
  );
  const close = () => setSearch((prev) => { const next = new URLSearchParams(prev); next.delete("node"); return next; }, { replace: true });

  if (run.isPending) return <Spinner label="Loading run…" />;
  if (run.isError) return <ErrorState error={run.error} retry={() => void run.refetch()} />;
  const data = run.data;
  const tasks = data.nodes ?? [];
  const version = versions.data?.find((v) => v.version === data.version);
  const title = workflow.data?.name ?? "Run";

  return (
    <div>
      <PageHeader title={`Run of ${title}`}>
        <a href={data.temporal_url} target="_blank" rel="noreferrer" className="text-sm text-indigo-700 hover:underline">
          Open in Temporal ↗
        </a>
      </PageHeader>
      <div className="space-y-4 p-6">
        <section className="card grid grid-cols-2 gap-x-6 gap-y-2 p-4 text-sm md:grid-cols-4" aria-label="Run summary">
          <div>
            <div className="text-xs text-slate-500">Status</div>
            <span data-testid="run-status" data-status={data.status}>
              <StatusBadge status={data.status} />
            </span>
          </div>
          <div>
            <div className="text-xs text-slate-500">Workflow</div>
            <Link to={`/workflows/${data.workflow_id}`} className="text-indigo-700 hover:underline">
              {workflow.data?.name ?? data.workflow_id}
            </Link>{" "}
            <span className="text-slate-500">v{data.version}</span>
          </div>
          <div>
            <div className="text-xs text-slate-500">Trigger</div>
            {data.trigger}
          </div>
          <div>
            <div className="text-xs text-slate-500">Duration</div>
            {formatDuration(data.started_at, data.finished_at)}
          </div>
          <div>
            <div className="text-xs text-slate-500">Created</div>
            {formatTime(data.created_at)}
          </div>
          <div>
            <div className="text-xs text-slate-500">Started</div>
            {formatTime(data.started_at)}
          </div>
          <div>
            <div className="text-xs text-slate-500">Finished</div>
            {formatTime(data.finished_at)}
          </div>
          <div>
            <div className="text-xs text-slate-500">Run id</div>
            <span className="font-mono text-xs">{data.id}</span>
          </div>
        </section>
        {data.error && (
          <div role="alert" data-testid="run-error" className="rounded-md border border-rose-200 bg-rose-50 p-3 text-sm text-rose-800">
            {data.error}
          </div>
        )}
        <RunControls run={data} definition={version?.definition as unknown as Definition | undefined} />
        <div className="grid gap-4 lg:grid-cols-[1fr_380px]">
          <div>
            {versions.isPending ? (
              <Spinner label="Loading graph…" />
            ) : versions.isError ? (
              <ErrorState error={versions.error} retry={() => void versions.refetch()} />
            ) : version ? (
              <RunGraph definition={version.definition as unknown as Definition} tasks={tasks} selected={selected} onOpen={open} />
            ) : (
              <EmptyState title={`Version ${data.version} of this workflow was not found.`} />
            )}
          </div>
          <div>
            {selected ? (
              <NodeDetail runId={data.id} nodeId={selected} task={tasks.find((t) => t.node_id === selected)} onClose={close} />
            ) : (
              <p className="card p-4 text-sm text-slate-500">Select a node to see its input, output and timings.</p>
            )}
          </div>
        </div>
        <RunTimeline tasks={tasks} onOpen={open} />
        <section className="card p-4" aria-label="Run output">
          <h2 className="mb-2 text-sm font-semibold">Output</h2>
          <Json value={data.output} testId="run-output" wholeUrl={`/runs/${data.id}/output`} />
          {data.inputs && Object.keys(data.inputs).length > 0 && (
            <>
              <h2 className="mb-2 mt-3 text-sm font-semibold">Inputs</h2>
              <Json value={data.inputs} />
            </>
          )}
        </section>
      </div>
    </div>
  );
}

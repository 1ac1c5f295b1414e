/** One node of a run: status, attempts, rendered input, output, error and timings. */
import type { TaskPublic } from "../api/types";
import { Button, formatDuration, formatTime, StatusBadge } from "../components/ui";
import { Json } from "./Json";

export function NodeDetail({
  runId,
  nodeId,
  task,
  onClose,
}: {
  runId: string;
  nodeId: string;
  task: TaskPublic | undefined;
  onClose: () => void;
}) {
  const wholeUrl = (part: "input" | "output") => `/runs/${runId}/nodes/${encodeURIComponent(nodeId)}/${part}`;
  return (
    <aside data-testid="node-detail" aria-label={`Node ${nodeId}`} className="card space-y-3 p-4">
      <div className="flex items-center justify-between gap-2">
        <h2 className="font-semibold">{nodeId}</h2>
        <Button tone="ghost" onClick={onClose} aria-label="Close node detail">
          ✕
        </Button>
      </div>
      {!task ? (
        <p className="text-sm text-slate-500">
          <StatusBadge status="pending" /> This node has not started yet.
        </p>
      ) : (
        <>
          <dl className="grid grid-cols-2 gap-x-3 gap-y-1 text-sm">
            <dt className="text-slate-500">Status</dt>
            <dd>
              <StatusBadge status={task.status} />
            </dd>
            <dt className="text-slate-500">Type</dt>
            <dd>{task.type}</dd>
            <dt className="text-slate-500">Attempts</dt>
            <dd>{task.attempts}</dd>
            <dt className="text-slate-500">Started</dt>
            <dd>{formatTime(task.started_at)}</dd>
            <dt className="text-slate-500">Finished</dt>
            <dd>{formatTime(task.finished_at)}</dd>
            <dt className="text-slate-500">Duration</dt>
            <dd>{formatDuration(task.started_at, task.finished_at)}</dd>
          </dl>
          {task.error && (
            <div role="alert" className="rounded-md border border-rose-200 bg-rose-50 p-2 text-sm text-rose-800">
              {task.error}
            </div>
          )}
          <section>
            <h3 className="mb-1 text-xs font-semibold uppercase text-slate-500">Input</h3>
            <Json value={task.input} wholeUrl={wholeUrl("input")} />
          </section>
          <section>
            <h3 className="mb-1 text-xs font-semibold uppercase text-slate-500">Output</h3>
            <Json value={task.output} testId="node-output" wholeUrl={wholeUrl("output")} />
          </section>
        </>
      )}
    </aside>
  );
}

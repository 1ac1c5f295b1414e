/** A table of runs: status, workflow, version, trigger, started, duration; each row links to the run. */
import { Link } from "react-router";

import type { RunPublic } from "../api/types";
import { formatDuration, formatTime, StatusBadge } from "../components/ui";

export function RunTable({ runs, names }: { runs: readonly RunPublic[]; names: ReadonlyMap<string, string> }) {
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-left text-sm" data-testid="run-table">
        <thead className="border-b border-slate-200 text-xs uppercase text-slate-500">
          <tr>
            <th className="px-3 py-2">Status</th>
            <th className="px-3 py-2">Workflow</th>
            <th className="px-3 py-2">Version</th>
            <th className="px-3 py-2">Trigger</th>
            <th className="px-3 py-2">Started</th>
            <th className="px-3 py-2">Duration</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.id} data-testid={`run-row-${run.id}`} className="border-b border-slate-100 hover:bg-slate-50">
              <td className="px-3 py-2">
                <Link to={`/runs/${run.id}`} className="focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500" aria-label={`Run ${run.id}: ${run.status}`}>
                  <StatusBadge status={run.status} />
                </Link>
              </td>
              <td className="px-3 py-2">
                <Link to={`/runs/${run.id}`} className="text-indigo-700 hover:underline">
                  {names.get(run.workflow_id) ?? run.workflow_id.slice(0, 8)}
                </Link>
              </td>
              <td className="px-3 py-2">v{run.version}</td>
              <td className="px-3 py-2">{run.trigger}</td>
              <td className="px-3 py-2">{formatTime(run.started_at ?? run.created_at)}</td>
              <td className="px-3 py-2">{formatDuration(run.started_at, run.finished_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Overview: runs over time, success rate, recent/failing/waiting runs and next scheduled fires. */
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link } from "react-router";

import { http } from "../api/client";
import { useWorkflows } from "../api/queries";
import type { Page, RunPublic } from "../api/types";
import { EmptyState, ErrorState, formatTime, PageHeader, Spinner, StatusBadge } from "../components/ui";
import { NextFires } from "../runs/NextFires";
import { RunsChart } from "../runs/RunsChart";
import { bucketRuns, successRate, type Granularity } from "../runs/stats";
import { FINISHED } from "../runs/useRunEvents";

const PAGES = 3;

/** The most recent runs (up to PAGES pages of 200): enough for the chart without reading the whole history. */
async function recentRuns(): Promise<RunPublic[]> {
  const runs: RunPublic[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < PAGES; i++) {
    const page = (await http.get<Page<RunPublic>>("/runs", { params: { limit: 200, cursor } })).data;
    runs.push(...page.items);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return runs;
}

function RunLinks({ runs, names, empty, testId }: { runs: readonly RunPublic[]; names: ReadonlyMap<string, string>; empty: string; testId: string }) {
  if (runs.length === 0) return <p className="text-sm text-slate-500">{empty}</p>;
  return (
    <ul className="space-y-1.5 text-sm" data-testid={testId}>
      {runs.map((run) => (
        <li key={run.id} className="flex items-center justify-between gap-2">
          <Link to={`/runs/${run.id}`} className="flex min-w-0 items-center gap-2 hover:underline">
            <StatusBadge status={run.status} />
            <span className="truncate">{names.get(run.workflow_id) ?? run.workflow_id.slice(0, 8)}</span>
          </Link>
          <span className="shrink-0 text-xs text-slate-500">{formatTime(run.created_at)}</span>
        </li>
      ))}
    </ul>
  );
}

export function Dashboard() {
  const workflows = useWorkflows();
  const [granularity, setGranularity] = useState<Granularity>("day");
  const runs = useQuery({
    queryKey: ["runs", "dashboard"],
    queryFn: recentRuns,
    refetchInterval: (query) => (query.state.data?.some((run) => !FINISHED.has(run.status)) ? 5000 : 30_000),
  });
  const names = useMemo(() => new Map((workflows.data?.items ?? []).map((w) => [w.id, w.name])), [workflows.data]);
  const all = runs.data ?? [];
  const buckets = useMemo(
    () => bucketRuns(all, granularity, granularity === "day" ? 14 : 24, Date.now()),
    [all, granularity],
  );

  if (runs.isPending || workflows.isPending) return <Spinner label="Loading dashboard…" />;
  if (runs.isError) return <ErrorState error={runs.error} retry={() => void runs.refetch()} />;
  if (workflows.isError) return <ErrorState error={workflows.error} retry={() => void workflows.refetch()} />;

  if (workflows.data.items.length === 0 && all.length === 0) {
    return (
      <div>
        <PageHeader title="Dashboard" />
        <EmptyState title="Welcome to Flowpilot">
          <p>You have no workflows yet.</p>
          <p className="mt-3 flex justify-center gap-3">
            <Link to="/workflows/new" className="rounded-md bg-indigo-600 px-3 py-1.5 text-white hover:bg-indigo-500">
              Create a workflow
            </Link>
            <Link to="/workflows/draft" className="rounded-md border border-slate-300 px-3 py-1.5 hover:bg-slate-100">
              Open the editor
            </Link>
          </p>
        </EmptyState>
      </div>
    );
  }

  const rate = successRate(all);
  const waiting = all.filter((run) => run.status === "waiting");
  const failing = all.filter((run) => run.status === "failed").slice(0, 8);

  return (
    <div>
      <PageHeader title="Dashboard">
        <Link to="/runs" className="text-sm text-indigo-700 hover:underline">
          All runs
        </Link>
      </PageHeader>
      <div className="grid gap-4 p-6 lg:grid-cols-3">
        <section className="card p-4 lg:col-span-2" aria-label="Runs over time">
          <div className="mb-2 flex items-center justify-between">
            <h2 className="text-sm font-semibold">Runs over time</h2>
            <div role="group" aria-label="Chart granularity" className="flex gap-1 text-xs">
              {(["day", "hour"] as const).map((g) => (
                <button
                  key={g}
                  type="button"
                  aria-pressed={granularity === g}
                  onClick={() => setGranularity(g)}
                  className={`rounded px-2 py-1 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 ${granularity === g ? "bg-indigo-100 text-indigo-800" : "hover:bg-slate-100"}`}
                >
                  {g === "day" ? "14 days" : "24 hours"}
                </button>
              ))}
            </div>
          </div>
          <RunsChart buckets={buckets} granularity={granularity} />
        </section>
        <section className="card p-4" aria-label="Success rate">
          <h2 className="text-sm font-semibold">Success rate</h2>
          <p className="mt-2 text-4xl font-semibold" data-testid="success-rate">
            {rate === null ? "—" : `${Math.round(rate * 100)}%`}
          </p>
          <p className="mt-1 text-xs text-slate-500">
            of the {all.filter((run) => FINISHED.has(run.status)).length} finished runs among the last {all.length}
          </p>
          <h2 className="mt-5 text-sm font-semibold">Next scheduled fires</h2>
          <div className="mt-2">
            <NextFires workflows={workflows.data.items} />
          </div>
        </section>
        <section className="card p-4" aria-label="Waiting for approval">
          <h2 className="mb-2 text-sm font-semibold">Waiting for approval</h2>
          <RunLinks runs={waiting} names={names} empty="Nothing is waiting for approval." testId="waiting-runs" />
        </section>
        <section className="card p-4" aria-label="Failing runs">
          <h2 className="mb-2 text-sm font-semibold">Failing runs</h2>
          <RunLinks runs={failing} names={names} empty="No failed runs recently." testId="failing-runs" />
        </section>
        <section className="card p-4" aria-label="Recent runs">
          <h2 className="mb-2 text-sm font-semibold">Recent runs</h2>
          <RunLinks runs={all.slice(0, 8)} names={names} empty="No runs yet." testId="recent-runs" />
        </section>
      </div>
    </div>
  );
}

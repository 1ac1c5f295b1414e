/** Run history: newest first, filtered by workflow and status (kept in the URL), paged with "Load more". */
import { useInfiniteQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { useSearchParams } from "react-router";

import { http } from "../api/client";
import { useWorkflows } from "../api/queries";
import type { Page, RunPublic, RunStatus } from "../api/types";
import { Button, EmptyState, ErrorState, PageHeader, Spinner } from "../components/ui";
import { RunTable } from "../runs/RunTable";
import { FINISHED } from "../runs/useRunEvents";

const STATUSES: RunStatus[] = ["pending", "running", "waiting", "succeeded", "failed", "cancelled"];

export function RunList() {
  const [search, setSearch] = useSearchParams();
  const workflowId = search.get("workflow_id") ?? "";
  const statusParam = search.get("status") ?? "";
  const status = (STATUSES as string[]).includes(statusParam) ? (statusParam as RunStatus) : undefined;
  const workflows = useWorkflows();
  const names = useMemo(() => new Map((workflows.data?.items ?? []).map((w) => [w.id, w.name])), [workflows.data]);

  const runs = useInfiniteQuery({
    queryKey: ["runs", "history", { workflow_id: workflowId || undefined, status }],
    queryFn: async ({ pageParam }) =>
      (
        await http.get<Page<RunPublic>>("/runs", {
          params: { workflow_id: workflowId || undefined, status, cursor: pageParam, limit: 50 },
        })
      ).data,
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    // Keep unfinished runs fresh without a reload.
    refetchInterval: (query) =>
      query.state.data?.pages.some((page) => page.items.some((run) => !FINISHED.has(run.status))) ? 3000 : false,
  });
  const items = runs.data?.pages.flatMap((page) => page.items) ?? [];

  const setFilter = (name: string, value: string) =>
    setSearch((prev) => {
      const next = new URLSearchParams(prev);
      if (value) next.set(name, value);
      else next.delete(name);
      return next;
    });

  return (
    <div>
      <PageHeader title="Runs" />
      <div className="space-y-4 p-6">
        <div className="flex flex-wrap items-end gap-3">
          <label className="text-sm">
            <span className="mb-1 block text-xs text-slate-500">Workflow</span>
            <select className="input" value={workflowId} onChange={(e) => setFilter("workflow_id", e.target.value)}>
              <option value="">All workflows</option>
              {(workflows.data?.items ?? []).map((w) => (
                <option key={w.id} value={w.id}>
                  {w.name}
                </option>
              ))}
            </select>
          </label>
          <label className="text-sm">
            <span className="mb-1 block text-xs text-slate-500">Status</span>
            <select className="input" value={status ?? ""} onChange={(e) => setFilter("status", e.target.value)}>
              <option value="">Any status</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
        </div>
        <div className="card">
          {runs.isPending ? (
            <Spinner label="Loading runs…" />
          ) : runs.isError ? (
            <ErrorState error={runs.error} retry={() => void runs.refetch()} />
          ) : items.length === 0 ? (
            <EmptyState title={workflowId || status ? "No runs match these filters." : "No runs yet."}>
              Start a run from a workflow's editor.
            </EmptyState>
          ) : (
            <RunTable runs={items} names={names} />
          )}
        </div>
        {runs.hasNextPage && (
          <Button disabled={runs.isFetchingNextPage} onClick={() => void runs.fetchNextPage()}>
            {runs.isFetchingNextPage ? "Loading…" : "Load more"}
          </Button>
        )}
      </div>
    </div>
  );
}

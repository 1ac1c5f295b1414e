/** Who did what, newest first; the filters live in the URL so a view can be shared. */
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { type FormEvent, useEffect, useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";

import { http } from "../api/client";
import type { AuditLogPublic, Page, UserPublic } from "../api/types";
import { Button, EmptyState, ErrorState, formatTime, Spinner } from "../components/ui";
import { type AuditFilters, apiParams, filtersFromSearch, KNOWN_ACTIONS, searchFromFilters } from "./auditFilters";
import { userKeys } from "./UsersTab";

const PAGE_SIZE = 50;

function Details({ details }: { details: Record<string, unknown> }) {
  const entries = Object.entries(details);
  if (entries.length === 0) return <span className="text-slate-400">—</span>;
  return (
    <ul className="space-y-0.5 font-mono text-xs">
      {entries.map(([key, value]) => (
        <li key={key}>
          <span className="text-slate-500">{key}:</span> {typeof value === "string" ? value : JSON.stringify(value)}
        </li>
      ))}
    </ul>
  );
}

/** A value that, followed, narrows the log to the entries sharing it. */
function FilterLink({ name, value }: { name: "action" | "target"; value: string }) {
  return (
    <Link
      to={`?${new URLSearchParams({ [name]: value }).toString()}`}
      className="break-all text-slate-800 hover:text-indigo-700 hover:underline"
      title={`Only entries with this ${name}`}
    >
      {value}
    </Link>
  );
}

export function AuditTab() {
  const [search, setSearch] = useSearchParams();
  const applied = filtersFromSearch(search);
  const [draft, setDraft] = useState<AuditFilters>(applied);
  const searchText = search.toString();
  // Back/forward and followed links change the URL under the form: show what is applied.
  useEffect(() => setDraft(filtersFromSearch(new URLSearchParams(searchText))), [searchText]);
  const query = apiParams(applied);
  const users = useQuery({
    queryKey: userKeys.all,
    queryFn: async () => (await http.get<UserPublic[]>("/users")).data,
  });
  const emails = useMemo(() => new Map((users.data ?? []).map((user) => [user.id, user.email])), [users.data]);
  const invalid = Object.keys(query.errors).length > 0;

  const logs = useInfiniteQuery({
    queryKey: ["audit-logs", query.params],
    queryFn: async ({ pageParam }) =>
      (
        await http.get<Page<AuditLogPublic>>("/audit-logs", {
          params: { ...query.params, limit: PAGE_SIZE, ...(pageParam ? { cursor: pageParam } : {}) },
        })
      ).data,
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor ?? null,
    enabled: !invalid,
  });

  const apply = (event: FormEvent) => {
    event.preventDefault();
    setSearch(searchFromFilters(draft));
  };
  const clear = () => {
    const empty = { action: "", actor_id: "", target: "", since: "" };
    setDraft(empty);
    setSearch(new URLSearchParams());
  };
  const set = (name: keyof AuditFilters) => (value: string) => setDraft((current) => ({ ...current, [name]: value }));
  const items = logs.data?.pages.flatMap((page) => page.items) ?? [];
  const nextPageError = logs.isFetchNextPageError ? logs.error : null;
  const loadMore = () => void logs.fetchNextPage();

  return (
    <section aria-labelledby="audit-title" className="space-y-4">
      <h2 id="audit-title" className="font-semibold">
        Audit log
      </h2>
      <form onSubmit={apply} className="flex flex-wrap items-end gap-3 text-sm" aria-label="Filter the audit log">
        <label>
          Action
          <input className="input mt-1 block w-48" list="audit-actions" value={draft.action} onChange={(event) => set("action")(event.target.value)} />
          <datalist id="audit-actions">
            {KNOWN_ACTIONS.map((action) => (
              <option key={action} value={action} />
            ))}
          </datalist>
        </label>
        <label>
          Actor
          <select className="input mt-1 block w-56" value={draft.actor_id} onChange={(event) => set("actor_id")(event.target.value)}>
            <option value="">Anyone</option>
            {draft.actor_id && !emails.has(draft.actor_id) && <option value={draft.actor_id}>{draft.actor_id}</option>}
            {(users.data ?? []).map((user) => (
              <option key={user.id} value={user.id}>
                {user.email}
              </option>
            ))}
          </select>
        </label>
        <label>
          Target
          <input
            className="input mt-1 block w-56"
            placeholder="e.g. workflow:<id>"
            value={draft.target}
            onChange={(event) => set("target")(event.target.value)}
          />
        </label>
        <label>
          Since
          <input className="input mt-1 block" type="datetime-local" value={draft.since} onChange={(event) => set("since")(event.target.value)} />
        </label>
        <Button tone="primary" type="submit">
          Apply filters
        </Button>
        <Button tone="ghost" onClick={clear}>
          Clear
        </Button>
      </form>
      {invalid ? (
        <ErrorState error={new Error(Object.entries(query.errors).map(([name, why]) => `${name}: ${why}`).join("; "))} />
      ) : logs.isPending ? (
        <Spinner label="Loading the audit log…" />
      ) : logs.isError ? (
        <ErrorState error={logs.error} retry={() => void logs.refetch()} />
      ) : items.length === 0 ? (
        <EmptyState title={search.size > 0 ? "Nothing matches these filters" : "Nothing recorded yet"} />
      ) : (
        <>
          <div className="card overflow-x-auto">
            <table className="w-full text-sm" aria-label="Audit log">
              <thead className="border-b border-slate-200 text-left text-xs uppercase tracking-wide text-slate-500">
                <tr>
                  <th scope="col" className="px-3 py-2">When</th>
                  <th scope="col" className="px-3 py-2">Actor</th>
                  <th scope="col" className="px-3 py-2">Action</th>
                  <th scope="col" className="px-3 py-2">Target</th>
                  <th scope="col" className="px-3 py-2">From</th>
                  <th scope="col" className="px-3 py-2">Details</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100 align-top">
                {items.map((entry) => (
                  <tr key={entry.id} data-testid="audit-row" data-action={entry.action}>
                    <td className="whitespace-nowrap px-3 py-2 text-slate-600">{formatTime(entry.created_at)}</td>
                    <td className="px-3 py-2">{entry.actor_id ? (emails.get(entry.actor_id) ?? entry.actor_id) : "—"}</td>
                    <td className="px-3 py-2 font-mono text-xs">
                      <FilterLink name="action" value={entry.action} />
                    </td>
                    <td className="px-3 py-2 font-mono text-xs">{entry.target ? <FilterLink name="target" value={entry.target} /> : "—"}</td>
                    <td className="px-3 py-2 text-xs text-slate-500">{entry.ip ?? "—"}</td>
                    <td className="px-3 py-2">
                      <Details details={entry.details ?? {}} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {logs.hasNextPage && (
            <Button onClick={loadMore} disabled={logs.isFetchingNextPage}>
              {logs.isFetchingNextPage ? "Loading…" : "Load more"}
            </Button>
          )}
          {nextPageError && <ErrorState error={nextPageError} retry={loadMore} />}
        </>
      )}
    </section>
  );
}

/**
 * Workflows: a searchable table (search kept in the URL as `?q=`) with each workflow's version,
 * trigger and pause state, links to its editor and runs, pause/resume for triggered workflows,
 * export as a JSON file, and delete behind a confirmation; import of JSON files.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";

import { http, messageOf, problemsOf, type Problem } from "../api/client";
import { keys, useMe, useWorkflows } from "../api/queries";
import type { Page, ValidateResponse, WorkflowPublic } from "../api/types";
import { Button, EmptyState, ErrorState, formatTime, PageHeader, Spinner } from "../components/ui";
import { download, exportFileName, exportText, importWorkflows, type Definition, type ImportApi, type ImportReport } from "../workflows/importExport";

const LINK_BUTTON = "inline-flex items-center rounded-md px-3 py-1.5 text-sm font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500";
const PRIMARY_LINK = `${LINK_BUTTON} bg-indigo-600 text-white hover:bg-indigo-500`;
const SECONDARY_LINK = `${LINK_BUTTON} border border-slate-300 bg-white text-slate-800 hover:bg-slate-100`;

/** Trigger kinds whose runs can be paused (the schedule stops firing, the webhook refuses). */
const PAUSABLE = new Set(["schedule", "webhook"]);

function triggerOf(workflow: WorkflowPublic): { type: string; detail?: string } {
  const type = typeof workflow.trigger.type === "string" ? workflow.trigger.type : "manual";
  const cron = workflow.trigger.cron;
  return { type, detail: type === "schedule" && typeof cron === "string" ? cron : undefined };
}

function matches(workflow: WorkflowPublic, query: string): boolean {
  const needle = query.trim().toLowerCase();
  return needle === "" || `${workflow.name}\n${workflow.description}`.toLowerCase().includes(needle);
}

function useWorkflowActions(onError: (message: string) => void) {
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: keys.workflows });
  const pause = useMutation({
    mutationFn: async ({ id, paused }: { id: string; paused: boolean }) =>
      (await http.post<WorkflowPublic>(`/workflows/${id}/${paused ? "pause" : "resume"}`)).data,
    onSuccess: refresh,
    onError: (error) => onError(messageOf(error)),
  });
  const remove = useMutation({
    mutationFn: async (id: string) => {
      await http.delete(`/workflows/${id}`);
    },
    onSuccess: refresh,
    onError: (error) => onError(messageOf(error)),
  });
  return { pause, remove };
}

/** The server side of an import, for the user `ownerId`. */
function importApi(ownerId: string | undefined): ImportApi {
  return {
    validate: async (definition) => (await http.post<ValidateResponse>("/workflows/validate", { definition })).data,
    ownWorkflows: async () => {
      const all: WorkflowPublic[] = [];
      let cursor: string | null | undefined;
      do {
        const page = (await http.get<Page<WorkflowPublic>>("/workflows", { params: { limit: 200, ...(cursor ? { cursor } : {}) } })).data;
        all.push(...page.items);
        cursor = page.next_cursor;
      } while (cursor);
      return all.filter((workflow) => workflow.owner_id === ownerId);
    },
    create: async (definition: Definition) => (await http.post<WorkflowPublic>("/workflows", { definition })).data,
    problemsOf,
  };
}

function useImport(ownerId: string | undefined) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (files: File[]) =>
      importWorkflows(await Promise.all(files.map(async (file) => ({ file: file.name, text: await file.text() }))), importApi(ownerId)),
    onSuccess: (report) => {
      if (report.changed) void queryClient.invalidateQueries({ queryKey: keys.workflows });
    },
  });
}

function problemText(problem: Problem): string {
  const where = [problem.node && `node '${problem.node}'`, problem.field && `field '${problem.field}'`].filter(Boolean).join(", ");
  return where ? `${where}: ${problem.message}` : problem.message;
}

function ImportControl({ onImport, busy }: { onImport: (files: File[]) => void; busy: boolean }) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <input
        ref={input}
        type="file"
        accept=".json,application/json"
        multiple
        hidden
        aria-label="Workflow files to import"
        onChange={(event) => {
          const files = Array.from(event.target.files ?? []);
          event.target.value = "";
          if (files.length > 0) onImport(files);
        }}
      />
      <Button disabled={busy} onClick={() => input.current?.click()}>
        {busy ? "Importing…" : "Import"}
      </Button>
    </>
  );
}

function ImportResult({ report, onDismiss }: { report: ImportReport; onDismiss: () => void }) {
  const refused = report.outcomes.filter((outcome) => outcome.action === "refused");
  const created = report.outcomes.filter((outcome) => outcome.action === "created").length;
  const summary =
    refused.length === 0
      ? `Imported: ${created} created, ${report.outcomes.length - created} already here unchanged.`
      : report.changed
        ? `The import stopped at ${refused[0]!.file}; the files before it were created.`
        : `Nothing was imported: ${refused.length} file(s) have problems. Fix them and import again.`;
  return (
    <section
      aria-label="Import result"
      className={`rounded-md border p-3 text-sm ${refused.length ? "border-rose-200 bg-rose-50 text-rose-900" : "border-emerald-200 bg-emerald-50 text-emerald-900"}`}
    >
      <div className="flex items-start justify-between gap-3">
        <p className="font-medium">{summary}</p>
        <Button tone="ghost" onClick={onDismiss}>
          Dismiss
        </Button>
      </div>
      <ul className="mt-2 space-y-1">
        {report.outcomes.map((outcome) => (
          <li key={outcome.file} data-testid={`import-${outcome.file}`}>
            <code>{outcome.file}</code>{" "}
            {outcome.action === "refused" ? (
              <ul className="ml-4 list-disc">
                {outcome.problems.map((problem, index) => (
                  <li key={index}>{problemText(problem)}</li>
                ))}
              </ul>
            ) : outcome.action === "created" ? (
              <>
                — created <Link to={`/workflows/${outcome.workflowId}`}>{outcome.name}</Link>
              </>
            ) : outcome.action === "unchanged" ? (
              <>— {outcome.name} is already here, unchanged</>
            ) : (
              <>— {outcome.name} not created</>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

function DeleteControl({ workflow, busy, onDelete }: { workflow: WorkflowPublic; busy: boolean; onDelete: () => void }) {
  const [confirming, setConfirming] = useState(false);
  if (!confirming) {
    return (
      <Button tone="ghost" className="text-rose-700!" aria-label={`Delete ${workflow.name}`} disabled={busy} onClick={() => setConfirming(true)}>
        {busy ? "Deleting…" : "Delete"}
      </Button>
    );
  }
  return (
    <span role="group" aria-label={`Confirm deleting ${workflow.name}`} className="inline-flex items-center gap-1">
      <span className="text-xs text-rose-800">Delete with its runs?</span>
      <Button
        tone="danger"
        aria-label={`Yes, delete ${workflow.name}`}
        onClick={() => {
          setConfirming(false);
          onDelete();
        }}
      >
        Delete
      </Button>
      <Button tone="ghost" autoFocus onClick={() => setConfirming(false)}>
        Cancel
      </Button>
    </span>
  );
}

function WorkflowRow({
  workflow,
  canEdit,
  actions,
}: {
  workflow: WorkflowPublic;
  canEdit: boolean;
  actions: ReturnType<typeof useWorkflowActions>;
}) {
  const trigger = triggerOf(workflow);
  const pausing = actions.pause.isPending && actions.pause.variables?.id === workflow.id;
  const deleting = actions.remove.isPending && actions.remove.variables === workflow.id;
  return (
    <tr data-testid={`workflow-row-${workflow.id}`} className={`border-b border-slate-100 hover:bg-slate-50 ${deleting ? "opacity-50" : ""}`}>
      <td className="px-3 py-2">
        <Link to={`/workflows/${workflow.id}`} className="font-medium text-indigo-700 hover:underline">
          {workflow.name}
        </Link>
        {workflow.description && <p className="max-w-md truncate text-xs text-slate-500">{workflow.description}</p>}
      </td>
      <td className="px-3 py-2">v{workflow.version}</td>
      <td className="px-3 py-2">
        {trigger.type}
        {trigger.detail && <code className="ml-1.5 text-xs text-slate-500">{trigger.detail}</code>}
      </td>
      <td className="px-3 py-2">
        {workflow.paused ? (
          <span data-testid="paused-badge" className="rounded-full bg-amber-100 px-2 py-0.5 text-xs font-medium text-amber-800">
            paused
          </span>
        ) : (
          <span className="text-xs text-slate-400">active</span>
        )}
      </td>
      <td className="px-3 py-2 text-slate-600">{formatTime(workflow.updated_at)}</td>
      <td className="px-3 py-2">
        <div className="flex flex-wrap items-center justify-end gap-1">
          <Link
            to={`/runs?workflow_id=${encodeURIComponent(workflow.id)}`}
            className="rounded-md px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
            aria-label={`Runs of ${workflow.name}`}
          >
            Runs
          </Link>
          <Button
            tone="ghost"
            aria-label={`Export ${workflow.name}`}
            title={`Download ${exportFileName(workflow.name)}`}
            onClick={() => download(exportFileName(workflow.name), exportText(workflow.definition))}
          >
            Export
          </Button>
          {canEdit && PAUSABLE.has(trigger.type) && (
            <Button
              tone="ghost"
              disabled={pausing}
              aria-label={`${workflow.paused ? "Resume" : "Pause"} ${workflow.name}`}
              onClick={() => actions.pause.mutate({ id: workflow.id, paused: !workflow.paused })}
            >
              {workflow.paused ? "Resume" : "Pause"}
            </Button>
          )}
          {canEdit && <DeleteControl workflow={workflow} busy={deleting} onDelete={() => actions.remove.mutate(workflow.id)} />}
        </div>
      </td>
    </tr>
  );
}

export function WorkflowList() {
  const workflows = useWorkflows();
  const me = useMe();
  const canEdit = me.data?.role !== "viewer";
  const [params, setParams] = useSearchParams();
  const query = params.get("q") ?? "";
  const [actionError, setActionError] = useState<string | null>(null);
  const actions = useWorkflowActions(setActionError);
  const importing = useImport(me.data?.id);
  const all = workflows.data?.items ?? [];
  const shown = all.filter((workflow) => matches(workflow, query));

  const setQuery = (value: string) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        if (value) next.set("q", value);
        else next.delete("q");
        return next;
      },
      { replace: true },
    );

  return (
    <div>
      <PageHeader title="Workflows">
        {canEdit && (
          <>
            <Link to="/workflows/new" className={PRIMARY_LINK}>
              New from description
            </Link>
            <Link to="/workflows/draft" className={SECONDARY_LINK}>
              Blank workflow
            </Link>
            <ImportControl busy={importing.isPending} onImport={(files) => importing.mutate(files)} />
          </>
        )}
      </PageHeader>
      <div className="space-y-4 p-6">
        <div className="max-w-sm">
          <label htmlFor="workflow-search" className="mb-1 block text-xs text-slate-500">
            Search workflows
          </label>
          <input
            id="workflow-search"
            type="search"
            className="input"
            placeholder="Name or description"
            value={query}
            onChange={(event) => setQuery(event.target.value)}
          />
        </div>
        {importing.data && <ImportResult report={importing.data} onDismiss={() => importing.reset()} />}
        {importing.isError && (
          <div role="alert" className="flex items-start justify-between gap-3 rounded-md border border-rose-200 bg-rose-50 p-3 text-sm text-rose-800">
            <span>The import failed, nothing was created: {messageOf(importing.error)}</span>
            <Button tone="ghost" onClick={() => importing.reset()}>
              Dismiss
            </Button>
          </div>
        )}
        {actionError && (
          <div role="alert" className="flex items-start justify-between gap-3 rounded-md border border-rose-200 bg-rose-50 p-3 text-sm text-rose-800">
            <span>{actionError}</span>
            <Button tone="ghost" onClick={() => setActionError(null)}>
              Dismiss
            </Button>
          </div>
        )}
        <div className="card">
          {workflows.isPending ? (
            <Spinner label="Loading workflows…" />
          ) : workflows.isError ? (
            <ErrorState error={workflows.error} retry={() => void workflows.refetch()} />
          ) : all.length === 0 ? (
            <EmptyState title="No workflows yet.">
              {canEdit ? "Describe an automation in plain words, or start from a blank canvas." : "Nobody has shared a workflow with you yet."}
            </EmptyState>
          ) : shown.length === 0 ? (
            <EmptyState title={`No workflows match “${query}”.`} />
          ) : (
            <div className="overflow-x-auto">
              <table className="w-full text-left text-sm" data-testid="workflow-table">
                <thead className="border-b border-slate-200 text-xs uppercase text-slate-500">
                  <tr>
                    <th className="px-3 py-2">Name</th>
                    <th className="px-3 py-2">Version</th>
                    <th className="px-3 py-2">Trigger</th>
                    <th className="px-3 py-2">State</th>
                    <th className="px-3 py-2">Updated</th>
                    <th className="px-3 py-2 text-right">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {shown.map((workflow) => (
                    <WorkflowRow key={workflow.id} workflow={workflow} canEdit={canEdit} actions={actions} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
        {workflows.data?.next_cursor && <p className="text-xs text-slate-500">Showing the {all.length} most recent workflows.</p>}
      </div>
    </div>
  );
}

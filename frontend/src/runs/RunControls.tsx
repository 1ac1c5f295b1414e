/** What one can do to a run: cancel, approve/reject waiting approvals, retry from the failure. */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useNavigate } from "react-router";

import { http, messageOf } from "../api/client";
import { keys } from "../api/queries";
import type { RunPublic } from "../api/types";
import { Button } from "../components/ui";
import type { Definition } from "../lib/definition";

function ApprovalBox({ run, nodeId }: { run: RunPublic; nodeId: string }) {
  const client = useQueryClient();
  const [comment, setComment] = useState("");
  const decide = useMutation({
    mutationFn: async (approved: boolean) =>
      (await http.post<RunPublic>(`/runs/${run.id}/approve`, { node_id: nodeId, approved, comment })).data,
    onSuccess: () => client.invalidateQueries({ queryKey: keys.run(run.id) }),
  });
  const inputId = `approval-comment-${nodeId}`;
  return (
    <div data-testid={`approval-${nodeId}`} className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm">
      <p className="font-medium">
        <span className="font-mono">{nodeId}</span> is waiting for approval
      </p>
      <label htmlFor={inputId} className="mt-2 block text-xs text-slate-600">
        Comment (optional)
      </label>
      <input id={inputId} className="input mt-1 w-full" value={comment} onChange={(e) => setComment(e.target.value)} />
      <div className="mt-2 flex gap-2">
        <Button tone="primary" disabled={decide.isPending} onClick={() => decide.mutate(true)} aria-label={`Approve ${nodeId}`}>
          Approve
        </Button>
        <Button
          tone="danger"
          disabled={decide.isPending}
          aria-label={`Reject ${nodeId}`}
          onClick={() => {
            if (window.confirm(`Reject "${nodeId}"? The run will fail.`)) decide.mutate(false);
          }}
        >
          Reject
        </Button>
      </div>
      {decide.isError && <p role="alert" className="mt-2 text-rose-700">{messageOf(decide.error)}</p>}
    </div>
  );
}

function RetryBox({ run, definition }: { run: RunPublic; definition: Definition | undefined }) {
  const navigate = useNavigate();
  const failed = (run.nodes ?? []).find((node) => node.status === "failed");
  const [open, setOpen] = useState(false);
  const [latest, setLatest] = useState(false);
  const [params, setParams] = useState("");
  const [parseError, setParseError] = useState<string | null>(null);
  const retry = useMutation({
    mutationFn: async (body: { latest: boolean; params?: Record<string, unknown> }) =>
      (await http.post<RunPublic>(`/runs/${run.id}/retry`, body)).data,
    onSuccess: (created) => navigate(`/runs/${created.id}`),
  });
  const submit = () => {
    setParseError(null);
    let parsed: Record<string, unknown> | undefined;
    if (params.trim()) {
      try {
        const value: unknown = JSON.parse(params);
        if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("must be a JSON object");
        parsed = value as Record<string, unknown>;
      } catch (error) {
        setParseError(`Params: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
    }
    retry.mutate(parsed ? { latest, params: parsed } : { latest });
  };
  return (
    <div className="text-sm">
      {!open ? (
        <Button
          tone="primary"
          onClick={() => {
            // Start from the failed node's current params: the usual fix is a small edit of them.
            const current = definition?.nodes.find((node) => node.id === failed?.node_id)?.params;
            if (!params && current) setParams(JSON.stringify(current, null, 2));
            setOpen(true);
          }}
        >
          Retry from failure
        </Button>
      ) : (
        <div data-testid="retry-form" className="space-y-2 rounded-md border border-slate-200 bg-white p-3">
          <p className="font-medium">Retry from failure — succeeded nodes keep their outputs.</p>
          {failed && (
            <>
              <label htmlFor="retry-params" className="block text-xs text-slate-600">
                New params for <span className="font-mono">{failed.node_id}</span> (JSON object; empty keeps them)
              </label>
              <textarea
                id="retry-params"
                rows={5}
                className="input w-full font-mono text-xs"
                placeholder='{"expression": "..."}'
                value={params}
                onChange={(e) => setParams(e.target.value)}
              />
            </>
          )}
          <label className="flex items-center gap-2">
            <input type="checkbox" checked={latest} onChange={(e) => setLatest(e.target.checked)} />
            Use the latest version of the workflow
          </label>
          <div className="flex gap-2">
            <Button tone="primary" disabled={retry.isPending} onClick={submit}>
              Start retry
            </Button>
            <Button onClick={() => setOpen(false)}>Close</Button>
          </div>
          {(parseError || retry.isError) && (
            <p role="alert" className="text-rose-700">
              {parseError ?? messageOf(retry.error)}
            </p>
          )}
        </div>
      )}
    </div>
  );
}

export function RunControls({ run, definition }: { run: RunPublic; definition?: Definition }) {
  const client = useQueryClient();
  const cancel = useMutation({
    mutationFn: async () => (await http.post<RunPublic>(`/runs/${run.id}/cancel`)).data,
    onSuccess: () => client.invalidateQueries({ queryKey: keys.run(run.id) }),
  });
  const waiting = (run.nodes ?? []).filter((node) => node.status === "waiting");
  const active = run.status === "running" || run.status === "waiting" || run.status === "pending";
  const retriable = run.status === "failed" || run.status === "cancelled";
  if (!active && !retriable) return null;
  return (
    <section aria-label="Run controls" className="space-y-3">
      {waiting.map((node) => (
        <ApprovalBox key={node.node_id} run={run} nodeId={node.node_id} />
      ))}
      {active && (
        <div>
          <Button
            tone="danger"
            disabled={cancel.isPending}
            onClick={() => {
              if (window.confirm("Cancel this run? Running nodes will be stopped.")) cancel.mutate();
            }}
          >
            Cancel run
          </Button>
          {cancel.isError && <p role="alert" className="mt-1 text-sm text-rose-700">{messageOf(cancel.error)}</p>}
        </div>
      )}
      {retriable && <RetryBox run={run} definition={definition} />}
    </section>
  );
}

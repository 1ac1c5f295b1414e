/** API keys for scripts and the CLI; a new key is shown once, right after it is made. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";

import { http, messageOf } from "../api/client";
import type { ApiKeyCreated, ApiKeyPublic } from "../api/types";
import { Button, EmptyState, ErrorState, formatTime, Spinner } from "../components/ui";

const apiKeyKeys = { all: ["api-keys"] as const };

function NewKeyNotice({ created, onDone }: { created: ApiKeyCreated; onDone: () => void }) {
  const [copied, setCopied] = useState<"yes" | "failed" | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied("yes");
    } catch {
      setCopied("failed");
    }
  };
  return (
    <div role="alert" className="space-y-2 rounded-lg border border-amber-300 bg-amber-50 p-4 text-sm" data-testid="new-api-key">
      <p className="font-semibold text-amber-900">Copy your new key “{created.name}” now: it will not be shown again.</p>
      <p className="text-amber-900">Anyone with it can act as you. Store it in a password manager or a secret store.</p>
      <div className="flex flex-wrap items-center gap-2">
        <label htmlFor="new-api-key-value" className="sr-only">
          New API key
        </label>
        <input
          id="new-api-key-value"
          readOnly
          className="input flex-1 font-mono text-xs"
          value={created.key}
          onFocus={(event) => event.target.select()}
        />
        <Button tone="primary" onClick={() => void copy()}>
          {copied === "yes" ? "Copied" : "Copy"}
        </Button>
        <Button onClick={onDone}>Done</Button>
      </div>
      {copied === "failed" && <p className="text-rose-700">The browser refused the copy: select the key and copy it yourself.</p>}
    </div>
  );
}

export function ApiKeysTab() {
  const client = useQueryClient();
  const keysQuery = useQuery({
    queryKey: apiKeyKeys.all,
    queryFn: async () => (await http.get<ApiKeyPublic[]>("/api-keys")).data,
  });
  const [name, setName] = useState("");
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: async (keyName: string) => (await http.post<ApiKeyCreated>("/api-keys", { name: keyName })).data,
    onSuccess: (answer) => {
      setCreated(answer);
      setName("");
      void client.invalidateQueries({ queryKey: apiKeyKeys.all });
    },
  });
  const revoke = useMutation({
    mutationFn: async (id: string) => {
      await http.delete(`/api-keys/${id}`);
    },
    onSuccess: () => {
      setConfirming(null);
      void client.invalidateQueries({ queryKey: apiKeyKeys.all });
    },
  });

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (name.trim()) create.mutate(name.trim());
  };

  return (
    <section aria-labelledby="api-keys-title" className="max-w-3xl space-y-4">
      <div>
        <h2 id="api-keys-title" className="font-semibold">
          API keys
        </h2>
        <p className="text-sm text-slate-600">
          Keys act as you from scripts and the CLI: send one as <code>Authorization: Bearer &lt;key&gt;</code>.
        </p>
      </div>
      {created && <NewKeyNotice created={created} onDone={() => setCreated(null)} />}
      <form onSubmit={onSubmit} className="flex flex-wrap items-end gap-2">
        <label className="text-sm">
          Key name
          <input
            className="input mt-1 w-64"
            required
            maxLength={100}
            placeholder="e.g. deploy script"
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
        </label>
        <Button tone="primary" type="submit" disabled={create.isPending || !name.trim()}>
          Create key
        </Button>
      </form>
      {create.isError && (
        <p role="alert" className="text-sm text-rose-700">
          The key was not created: {messageOf(create.error)}
        </p>
      )}
      {keysQuery.isPending ? (
        <Spinner label="Loading keys…" />
      ) : keysQuery.isError ? (
        <ErrorState error={keysQuery.error} retry={() => void keysQuery.refetch()} />
      ) : keysQuery.data.length === 0 ? (
        <EmptyState title="No API keys yet" />
      ) : (
        <div className="card overflow-x-auto">
          <table className="w-full text-sm" aria-label="API keys">
            <thead className="border-b border-slate-200 text-left text-xs uppercase tracking-wide text-slate-500">
              <tr>
                <th scope="col" className="px-3 py-2">Name</th>
                <th scope="col" className="px-3 py-2">Key</th>
                <th scope="col" className="px-3 py-2">Created</th>
                <th scope="col" className="px-3 py-2">Last used</th>
                <th scope="col" className="px-3 py-2"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {keysQuery.data.map((key) => (
                <tr key={key.id} data-testid="api-key-row">
                  <th scope="row" className="px-3 py-2 text-left font-medium">{key.name}</th>
                  <td className="px-3 py-2 font-mono text-xs">{key.prefix}…</td>
                  <td className="px-3 py-2 text-slate-600">{formatTime(key.created_at)}</td>
                  <td className="px-3 py-2 text-slate-600">{key.last_used_at ? formatTime(key.last_used_at) : "Never"}</td>
                  <td className="px-3 py-2 text-right">
                    {confirming === key.id ? (
                      <span className="inline-flex gap-2">
                        <Button tone="danger" disabled={revoke.isPending} onClick={() => revoke.mutate(key.id)}>
                          Confirm revoke
                        </Button>
                        <Button tone="ghost" onClick={() => setConfirming(null)}>
                          Cancel
                        </Button>
                      </span>
                    ) : (
                      <Button tone="ghost" className="text-rose-700" onClick={() => setConfirming(key.id)} aria-label={`Revoke ${key.name}`}>
                        Revoke
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {revoke.isError && (
        <p role="alert" className="text-sm text-rose-700">
          The key was not revoked: {messageOf(revoke.error)}
        </p>
      )}
    </section>
  );
}

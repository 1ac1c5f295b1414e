/**
 * Connectors: the credentials workflows use (write-only: a saved value is never shown again) and
 * the catalog of node types with the credential kind each needs. `?new=<kind>` opens the form.
 */
import { useMemo, useState } from "react";
import { useSearchParams } from "react-router";

import { useMe, useNodeTypes } from "../api/queries";
import { Button, EmptyState, ErrorState, PageHeader, Spinner } from "../components/ui";
import { useCredentialKinds, useCredentials } from "../connectors/api";
import { CredentialForm } from "../connectors/CredentialForm";
import { CredentialKinds } from "../connectors/CredentialKinds";
import { CredentialRow } from "../connectors/CredentialRow";
import { NodeCatalog } from "../connectors/NodeCatalog";

export function Connectors() {
  const me = useMe();
  const credentials = useCredentials();
  const kinds = useCredentialKinds();
  const nodeTypes = useNodeTypes();
  const [params, setParams] = useSearchParams();
  const [saved, setSaved] = useState<string | null>(null);
  const newKind = params.get("new");
  const canEdit = me.data?.role !== "viewer";

  const usedBy = useMemo(() => {
    const result: Record<string, string[]> = {};
    for (const entry of nodeTypes.data ?? []) {
      for (const kind of entry.credential_kinds) (result[kind] ??= []).push(entry.title);
    }
    return result;
  }, [nodeTypes.data]);

  const openForm = (kind: string) => {
    setSaved(null);
    setParams((current) => {
      const next = new URLSearchParams(current);
      next.set("new", kind);
      return next;
    });
    window.scrollTo({ top: 0 });
  };
  const closeForm = () =>
    setParams((current) => {
      const next = new URLSearchParams(current);
      next.delete("new");
      return next;
    });

  return (
    <div>
      <PageHeader title="Connectors">
        {canEdit && newKind === null && (
          <Button tone="primary" onClick={() => openForm(Object.keys(kinds.data ?? {})[0] ?? "")} disabled={!kinds.data}>
            New credential
          </Button>
        )}
      </PageHeader>
      <div className="mx-auto max-w-6xl space-y-8 p-6">
        {saved && (
          <p role="status" className="rounded-md border border-emerald-200 bg-emerald-50 p-3 text-sm text-emerald-900">
            Credential “{saved}” saved. Its secret is stored encrypted and will not be shown again.
          </p>
        )}
        {newKind !== null &&
          canEdit &&
          (kinds.isPending ? (
            <Spinner label="Loading credential kinds…" />
          ) : kinds.isError ? (
            <ErrorState error={kinds.error} retry={() => void kinds.refetch()} />
          ) : (
            <CredentialForm
              key={newKind}
              kinds={kinds.data}
              initialKind={newKind}
              usedBy={usedBy}
              onSaved={(credential) => {
                setSaved(credential.name);
                closeForm();
              }}
              onCancel={closeForm}
            />
          ))}
        <section aria-labelledby="credentials-title" className="space-y-2">
          <h2 id="credentials-title" className="text-base font-semibold">
            Credentials
          </h2>
          {credentials.isPending ? (
            <Spinner label="Loading credentials…" />
          ) : credentials.isError ? (
            <ErrorState error={credentials.error} retry={() => void credentials.refetch()} />
          ) : credentials.data.length === 0 ? (
            <EmptyState title="No credentials yet">
              Nodes that talk to Slack, email, Notion, Google Sheets or an LLM name a credential you store here.
            </EmptyState>
          ) : (
            <div className="card overflow-x-auto">
              <table className="w-full text-sm" aria-label="Credentials">
                <thead className="border-b border-slate-200 text-left text-xs uppercase tracking-wide text-slate-500">
                  <tr>
                    <th scope="col" className="px-3 py-2">Name</th>
                    <th scope="col" className="px-3 py-2">Kind</th>
                    <th scope="col" className="px-3 py-2">Created</th>
                    <th scope="col" className="px-3 py-2">Last used</th>
                    <th scope="col" className="px-3 py-2 text-right">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-slate-100">
                  {credentials.data.map((credential) => (
                    <CredentialRow key={credential.id} credential={credential} canEdit={canEdit} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
        <section aria-labelledby="kinds-title" className="space-y-2">
          <h2 id="kinds-title" className="text-base font-semibold">
            Credential types
          </h2>
          <CredentialKinds usedBy={usedBy} onAdd={canEdit ? openForm : undefined} />
        </section>
        <section aria-labelledby="catalog-title" className="space-y-2">
          <h2 id="catalog-title" className="text-base font-semibold">
            Node catalog
          </h2>
          <NodeCatalog onAddCredential={canEdit ? openForm : undefined} />
        </section>
      </div>
    </div>
  );
}

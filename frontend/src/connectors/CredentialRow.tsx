/** One stored credential: what it is and when it was used; never its value. */
import { useState } from "react";

import { messageOf } from "../api/client";
import type { CredentialPublic } from "../api/types";
import { Button, formatTime } from "../components/ui";
import { useDeleteCredential, useTestCredential } from "./api";

export function CredentialRow({ credential, canEdit }: { credential: CredentialPublic; canEdit: boolean }) {
  const test = useTestCredential();
  const remove = useDeleteCredential();
  const [confirming, setConfirming] = useState(false);

  return (
    <tr className="align-top" data-testid="credential-row" data-name={credential.name}>
      <th scope="row" className="px-3 py-2 text-left font-medium">
        {credential.name}
      </th>
      <td className="px-3 py-2 font-mono text-xs">{credential.kind}</td>
      <td className="px-3 py-2 text-slate-600">{formatTime(credential.created_at)}</td>
      <td className="px-3 py-2 text-slate-600">{credential.last_used_at ? formatTime(credential.last_used_at) : "Never"}</td>
      <td className="px-3 py-2">
        {canEdit && (
          <div className="flex flex-wrap items-center justify-end gap-2">
            {confirming ? (
              <>
                <span className="text-xs text-rose-800">Workflows naming it will fail at that step.</span>
                <Button
                  tone="danger"
                  disabled={remove.isPending}
                  onClick={() => remove.mutate(credential.id)}
                  aria-label={`Confirm delete ${credential.name}`}
                >
                  Confirm delete
                </Button>
                <Button tone="ghost" onClick={() => setConfirming(false)}>
                  Cancel
                </Button>
              </>
            ) : (
              <>
                <Button disabled={test.isPending} onClick={() => test.mutate(credential.id)} aria-label={`Test ${credential.name}`}>
                  {test.isPending ? "Testing…" : "Test"}
                </Button>
                <Button tone="ghost" className="text-rose-700" onClick={() => setConfirming(true)} aria-label={`Delete ${credential.name}`}>
                  Delete
                </Button>
              </>
            )}
          </div>
        )}
        <div aria-live="polite" className="mt-1 text-right text-xs">
          {test.isSuccess && (
            <p data-testid="credential-test-result" data-ok={test.data.ok} className={test.data.ok ? "text-emerald-700" : "text-rose-700"}>
              {test.data.ok ? "✓ Works" : "✗ Failed"}
              {test.data.live ? "" : " (not contacted)"}: {test.data.message}
            </p>
          )}
          {test.isError && <p className="text-rose-700">Test failed: {messageOf(test.error)}</p>}
          {remove.isError && <p className="text-rose-700">Not deleted: {messageOf(remove.error)}</p>}
        </div>
      </td>
    </tr>
  );
}

/** The credentials a generated workflow names, and whether the user has them. */
import { Link } from "react-router";

import type { CredentialPublic } from "../api/types";
import { needStatuses, type CredentialNeed } from "./needs";

export function CredentialNeeds({ needs, credentials }: { needs: CredentialNeed[]; credentials: CredentialPublic[] }) {
  if (needs.length === 0) {
    return <p className="text-sm text-slate-500">This workflow needs no credentials.</p>;
  }
  return (
    <ul className="divide-y divide-slate-100 rounded-lg border border-slate-200 bg-white" aria-label="Credentials needed">
      {needStatuses(needs, credentials).map((need) => (
        <li key={need.node} className="flex flex-wrap items-center justify-between gap-2 px-3 py-2 text-sm" data-testid="credential-need">
          <div>
            <p>
              <span className="font-mono text-xs text-slate-500">{need.node}</span>{" "}
              <span className="font-medium">{need.name ?? "(no name given)"}</span>
            </p>
            <p className="text-xs text-slate-500">kind: {need.kinds.join(" or ")}</p>
          </div>
          {need.exists ? (
            <span className="rounded-full bg-emerald-100 px-2 py-0.5 text-xs font-medium text-emerald-800">You have it</span>
          ) : (
            <span className="flex items-center gap-2">
              <span className="rounded-full bg-amber-100 px-2 py-0.5 text-xs font-medium text-amber-800">
                {need.ofKind.length > 0
                  ? `Missing — you have ${need.ofKind.length} of this kind (${need.ofKind.map((c) => c.name).join(", ")})`
                  : "Missing"}
              </span>
              <Link to={`/connectors?new=${encodeURIComponent(need.kinds[0] ?? "")}`} className="text-xs font-medium text-indigo-700 hover:underline">
                Add credential
              </Link>
            </span>
          )}
        </li>
      ))}
    </ul>
  );
}

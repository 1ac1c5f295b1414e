/** A generated workflow to check: its graph, the model's explanation and the credentials it needs. */
import type { CredentialPublic, GeneratedWorkflow } from "../api/types";
import type { Definition } from "../lib/definition";
import { CredentialNeeds } from "./CredentialNeeds";
import { GraphPreview } from "./GraphPreview";
import { triggerLabel } from "./needs";

export function GeneratedResult({ result, credentials }: { result: GeneratedWorkflow; credentials: CredentialPublic[] }) {
  const definition = result.definition as unknown as Definition;
  return (
    <section aria-labelledby="generated-title" className="space-y-4" data-testid="generated-result">
      <div>
        <h2 id="generated-title" className="text-base font-semibold">
          {definition.name}
        </h2>
        {definition.description && <p className="text-sm text-slate-600">{definition.description}</p>}
        <p className="mt-1 text-xs text-slate-500">
          Trigger: {triggerLabel(definition.trigger)} · {definition.nodes.length} steps · model {result.model}
          {result.attempts > 1 ? ` · ${result.attempts} attempts` : ""}
          {result.cached ? " · cached answer" : ""}
        </p>
      </div>
      <GraphPreview definition={definition} />
      {result.summary && (
        <div>
          <h3 className="text-sm font-semibold">What changed</h3>
          <p className="text-sm text-slate-700">{result.summary}</p>
        </div>
      )}
      <div>
        <h3 className="text-sm font-semibold">How it works</h3>
        <p className="whitespace-pre-line text-sm text-slate-700" data-testid="generated-explanation">
          {result.explanation}
        </p>
      </div>
      <div className="space-y-2">
        <h3 className="text-sm font-semibold">Credentials it needs</h3>
        <CredentialNeeds needs={result.credentials} credentials={credentials} />
      </div>
    </section>
  );
}

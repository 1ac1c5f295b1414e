/** One template: what it does, how it starts, what it needs, and a button to use it. */
import type { CredentialPublic, NodeType } from "../api/types";
import { Button } from "../components/ui";
import type { Definition } from "../lib/definition";
import type { Template } from "./api";
import { definitionNeeds, summarizeNeeds, triggerLabel } from "./needs";

interface Props {
  template: Template;
  nodeTypes: NodeType[];
  credentials: CredentialPublic[];
  onUse: (definition: Definition) => void;
}

export function TemplateCard({ template, nodeTypes, credentials, onUse }: Props) {
  const definition = template.definition as unknown as Definition;
  const needs = summarizeNeeds(definitionNeeds(definition, nodeTypes, credentials), credentials);
  const headingId = `template-${template.id}`;
  return (
    <article className="card flex flex-col gap-2 p-4" aria-labelledby={headingId} data-testid="template-card" data-template={template.id}>
      <h3 id={headingId} className="font-semibold text-slate-900">
        {template.name}
      </h3>
      {/* The clamp sits inside the growing box: a clamped box that grows shows a cut fourth line. */}
      <div className="flex-1">
        <p className="line-clamp-3 text-sm text-slate-600" title={template.description}>
          {template.description}
        </p>
      </div>
      <dl className="flex flex-wrap gap-x-4 gap-y-1 text-xs text-slate-500">
        <div>
          <dt className="inline">Trigger: </dt>
          <dd className="inline font-medium text-slate-700">{triggerLabel(definition.trigger ?? template.trigger)}</dd>
        </div>
        <div>
          <dt className="inline">Steps: </dt>
          <dd className="inline font-medium text-slate-700">{template.node_count}</dd>
        </div>
      </dl>
      {needs.length > 0 && (
        <ul className="flex flex-wrap gap-1" aria-label="Credentials it uses">
          {needs.map((need) => (
            <li
              key={need.kinds.join("|")}
              className={`rounded-full px-2 py-0.5 text-xs ${need.satisfied ? "bg-emerald-50 text-emerald-800" : "bg-amber-50 text-amber-800"}`}
              title={need.satisfied ? "You have this credential" : "You do not have this credential yet"}
            >
              {need.kinds.join(" / ")}
              {need.satisfied ? " ✓" : ""}
            </li>
          ))}
        </ul>
      )}
      <div>
        <Button tone="primary" onClick={() => onUse(definition)} aria-label={`Use this template: ${template.name}`}>
          Use this template
        </Button>
      </div>
    </article>
  );
}

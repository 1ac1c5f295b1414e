/** The example workflows as cards to start from. */
import { useNodeTypes } from "../api/queries";
import { EmptyState, ErrorState, Spinner } from "../components/ui";
import { useCredentials } from "../connectors/api";
import type { Definition } from "../lib/definition";
import { useTemplates } from "./api";
import { TemplateCard } from "./TemplateCard";

export function TemplateGallery({ onUse }: { onUse: (definition: Definition) => void }) {
  const templates = useTemplates();
  const nodeTypes = useNodeTypes();
  const credentials = useCredentials();

  if (templates.isPending) return <Spinner label="Loading templates…" />;
  if (templates.isError) return <ErrorState error={templates.error} retry={() => void templates.refetch()} />;
  if (templates.data.length === 0) return <EmptyState title="No templates on this server" />;
  return (
    <div className="grid gap-4 sm:grid-cols-2 xl:grid-cols-3" data-testid="template-gallery">
      {templates.data.map((template) => (
        <TemplateCard
          key={template.id}
          template={template}
          nodeTypes={nodeTypes.data ?? []}
          credentials={credentials.data ?? []}
          onUse={onUse}
        />
      ))}
    </div>
  );
}

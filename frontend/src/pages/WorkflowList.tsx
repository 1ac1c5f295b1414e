/** Placeholder: filled in by the screen's own work. */
import { PageHeader } from "../components/ui";

export function WorkflowList() {
  return <PageHeader title="WorkflowList" />;
}

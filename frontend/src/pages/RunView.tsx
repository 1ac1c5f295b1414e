/** Placeholder: filled in by the screen's own work. */
import { PageHeader } from "../components/ui";

export default function RunView() {
  return <PageHeader title="RunView" />;
}

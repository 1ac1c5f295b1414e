/** Placeholder: filled in by the screen's own work. */
import { PageHeader } from "../components/ui";

export function Dashboard() {
  return <PageHeader title="Dashboard" />;
}

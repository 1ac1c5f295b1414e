/** Placeholder: the visual editor. */
import { PageHeader } from "../components/ui";

export default function EditorPage() {
  return <PageHeader title="Editor" />;
}

/** The node palette's content: the catalog grouped by what a node talks to, filtered by a search. */
import type { NodeType } from "../api/types";

export interface PaletteGroup {
  title: string;
  types: NodeType[];
}

/** Groups by the type's prefix ("slack.post_message" → Slack); built-in flow nodes first. */
const GROUP_TITLES: Record<string, string> = {
  http: "HTTP",
  email: "Email",
  llm: "AI",
  slack: "Slack",
  notion: "Notion",
  sheets: "Google Sheets",
  s3: "S3 storage",
};

export const FLOW_GROUP = "Flow";

export function groupOf(type: NodeType): string {
  if (type.runs_in === "workflow") return FLOW_GROUP;
  const prefix = type.type.split(".")[0] ?? type.type;
  return GROUP_TITLES[prefix] ?? prefix.charAt(0).toUpperCase() + prefix.slice(1);
}

function matches(type: NodeType, words: string[]): boolean {
  const text = `${type.type} ${type.title} ${type.description} ${groupOf(type)}`.toLowerCase();
  return words.every((word) => text.includes(word));
}

export function paletteGroups(types: readonly NodeType[], search: string): PaletteGroup[] {
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  const groups = new Map<string, NodeType[]>();
  for (const type of types) {
    if (!matches(type, words)) continue;
    const title = groupOf(type);
    groups.set(title, [...(groups.get(title) ?? []), type]);
  }
  return [...groups.entries()]
    .map(([title, members]) => ({ title, types: members }))
    .sort((a, b) => (a.title === FLOW_GROUP ? -1 : b.title === FLOW_GROUP ? 1 : a.title.localeCompare(b.title)));
}

/** The drag-and-drop payload type a palette item carries onto the canvas. */
export const NODE_TYPE_MIME = "application/x-flowpilot-node-type";

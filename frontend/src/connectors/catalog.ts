/** The node catalog grouped by the service it talks to, for the Connectors screen. */
import type { NodeType } from "../api/types";

export interface ServiceGroup {
  id: string;
  title: string;
  nodeTypes: NodeType[];
  /** Every credential kind the group's nodes accept, in first-seen order. */
  credentialKinds: string[];
}

const SERVICE_TITLES: Record<string, string> = {
  core: "Core",
  http: "HTTP",
  email: "Email",
  llm: "LLM (OpenAI-compatible)",
  slack: "Slack",
  notion: "Notion",
  sheets: "Google Sheets",
  s3: "S3 storage",
};

/** "slack.post_message" → "slack"; types without a service ("transform", "delay") are core. */
export function serviceOf(type: string): string {
  const dot = type.indexOf(".");
  return dot === -1 ? "core" : type.slice(0, dot);
}

export function serviceTitle(service: string): string {
  return SERVICE_TITLES[service] ?? service.charAt(0).toUpperCase() + service.slice(1);
}

/** Core first, then services by title; node types keep the catalog's order. */
export function groupByService(nodeTypes: readonly NodeType[]): ServiceGroup[] {
  const groups = new Map<string, ServiceGroup>();
  for (const nodeType of nodeTypes) {
    const id = serviceOf(nodeType.type);
    let group = groups.get(id);
    if (!group) {
      group = { id, title: serviceTitle(id), nodeTypes: [], credentialKinds: [] };
      groups.set(id, group);
    }
    group.nodeTypes.push(nodeType);
    for (const kind of nodeType.credential_kinds) {
      if (!group.credentialKinds.includes(kind)) group.credentialKinds.push(kind);
    }
  }
  return [...groups.values()].sort((a, b) =>
    a.id === "core" ? -1 : b.id === "core" ? 1 : a.title.localeCompare(b.title),
  );
}

/** Case-insensitive match on a node type's name, title, description or credential kinds. */
export function matchesSearch(nodeType: NodeType, search: string): boolean {
  const needle = search.trim().toLowerCase();
  if (!needle) return true;
  return [nodeType.type, nodeType.title, nodeType.description, ...nodeType.credential_kinds].some((text) =>
    text.toLowerCase().includes(needle),
  );
}

/** The workflow definition format (flowpilot/v1, DESIGN.md §3) as the editor handles it. */

export interface RetryPolicy {
  max_attempts?: number;
  initial_interval?: string;
  backoff?: number;
  max_interval?: string;
  non_retryable_errors?: string[];
}

export interface Position {
  x: number;
  y: number;
}

export interface DefinitionNode {
  id: string;
  type: string;
  name?: string | null;
  params?: Record<string, unknown>;
  needs?: string[];
  when?: string | null;
  credential?: string | null;
  retry?: RetryPolicy | null;
  timeout?: string | null;
  on_error?: "fail" | "continue";
  join?: "all" | "any";
  mode?: "activity" | "local";
  position?: Position | null;
}

export type InputType = "string" | "number" | "integer" | "boolean" | "object" | "array";

export interface InputSpec {
  type?: InputType;
  default?: unknown;
  required?: boolean | null;
  description?: string;
}

export type Trigger =
  | { type: "manual" }
  | { type: "schedule"; cron: string; timezone?: string; [more: string]: unknown }
  | { type: "webhook"; respond?: "accepted" | "output"; timeout?: string; [more: string]: unknown };

export interface Defaults {
  timeout?: string;
  retry?: RetryPolicy;
  max_parallel?: number;
}

export interface Definition {
  schema?: "flowpilot/v1";
  name: string;
  description?: string;
  inputs?: Record<string, InputSpec>;
  trigger?: Trigger;
  defaults?: Defaults;
  nodes: DefinitionNode[];
  on_failure?: DefinitionNode[];
  output?: unknown;
}

export const NODE_ID_PATTERN = /^[a-z][a-z0-9_]*$/;

/** A node id not yet used in `definition`, derived from a node type ("http.request" → "request_2"). */
export function freshNodeId(definition: Definition, type: string): string {
  const taken = new Set([...definition.nodes, ...(definition.on_failure ?? [])].map((n) => n.id));
  const stem =
    (type.split(".").pop() ?? "node").toLowerCase().replace(/[^a-z0-9_]/g, "_").replace(/^[^a-z]+/, "") ||
    "node";
  if (!taken.has(stem)) return stem;
  for (let index = 2; ; index += 1) {
    const candidate = `${stem}_${index}`;
    if (!taken.has(candidate)) return candidate;
  }
}

export function emptyDefinition(name = "Untitled workflow"): Definition {
  return { schema: "flowpilot/v1", name, description: "", trigger: { type: "manual" }, nodes: [] };
}

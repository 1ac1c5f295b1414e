/**
 * Which credentials a workflow needs and whether the user has them: for a generated workflow
 * (the server's CredentialNeed list) and for a template (worked out from the node catalog).
 */
import type { CredentialPublic, GeneratedWorkflow, NodeType } from "../api/types";
import type { Definition, DefinitionNode } from "../lib/definition";

export type CredentialNeed = GeneratedWorkflow["credentials"][number];

export interface NeedStatus extends CredentialNeed {
  /** The user's credentials of a kind the node accepts (any name). */
  ofKind: CredentialPublic[];
}

export function needStatuses(needs: readonly CredentialNeed[], credentials: readonly CredentialPublic[]): NeedStatus[] {
  return needs.map((need) => ({
    ...need,
    ofKind: credentials.filter((credential) => need.kinds.includes(credential.kind)),
  }));
}

/** The needs of every node (including `on_failure` ones) whose type takes a credential. */
export function definitionNeeds(
  definition: Pick<Definition, "nodes" | "on_failure">,
  nodeTypes: readonly NodeType[],
  credentials: readonly CredentialPublic[],
): CredentialNeed[] {
  const catalog = new Map(nodeTypes.map((nodeType) => [nodeType.type, nodeType]));
  const nodes: DefinitionNode[] = [...definition.nodes, ...(definition.on_failure ?? [])];
  const needs: CredentialNeed[] = [];
  for (const node of nodes) {
    const nodeType = catalog.get(node.type);
    if (!nodeType || nodeType.credential_kinds.length === 0) continue;
    const name = node.credential ?? null;
    // An HTTP request without a credential is anonymous, not missing one.
    if (name === null && !nodeType.credential_required) continue;
    needs.push({
      node: node.id,
      type: node.type,
      kinds: [...nodeType.credential_kinds],
      name,
      exists:
        name !== null &&
        credentials.some((credential) => credential.name === name && nodeType.credential_kinds.includes(credential.kind)),
    });
  }
  return needs;
}

export interface KindSummary {
  kinds: string[];
  /** Credential names the workflow refers to for these kinds. */
  names: string[];
  /** Every named credential exists, or (unnamed) the user has one of the kind. */
  satisfied: boolean;
}

/** One line per distinct set of accepted kinds, for a compact "needs Slack (you have it)". */
export function summarizeNeeds(needs: readonly CredentialNeed[], credentials: readonly CredentialPublic[]): KindSummary[] {
  const byKinds = new Map<string, KindSummary>();
  for (const need of needs) {
    const key = [...need.kinds].sort().join("|");
    let summary = byKinds.get(key);
    if (!summary) {
      summary = { kinds: need.kinds, names: [], satisfied: true };
      byKinds.set(key, summary);
    }
    if (need.name !== null && !summary.names.includes(need.name)) summary.names.push(need.name);
    const met =
      need.name !== null ? need.exists : credentials.some((credential) => need.kinds.includes(credential.kind));
    summary.satisfied &&= met;
  }
  return [...byKinds.values()];
}

export function triggerLabel(trigger: Definition["trigger"] | string | undefined): string {
  const type = typeof trigger === "string" ? trigger : (trigger?.type ?? "manual");
  if (type === "schedule" && typeof trigger === "object" && trigger.type === "schedule") {
    return `Schedule (${trigger.cron})`;
  }
  return { manual: "Manual", schedule: "Schedule", webhook: "Webhook" }[type] ?? type;
}

import { describe, expect, it } from "vitest";

import type { CredentialPublic, NodeType } from "../api/types";
import type { Definition } from "../lib/definition";
import { definitionNeeds, needStatuses, summarizeNeeds, triggerLabel } from "./needs";

function nodeType(type: string, credential_kinds: string[], credential_required: boolean): NodeType {
  return {
    type,
    title: type,
    description: "",
    runs_in: "worker",
    credential_kinds,
    credential_required,
    output_description: "",
    params_schema: {},
    sample_output: null,
  };
}

function credential(name: string, kind: string): CredentialPublic {
  return { id: name, name, kind, owner_id: "u", created_at: "2026-01-01T00:00:00Z", last_used_at: null };
}

const CATALOG = [
  nodeType("http.request", ["bearer", "basic", "api_key_header"], false),
  nodeType("slack.post_message", ["slack"], true),
  nodeType("email.send", ["smtp"], true),
  nodeType("transform", [], false),
];

const DEFINITION: Definition = {
  name: "digest",
  nodes: [
    { id: "fetch", type: "http.request" },
    { id: "auth_fetch", type: "http.request", credential: "gh" },
    { id: "shape", type: "transform" },
    { id: "post", type: "slack.post_message", credential: "slack-eng" },
  ],
  on_failure: [{ id: "mail", type: "email.send" }],
};

describe("definitionNeeds", () => {
  it("lists nodes that take a credential, and whether the named one exists with a fitting kind", () => {
    const needs = definitionNeeds(DEFINITION, CATALOG, [credential("slack-eng", "slack"), credential("gh", "smtp")]);
    expect(needs).toEqual([
      { node: "auth_fetch", type: "http.request", kinds: ["bearer", "basic", "api_key_header"], name: "gh", exists: false },
      { node: "post", type: "slack.post_message", kinds: ["slack"], name: "slack-eng", exists: true },
      { node: "mail", type: "email.send", kinds: ["smtp"], name: null, exists: false },
    ]);
  });

  it("ignores node types the catalog does not know", () => {
    expect(definitionNeeds({ nodes: [{ id: "x", type: "mystery" }] }, CATALOG, [])).toEqual([]);
  });
});

describe("needStatuses and summarizeNeeds", () => {
  const needs = definitionNeeds(DEFINITION, CATALOG, [credential("slack-eng", "slack")]);

  it("finds the user's credentials of an accepted kind", () => {
    const statuses = needStatuses(needs, [credential("other-slack", "slack"), credential("mailer", "smtp")]);
    expect(statuses.map((status) => status.ofKind.map((entry) => entry.name))).toEqual([[], ["other-slack"], ["mailer"]]);
  });

  it("summarizes per kind: named ones must exist, unnamed ones need any of the kind", () => {
    const credentials = [credential("slack-eng", "slack"), credential("mailer", "smtp")];
    expect(summarizeNeeds(needs, credentials)).toEqual([
      { kinds: ["bearer", "basic", "api_key_header"], names: ["gh"], satisfied: false },
      { kinds: ["slack"], names: ["slack-eng"], satisfied: true },
      { kinds: ["smtp"], names: [], satisfied: true },
    ]);
    expect(summarizeNeeds(needs, [])[2]?.satisfied).toBe(false);
  });
});

describe("triggerLabel", () => {
  it("names the trigger, with a schedule's cron", () => {
    expect(triggerLabel(undefined)).toBe("Manual");
    expect(triggerLabel("webhook")).toBe("Webhook");
    expect(triggerLabel({ type: "schedule", cron: "0 9 * * 1" })).toBe("Schedule (0 9 * * 1)");
  });
});

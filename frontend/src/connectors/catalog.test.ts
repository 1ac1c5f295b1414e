import { describe, expect, it } from "vitest";

import type { NodeType } from "../api/types";
import { groupByService, matchesSearch, serviceOf } from "./catalog";

function nodeType(type: string, credential_kinds: string[] = []): NodeType {
  return {
    type,
    title: type,
    description: `does ${type}`,
    runs_in: "worker",
    credential_kinds,
    credential_required: credential_kinds.length > 0,
    output_description: "",
    params_schema: {},
    sample_output: null,
  };
}

describe("groupByService", () => {
  it("puts core types first and groups the rest by service", () => {
    const groups = groupByService([
      nodeType("slack.post_message", ["slack"]),
      nodeType("transform"),
      nodeType("sheets.read_range", ["google_service_account", "google_oauth_token"]),
      nodeType("sheets.append_rows", ["google_service_account", "google_oauth_token"]),
      nodeType("delay"),
    ]);
    expect(groups.map((group) => [group.id, group.nodeTypes.map((entry) => entry.type)])).toEqual([
      ["core", ["transform", "delay"]],
      ["sheets", ["sheets.read_range", "sheets.append_rows"]],
      ["slack", ["slack.post_message"]],
    ]);
    expect(groups[1]?.title).toBe("Google Sheets");
    expect(groups[1]?.credentialKinds).toEqual(["google_service_account", "google_oauth_token"]);
  });

  it("knows a type's service", () => {
    expect(serviceOf("http.request")).toBe("http");
    expect(serviceOf("foreach")).toBe("core");
  });
});

describe("matchesSearch", () => {
  it("matches the type, title, description and kinds, ignoring case", () => {
    const slack = nodeType("slack.post_message", ["slack"]);
    expect(matchesSearch(slack, "SLACK")).toBe(true);
    expect(matchesSearch(slack, "does slack")).toBe(true);
    expect(matchesSearch(slack, "notion")).toBe(false);
    expect(matchesSearch(slack, "  ")).toBe(true);
  });
});

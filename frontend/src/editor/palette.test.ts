import { describe, expect, it } from "vitest";

import type { NodeType } from "../api/types";
import { paletteGroups } from "./palette";

function nodeType(type: string, title: string, runs_in = "activity"): NodeType {
  return {
    type,
    title,
    description: `${title} description`,
    runs_in,
    credential_kinds: [],
    credential_required: false,
    output_description: "",
    params_schema: {},
    sample_output: null,
  };
}

const catalog = [
  nodeType("slack.post_message", "Slack: post a message"),
  nodeType("transform", "Transform", "workflow"),
  nodeType("http.request", "HTTP request"),
  nodeType("delay", "Delay", "workflow"),
  nodeType("llm.chat", "LLM: chat"),
];

describe("palette", () => {
  it("groups the catalog by service with the flow nodes first", () => {
    expect(paletteGroups(catalog, "").map((g) => [g.title, g.types.map((t) => t.type)])).toEqual([
      ["Flow", ["transform", "delay"]],
      ["AI", ["llm.chat"]],
      ["HTTP", ["http.request"]],
      ["Slack", ["slack.post_message"]],
    ]);
  });

  it("keeps only the types every search word matches, group names included", () => {
    expect(paletteGroups(catalog, "post SLACK").flatMap((g) => g.types.map((t) => t.type))).toEqual([
      "slack.post_message",
    ]);
    expect(paletteGroups(catalog, "ai").flatMap((g) => g.types.map((t) => t.type))).toEqual(["llm.chat"]);
    expect(paletteGroups(catalog, "nothing like this")).toEqual([]);
  });
});

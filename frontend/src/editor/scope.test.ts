import { describe, expect, it } from "vitest";

import type { Definition } from "../lib/definition";
import { filterNames, insertName, openTemplateAt, scopeFor, upstreamOf } from "./scope";

const DEFINITION: Definition = {
  name: "digest",
  inputs: { repo: { type: "string", description: "owner/name" }, limit: { type: "integer", default: 5 } },
  nodes: [
    { id: "issues", type: "http.request" },
    { id: "labels", type: "http.request" },
    { id: "summary", type: "llm.chat", needs: ["issues"] },
    { id: "post", type: "slack.post_message", needs: ["summary", "labels"] },
    { id: "side", type: "transform" },
    {
      id: "each",
      type: "foreach",
      needs: ["issues"],
      params: { items: "{{ nodes.issues.output.body }}", nodes: [{ id: "one", type: "transform" }] },
    },
  ],
  on_failure: [
    { id: "alert", type: "slack.post_message" },
    { id: "log", type: "transform", needs: ["alert"] },
  ],
};

function namesOf(nodeId: string, field?: string): string[] {
  return scopeFor(DEFINITION, nodeId, field).map((entry) => entry.name);
}

describe("upstreamOf", () => {
  it("follows needs transitively, in definition order", () => {
    expect(upstreamOf(DEFINITION.nodes, "post")).toEqual(["issues", "labels", "summary"]);
    expect(upstreamOf(DEFINITION.nodes, "issues")).toEqual([]);
  });

  it("survives a cycle", () => {
    const looped = [
      { id: "a", needs: ["b"] },
      { id: "b", needs: ["a"] },
    ];
    expect(upstreamOf(looped, "a")).toEqual(["b"]);
  });
});

describe("scopeFor", () => {
  it("offers inputs, upstream nodes' output and status, and run fields", () => {
    expect(namesOf("post")).toEqual([
      "inputs.repo",
      "inputs.limit",
      "nodes.issues.output",
      "nodes.issues.status",
      "nodes.labels.output",
      "nodes.labels.status",
      "nodes.summary.output",
      "nodes.summary.status",
      "run.id",
      "run.workflow",
      "run.started_at",
    ]);
  });

  it("offers no unrelated or downstream node, nor itself", () => {
    const names = namesOf("summary");
    expect(names).toContain("nodes.issues.output");
    expect(names.some((name) => name.startsWith("nodes.side") || name.startsWith("nodes.post") || name.startsWith("nodes.summary"))).toBe(false);
    expect(names).not.toContain("item");
  });

  it("describes inputs by type and description", () => {
    expect(scopeFor(DEFINITION, "issues")[0]).toEqual({ name: "inputs.repo", detail: "input · string — owner/name" });
  });

  it("offers item and index only inside a foreach's body and output", () => {
    expect(namesOf("each", "params.items")).not.toContain("item");
    expect(namesOf("each", "params.nodes")).toEqual(expect.arrayContaining(["item", "index"]));
    const output = namesOf("each", "params.output");
    expect(output).toEqual(expect.arrayContaining(["item", "index", "nodes.one.output", "nodes.issues.output"]));
  });

  it("gives on_failure nodes every main node, their own upstream and the error", () => {
    const names = namesOf("log");
    expect(names).toEqual(expect.arrayContaining(["nodes.side.output", "nodes.alert.output", "error.message", "error.node"]));
    expect(namesOf("side")).not.toContain("error.message");
  });
});

describe("template text", () => {
  it("finds an unfinished {{ before the caret", () => {
    expect(openTemplateAt("Hi {{", 5)).toEqual({ start: 3, query: "" });
    expect(openTemplateAt("Hi {{ inp", 9)).toEqual({ start: 3, query: "inp" });
    expect(openTemplateAt("Hi {{ inputs.x }} ", 18)).toBeNull();
    expect(openTemplateAt("{{ x | upper", 12)).toBeNull();
    expect(openTemplateAt("plain", 5)).toBeNull();
  });

  it("inserts over the unfinished template, eating a closing }} after the caret", () => {
    expect(insertName("Hi {{ inp", { start: 9, end: 9 }, "inputs.repo")).toEqual({ text: "Hi {{ inputs.repo }}", caret: 20 });
    expect(insertName("Hi {{}}!", { start: 5, end: 5 }, "run.id")).toEqual({ text: "Hi {{ run.id }}!", caret: 15 });
  });

  it("inserts over the selection outside a template", () => {
    expect(insertName("a XX b", { start: 2, end: 4 }, "run.id")).toEqual({ text: "a {{ run.id }} b", caret: 14 });
  });

  it("filters names, those starting with the query first", () => {
    const names = [
      { name: "run.id", detail: "" },
      { name: "inputs.run", detail: "" },
      { name: "nodes.a.output", detail: "" },
    ];
    expect(filterNames(names, "run").map((entry) => entry.name)).toEqual(["run.id", "inputs.run"]);
    expect(filterNames(names, "")).toHaveLength(3);
  });
});

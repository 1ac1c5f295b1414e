import { describe, expect, it } from "vitest";

import type { Definition } from "../lib/definition";
import { describeDiff, diffDefinitions, formatValue, isEmptyDiff } from "./diff";

type Nodes = Definition["nodes"];
const fetchNode: Nodes[number] = { id: "fetch", type: "http.request", params: { method: "GET", url: "a" }, position: { x: 0, y: 0 } };
const sumNode: Nodes[number] = { id: "sum", type: "llm.chat", needs: ["fetch"], params: { prompt: "hi" }, position: { x: 0, y: 100 } };

function base(): Definition {
  return {
    schema: "flowpilot/v1",
    name: "Digest",
    description: "daily",
    trigger: { type: "manual" },
    nodes: [fetchNode, sumNode],
  };
}

describe("diffDefinitions", () => {
  it("finds nothing between equal definitions", () => {
    const diff = diffDefinitions(base(), base());
    expect(isEmptyDiff(diff)).toBe(true);
    expect(describeDiff(diff)).toEqual([]);
  });

  it("treats null, a missing field and an empty object as the same", () => {
    const after = base();
    after.nodes = [
      { ...fetchNode, name: null, retry: null },
      { ...sumNode, params: { prompt: "hi", extra: undefined } },
    ];
    after.inputs = {};
    expect(isEmptyDiff(diffDefinitions(base(), after))).toBe(true);
  });

  it("reports added and removed nodes with their types", () => {
    const after = base();
    after.nodes = [fetchNode, { id: "send_email", type: "email.send", needs: ["fetch"] }];
    const diff = diffDefinitions(base(), after);
    expect(diff.nodesAdded.map((n) => n.id)).toEqual(["send_email"]);
    expect(diff.nodesRemoved.map((n) => n.id)).toEqual(["sum"]);
    expect(describeDiff(diff).map((l) => l.text)).toEqual([
      "+ node send_email (email.send)",
      "- node sum (llm.chat)",
      "+ edge fetch → send_email",
      "- edge fetch → sum",
    ]);
  });

  it("lists changed node fields as dotted paths with before and after", () => {
    const after = base();
    after.nodes = [{ ...fetchNode, params: { method: "GET", url: "b" }, timeout: "30s", position: { x: 50, y: 0 } }, sumNode];
    const diff = diffDefinitions(base(), after);
    expect(diff.nodesChanged).toEqual([
      {
        id: "fetch",
        type: "http.request",
        changes: [
          { path: "params.url", before: "a", after: "b" },
          { path: "timeout", before: undefined, after: "30s" },
        ],
      },
    ]);
    expect(diff.nodesMoved).toEqual([]);
    expect(describeDiff(diff).map((l) => l.text)).toEqual([
      "~ fetch: params.url 'a' → 'b'",
      "~ fetch: timeout (none) → '30s'",
    ]);
  });

  it("reports a node whose only change is its position as moved", () => {
    const after = base();
    after.nodes = [fetchNode, { ...sumNode, position: { x: 300, y: 100 } }];
    const diff = diffDefinitions(base(), after);
    expect(diff.nodesChanged).toEqual([]);
    expect(diff.nodesMoved).toEqual(["sum"]);
    expect(describeDiff(diff)).toEqual([{ kind: "moved", text: "↕ sum moved" }]);
  });

  it("does not call a node moved when one side was never placed", () => {
    const after = base();
    after.nodes = [fetchNode, { ...sumNode, position: null }];
    expect(isEmptyDiff(diffDefinitions(base(), after))).toBe(true);
  });

  it("compares needs as a set of edges, not as a node field", () => {
    const before = base();
    before.nodes.push({ id: "c", type: "transform", needs: ["fetch", "sum"] });
    const after = base();
    after.nodes.push({ id: "c", type: "transform", needs: ["sum", "fetch"] });
    expect(isEmptyDiff(diffDefinitions(before, after))).toBe(true);
    after.nodes[2] = { id: "c", type: "transform", needs: ["sum"] };
    const diff = diffDefinitions(before, after);
    expect(diff.edgesRemoved).toEqual([{ from: "fetch", to: "c" }]);
    expect(diff.nodesChanged).toEqual([]);
  });

  it("reports workflow-level fields: name, description, inputs, trigger, defaults, output", () => {
    const after: Definition = {
      ...base(),
      name: "Digest 2",
      description: undefined,
      inputs: { repo: { type: "string", default: "acme/api" } },
      trigger: { type: "schedule", cron: "0 9 * * 1-5", timezone: "UTC" },
      defaults: { retry: { max_attempts: 5 } },
      output: "{{ nodes.sum.output.text }}",
    };
    const lines = describeDiff(diffDefinitions(base(), after)).map((l) => l.text);
    expect(lines).toEqual([
      "~ name 'Digest' → 'Digest 2'",
      "- description 'daily'",
      "+ inputs.repo.type 'string'",
      "+ inputs.repo.default 'acme/api'",
      "~ trigger.type 'manual' → 'schedule'",
      "+ trigger.cron '0 9 * * 1-5'",
      "+ trigger.timezone 'UTC'",
      "+ defaults.retry.max_attempts 5",
      "+ output '{{ nodes.sum.output.text }}'",
    ]);
  });

  it("diffs on_failure nodes by id", () => {
    const before: Definition = { ...base(), on_failure: [{ id: "alert", type: "slack.post_message", params: { text: "x" } }] };
    const after: Definition = {
      ...base(),
      on_failure: [
        { id: "alert", type: "slack.post_message", params: { text: "y" } },
        { id: "mail", type: "email.send" },
      ],
    };
    const diff = diffDefinitions(before, after);
    expect(diff.fieldsChanged.map((f) => f.path)).toEqual(["on_failure.alert.params.text", "on_failure.mail"]);
    expect(describeDiff(diff)[1]?.text).toBe('+ on_failure.mail {"id":"mail","type":"email.send"}');
  });
});

describe("formatValue", () => {
  it("quotes strings, shows absent values as (none) and shortens long ones", () => {
    expect(formatValue("a")).toBe("'a'");
    expect(formatValue(3)).toBe("3");
    expect(formatValue(undefined)).toBe("(none)");
    expect(formatValue(["x"])).toBe('["x"]');
    const long = formatValue("x".repeat(200));
    expect(long).toHaveLength(80);
    expect(long.endsWith("…")).toBe(true);
  });
});

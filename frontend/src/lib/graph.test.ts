import { describe, expect, it } from "vitest";

import type { Definition } from "./definition";
import { freshNodeId } from "./definition";
import { definitionToGraph, graphToDefinition, wouldCycle } from "./graph";

const placed: Definition = {
  schema: "flowpilot/v1",
  name: "Digest",
  inputs: { repo: { type: "string", default: "acme/api" } },
  trigger: { type: "schedule", cron: "0 9 * * 1-5", timezone: "Europe/Paris" },
  nodes: [
    { id: "issues", type: "http.request", params: { url: "https://x" }, position: { x: 0, y: 0 } },
    {
      id: "summary",
      type: "llm.chat",
      needs: ["issues"],
      retry: { max_attempts: 5 },
      params: { prompt: "{{ nodes.issues.output.body }}" },
      position: { x: 0, y: 140 },
    },
    {
      id: "post",
      type: "slack.post_message",
      needs: ["summary", "issues"],
      credential: "slack-eng",
      when: "{{ inputs.repo }}",
      on_error: "continue",
      params: { channel: "#eng" },
      position: { x: 10, y: 280 },
    },
  ],
  on_failure: [{ id: "alert", type: "transform", params: { value: 1 } }],
  output: "{{ nodes.summary.output.text }}",
};

describe("definition ↔ graph", () => {
  it("round-trips a placed definition exactly, needs order included", () => {
    const { nodes, edges } = definitionToGraph(placed);
    expect(edges.map((edge) => edge.id)).toEqual(["issues->summary", "summary->post", "issues->post"]);
    expect(graphToDefinition(placed, nodes, edges)).toEqual(placed);
  });

  it("lays out nodes without positions top to bottom, each below what it needs", () => {
    const unplaced: Definition = {
      ...placed,
      nodes: placed.nodes.map(({ position: _position, ...node }) => node),
    };
    const { nodes, edges } = definitionToGraph(unplaced);
    const y = Object.fromEntries(nodes.map((node) => [node.id, node.position.y]));
    expect(y.issues).toBeLessThan(y.summary as number);
    expect(y.summary).toBeLessThan(y.post as number);
    const back = graphToDefinition(unplaced, nodes, edges);
    expect(back.nodes.map(({ position: _position, ...node }) => node)).toEqual(unplaced.nodes);
  });

  it("drops needs when the edges go", () => {
    const { nodes } = definitionToGraph(placed);
    const back = graphToDefinition(placed, nodes, []);
    expect(back.nodes.every((node) => node.needs === undefined)).toBe(true);
  });

  it("tells an edge that would close a cycle", () => {
    const { edges } = definitionToGraph(placed);
    expect(wouldCycle(edges, "post", "issues")).toBe(true);
    expect(wouldCycle(edges, "issues", "issues")).toBe(true);
    expect(wouldCycle(edges, "issues", "post")).toBe(false);
  });

  it("names new nodes after their type without clashing", () => {
    expect(freshNodeId(placed, "transform")).toBe("transform");
    expect(freshNodeId(placed, "slack.post_message")).toBe("post_message");
    expect(freshNodeId({ ...placed, nodes: [{ id: "request", type: "http.request" }] }, "http.request")).toBe(
      "request_2",
    );
  });
});

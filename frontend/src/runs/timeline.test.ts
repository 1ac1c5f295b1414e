import { describe, expect, it } from "vitest";

import { computeTimeline } from "./timeline";

describe("computeTimeline", () => {
  it("places bars on a shared axis", () => {
    const t = computeTimeline(
      [
        { node_id: "b", status: "succeeded", started_at: "2026-01-01T00:00:05Z", finished_at: "2026-01-01T00:00:10Z" },
        { node_id: "a", status: "succeeded", started_at: "2026-01-01T00:00:00Z", finished_at: "2026-01-01T00:00:05Z" },
        { node_id: "c", status: "pending" },
      ],
      0,
    );
    expect(t.spanMs).toBe(10_000);
    expect(t.bars.map((b) => [b.nodeId, b.left, b.width])).toEqual([
      ["a", 0, 0.5],
      ["b", 0.5, 0.5],
    ]);
  });

  it("runs unfinished nodes until now and is empty without timings", () => {
    const start = Date.parse("2026-01-01T00:00:00Z");
    const t = computeTimeline([{ node_id: "a", status: "running", started_at: "2026-01-01T00:00:00Z" }], start + 2000);
    expect(t.bars[0]?.durationMs).toBe(2000);
    expect(computeTimeline([], 0).bars).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";

import { bucketRuns, successRate } from "./stats";

describe("bucketRuns", () => {
  it("counts runs per status per day and drops runs outside the window", () => {
    const now = Date.parse("2026-01-03T12:00:00Z");
    const buckets = bucketRuns(
      [
        { status: "succeeded", created_at: "2026-01-03T01:00:00Z" },
        { status: "failed", created_at: "2026-01-03T02:00:00Z" },
        { status: "succeeded", created_at: "2026-01-02T23:59:59Z" },
        { status: "succeeded", created_at: "2025-12-01T00:00:00Z" },
      ],
      "day",
      3,
      now,
    );
    expect(buckets.map((b) => b.total)).toEqual([0, 1, 2]);
    expect(buckets[2]?.counts).toEqual({ succeeded: 1, failed: 1 });
    expect(buckets[0]?.start).toBe(Date.parse("2026-01-01T00:00:00Z"));
  });
});

describe("successRate", () => {
  it("uses finished runs only", () => {
    expect(successRate([{ status: "running", created_at: "" }])).toBeNull();
    expect(
      successRate([
        { status: "succeeded", created_at: "" },
        { status: "failed", created_at: "" },
        { status: "running", created_at: "" },
      ]),
    ).toBe(0.5);
  });
});

import { describe, expect, it } from "vitest";

import { apiParams, filtersFromSearch, searchFromFilters } from "./auditFilters";

const ACTOR = "5dbd08c1-7203-40a4-985f-70c51a6a706e";

describe("audit filters in the URL", () => {
  it("round-trips, leaving unset filters out", () => {
    const filters = filtersFromSearch(new URLSearchParams(`action=user.login&actor_id=${ACTOR}`));
    expect(filters).toEqual({ action: "user.login", actor_id: ACTOR, target: "", since: "" });
    expect(searchFromFilters(filters).toString()).toBe(`action=user.login&actor_id=${ACTOR}`);
    expect(searchFromFilters({ action: " ", actor_id: "", target: "", since: "" }).toString()).toBe("");
  });
});

describe("apiParams", () => {
  it("sends set filters, with since as an absolute time", () => {
    const { params, errors } = apiParams({ action: "workflow.create", actor_id: ACTOR, target: "workflow:1", since: "2026-11-26T09:30" });
    expect(errors).toEqual({});
    expect(params).toEqual({
      action: "workflow.create",
      actor_id: ACTOR,
      target: "workflow:1",
      since: new Date("2026-11-26T09:30").toISOString(),
    });
  });

  it("refuses what the API would refuse", () => {
    const { params, errors } = apiParams({ action: "", actor_id: "bob", target: "", since: "yesterday" });
    expect(params).toEqual({});
    expect(errors).toEqual({ actor_id: "not a user id", since: "not a date and time" });
  });
});

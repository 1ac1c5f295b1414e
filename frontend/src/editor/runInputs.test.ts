import { describe, expect, it } from "vitest";

import { coerceInputs, coerceValue, initialInputValues, inputFields, inputOfProblemField } from "./runInputs";

describe("inputFields", () => {
  it("makes an input required when it says so or has no default, and types it string by default", () => {
    const fields = inputFields({
      repo: { default: "acme/api" },
      count: { type: "integer" },
      verbose: { type: "boolean", default: false, required: true },
      tags: { type: "array", required: false, description: "labels" },
    });
    expect(fields.map((f) => [f.name, f.type, f.required])).toEqual([
      ["repo", "string", false],
      ["count", "integer", true],
      ["verbose", "boolean", true],
      ["tags", "array", false],
    ]);
    expect(fields[3]?.description).toBe("labels");
  });

  it("has no fields when the workflow declares no inputs", () => {
    expect(inputFields(undefined)).toEqual([]);
  });
});

describe("initialInputValues", () => {
  it("pre-fills defaults as text, JSON for objects and arrays", () => {
    const fields = inputFields({
      repo: { default: "acme/api" },
      limit: { type: "number", default: 2.5 },
      on: { type: "boolean", default: true },
      filter: { type: "object", default: { state: "open" } },
      none: { type: "string" },
    });
    expect(initialInputValues(fields)).toEqual({
      repo: "acme/api",
      limit: "2.5",
      on: "true",
      filter: '{\n  "state": "open"\n}',
      none: "",
    });
  });
});

describe("coerceValue", () => {
  it("turns text into each input type", () => {
    expect(coerceValue("string", " a ")).toEqual({ ok: true, value: " a " });
    expect(coerceValue("number", "1.5")).toEqual({ ok: true, value: 1.5 });
    expect(coerceValue("integer", " 42 ")).toEqual({ ok: true, value: 42 });
    expect(coerceValue("boolean", "false")).toEqual({ ok: true, value: false });
    expect(coerceValue("object", '{"a": 1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(coerceValue("array", "[1, 2]")).toEqual({ ok: true, value: [1, 2] });
  });

  it("says what is wrong with text that is not of the type", () => {
    expect(coerceValue("number", "abc")).toEqual({ ok: false, error: "Enter a number" });
    expect(coerceValue("integer", "1.5")).toEqual({ ok: false, error: "Enter a whole number" });
    expect(coerceValue("boolean", "yes")).toEqual({ ok: false, error: "Choose true or false" });
    expect(coerceValue("object", "[1]")).toMatchObject({ ok: false, error: expect.stringContaining("JSON object") });
    expect(coerceValue("array", "{")).toMatchObject({ ok: false, error: expect.stringContaining("Enter JSON") });
  });
});

describe("coerceInputs", () => {
  const fields = inputFields({
    repo: { type: "string" },
    limit: { type: "integer", default: 10 },
    tags: { type: "array", required: false },
  });

  it("collects typed inputs and leaves empty optional ones to their default", () => {
    expect(coerceInputs(fields, { repo: "acme/api", limit: "", tags: "  " })).toEqual({
      inputs: { repo: "acme/api" },
      errors: {},
    });
    expect(coerceInputs(fields, { repo: "x", limit: "3", tags: '["a"]' }).inputs).toEqual({ repo: "x", limit: 3, tags: ["a"] });
  });

  it("reports each field's problem: missing required values and values of the wrong type", () => {
    expect(coerceInputs(fields, { repo: "", limit: "ten", tags: "a" }).errors).toEqual({
      repo: "Required",
      limit: "Enter a whole number",
      tags: 'Enter JSON, e.g. ["a", "b"]',
    });
  });
});

describe("inputOfProblemField", () => {
  it("maps the API's inputs.<name> field to the input it names", () => {
    expect(inputOfProblemField("inputs.repo", ["repo"])).toBe("repo");
    expect(inputOfProblemField("inputs.other", ["repo"])).toBeUndefined();
    expect(inputOfProblemField("repo", ["repo"])).toBeUndefined();
    expect(inputOfProblemField(undefined, ["repo"])).toBeUndefined();
  });
});

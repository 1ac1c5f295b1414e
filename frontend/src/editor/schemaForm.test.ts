import { describe, expect, it } from "vitest";

import {
  errorFor,
  type FieldDescriptor,
  fieldsOf,
  fitsControl,
  jsonText,
  type JsonSchema,
  parseJsonText,
  parseListText,
  parseNumberText,
  rowsToMap,
  textToValue,
  valueToText,
  withKey,
} from "./schemaForm";

/** Shapes as pydantic writes them for the built-in node types (GET /api/node-types). */
const HTTP_REQUEST: JsonSchema = {
  additionalProperties: false,
  properties: {
    method: { default: "GET", enum: ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], title: "Method", type: "string" },
    url: { description: "Absolute http(s) URL.", title: "Url", type: "string" },
    headers: { additionalProperties: { type: "string" }, title: "Headers", type: "object" },
    query: {
      additionalProperties: { anyOf: [{ type: "string" }, { type: "integer" }, { type: "number" }, { type: "boolean" }] },
      title: "Query",
      type: "object",
    },
    json: { default: null, description: "A JSON request body.", title: "Json" },
    body: { anyOf: [{ type: "string" }, { type: "null" }], default: null, description: "A raw text request body.", title: "Body" },
    expected_status: {
      anyOf: [{ items: { type: "integer" }, type: "array" }, { type: "null" }],
      default: null,
      title: "Expected Status",
    },
    follow_redirects: { default: true, title: "Follow Redirects", type: "boolean" },
  },
  required: ["url"],
  title: "HttpRequestParams",
  type: "object",
};

const EMAIL_SEND: JsonSchema = {
  $defs: {
    EmailAttachment: {
      properties: { filename: { title: "Filename", type: "string" }, content: { title: "Content", type: "string" } },
      required: ["filename", "content"],
      type: "object",
    },
    Encoding: { enum: ["text", "base64"], type: "string" },
  },
  properties: {
    to: { anyOf: [{ type: "string" }, { items: { type: "string" }, type: "array" }], title: "To" },
    attachments: { items: { $ref: "#/$defs/EmailAttachment" }, title: "Attachments", type: "array" },
    encoding: { $ref: "#/$defs/Encoding", default: "text", title: "Encoding" },
    text: { anyOf: [{ maxLength: 1000000, type: "string" }, { type: "null" }], default: null, title: "Text" },
  },
  type: "object",
};

const LLM_BITS: JsonSchema = {
  properties: {
    temperature: { anyOf: [{ maximum: 2, minimum: 0, type: "number" }, { type: "null" }], default: null, title: "Temperature" },
    max_tokens: { anyOf: [{ minimum: 1, type: "integer" }, { type: "null" }], default: null, title: "Max Tokens" },
    stop: { anyOf: [{ items: { type: "string" }, type: "array" }, { type: "null" }], default: null, title: "Stop" },
    json_schema: { anyOf: [{ additionalProperties: true, type: "object" }, { type: "null" }], default: null, title: "Json Schema" },
    unfurl_links: { anyOf: [{ type: "boolean" }, { type: "null" }], default: null, title: "Unfurl Links" },
  },
  type: "object",
};

function field(fields: FieldDescriptor[], key: string): FieldDescriptor {
  const found = fields.find((candidate) => candidate.key === key);
  if (!found) throw new Error(`no field ${key}`);
  return found;
}

describe("fieldsOf", () => {
  it("describes http.request's params with titles, required marks, defaults and paths", () => {
    const fields = fieldsOf(HTTP_REQUEST);
    expect(fields.map((candidate) => candidate.key)).toEqual([
      "method",
      "url",
      "headers",
      "query",
      "json",
      "body",
      "expected_status",
      "follow_redirects",
    ]);
    expect(field(fields, "url")).toMatchObject({
      path: "params.url",
      title: "Url",
      required: true,
      description: "Absolute http(s) URL.",
      control: { kind: "text", multiline: false },
    });
    expect(field(fields, "method")).toMatchObject({ required: false, default: "GET", control: { kind: "select" } });
    expect(field(fields, "method").control).toMatchObject({ options: expect.arrayContaining(["GET", "POST"]) });
    expect(field(fields, "follow_redirects")).toMatchObject({ default: true, control: { kind: "boolean", tristate: false } });
  });

  it("turns string-valued objects into key/value maps", () => {
    const fields = fieldsOf(HTTP_REQUEST);
    expect(field(fields, "headers").control).toEqual({ kind: "map", valueKind: "string" });
    expect(field(fields, "query").control).toEqual({ kind: "map", valueKind: "scalar" });
  });

  it("unwraps optional anyOf-with-null fields and drops the null default", () => {
    const fields = fieldsOf(HTTP_REQUEST);
    expect(field(fields, "body")).toMatchObject({ required: false, control: { kind: "text", multiline: true } });
    expect(field(fields, "body").default).toBeUndefined();
    expect(field(fields, "expected_status").control).toEqual({ kind: "list", itemKind: "integer" });
  });

  it("gives schema-less values a JSON editor", () => {
    expect(field(fieldsOf(HTTP_REQUEST), "json").control).toEqual({ kind: "json" });
    const transform = fieldsOf({ properties: { value: { title: "Value", description: "Any JSON value" } }, required: ["value"] });
    expect(transform[0]).toMatchObject({ title: "Value", required: true, control: { kind: "json" } });
  });

  it("resolves $ref into $defs, and edits mixed or object arrays as JSON", () => {
    const fields = fieldsOf(EMAIL_SEND);
    expect(field(fields, "encoding")).toMatchObject({ default: "text", control: { kind: "select", options: ["text", "base64"] } });
    expect(field(fields, "attachments").control).toEqual({ kind: "json" });
    expect(field(fields, "to").control).toEqual({ kind: "json" });
    expect(field(fields, "text").control).toEqual({ kind: "text", multiline: true });
  });

  it("handles optional numbers, string lists, free objects and tri-state booleans", () => {
    const fields = fieldsOf(LLM_BITS);
    expect(field(fields, "temperature").control).toEqual({ kind: "number", integer: false, minimum: 0, maximum: 2 });
    expect(field(fields, "max_tokens").control).toMatchObject({ kind: "number", integer: true });
    expect(field(fields, "stop").control).toEqual({ kind: "list", itemKind: "string" });
    expect(field(fields, "json_schema").control).toEqual({ kind: "json" });
    expect(field(fields, "unfurl_links").control).toEqual({ kind: "boolean", tristate: true });
  });

  it("adds a JSON field for each param the schema does not know", () => {
    const fields = fieldsOf(HTTP_REQUEST, "params", { url: "x", bogus: 1 });
    expect(field(fields, "bogus")).toMatchObject({ path: "params.bogus", required: false, control: { kind: "json" } });
  });

  it("titles untitled properties from their key and honours another path prefix", () => {
    const fields = fieldsOf({ properties: { max_attempts: { type: "integer" } } }, "retry");
    expect(fields[0]).toMatchObject({ title: "Max attempts", path: "retry.max_attempts" });
  });
});

describe("value coercion", () => {
  it("reads number text as a number, keeps templates, and empties to undefined", () => {
    expect(parseNumberText("42")).toBe(42);
    expect(parseNumberText(" 1.5 ")).toBe(1.5);
    expect(parseNumberText("-3")).toBe(-3);
    expect(parseNumberText("{{ inputs.n }}")).toBe("{{ inputs.n }}");
    expect(parseNumberText("")).toBeUndefined();
    expect(parseNumberText("   ")).toBeUndefined();
  });

  it("parses JSON editor text, keeping what is not JSON as a plain string", () => {
    expect(parseJsonText('{"a": [1, 2]}')).toEqual({ a: [1, 2] });
    expect(parseJsonText("true")).toBe(true);
    expect(parseJsonText("{{ inputs.x }}")).toBe("{{ inputs.x }}");
    expect(parseJsonText("hello")).toBe("hello");
    expect(parseJsonText("")).toBeUndefined();
  });

  it("shows values as JSON text that reads back to the same value", () => {
    for (const value of [{ a: 1 }, [1, "x"], 42, "plain text", "{{ nodes.a.output }}", "42", "null", null, true]) {
      expect(parseJsonText(jsonText(value))).toEqual(value);
    }
    expect(jsonText("{{ inputs.x }}")).toBe("{{ inputs.x }}");
    expect(jsonText("42")).toBe('"42"');
    expect(jsonText(undefined)).toBe("");
  });

  it("reads lists one item per line, typed by the item kind", () => {
    expect(parseListText("200\n\n201 \n", "integer")).toEqual([200, 201]);
    expect(parseListText("STOP\n  end", "string")).toEqual(["STOP", "  end"]);
    expect(parseListText("\n", "string")).toBeUndefined();
  });

  it("removes a cleared optional field's key", () => {
    expect(textToValue({ kind: "text", multiline: false }, "")).toBeUndefined();
    expect(withKey({ url: "x", body: "y" }, "body", undefined)).toEqual({ url: "x" });
    expect("body" in withKey({ url: "x", body: "y" }, "body", undefined)).toBe(false);
    expect(withKey({ url: "x" }, "method", "POST")).toEqual({ url: "x", method: "POST" });
  });

  it("round-trips values through their controls' text", () => {
    const list = { kind: "list", itemKind: "integer" } as const;
    expect(textToValue(list, valueToText(list, [200, 204]))).toEqual([200, 204]);
    const number = { kind: "number", integer: false } as const;
    expect(textToValue(number, valueToText(number, 0.5))).toBe(0.5);
  });

  it("builds maps from rows, skipping rows without a name", () => {
    const rows = [
      { key: "Accept", value: "application/json" },
      { key: "", value: "ignored" },
      { key: "X-Run", value: "{{ run.id }}" },
    ];
    expect(rowsToMap(rows, "string")).toEqual({ Accept: "application/json", "X-Run": "{{ run.id }}" });
    expect(rowsToMap([{ key: "", value: "" }], "string")).toBeUndefined();
  });

  it("falls back to JSON when a value does not fit its control", () => {
    expect(fitsControl({ kind: "map", valueKind: "string" }, "{{ inputs.headers }}")).toBe(false);
    expect(fitsControl({ kind: "select", options: ["GET"] }, "{{ inputs.method }}")).toBe(false);
    expect(fitsControl({ kind: "boolean", tristate: false }, "{{ inputs.flag }}")).toBe(false);
    expect(fitsControl({ kind: "list", itemKind: "integer" }, [200, "{{ inputs.code }}"])).toBe(true);
    expect(fitsControl({ kind: "text", multiline: false }, { a: 1 })).toBe(false);
    expect(fitsControl({ kind: "text", multiline: false }, undefined)).toBe(true);
  });
});

describe("errorFor", () => {
  it("collects issues at a path and inside it, naming where the inner ones are", () => {
    const errors = [
      { field: "params.url", message: "field required" },
      { field: "params.attachments[0].filename", message: "too long" },
      { field: "params.urls", message: "not mine" },
    ];
    expect(errorFor("params.url", errors)).toBe("field required");
    expect(errorFor("params.attachments", errors)).toBe("[0].filename: too long");
    expect(errorFor("params.body", errors)).toBeUndefined();
  });
});

import { describe, expect, it } from "vitest";

import { collectData, fieldsOf, humanize, initialValues, type JsonSchema } from "./credentialForm";

const SMTP: JsonSchema = {
  additionalProperties: false,
  properties: {
    host: { maxLength: 255, minLength: 1, title: "Host", type: "string" },
    port: { default: 587, maximum: 65535, minimum: 1, title: "Port", type: "integer" },
    security: { default: "starttls", enum: ["starttls", "tls", "none"], title: "Security", type: "string" },
    username: { anyOf: [{ maxLength: 1000, type: "string" }, { type: "null" }], default: null, title: "Username" },
    password: {
      anyOf: [{ format: "password", maxLength: 20000, type: "string", writeOnly: true }, { type: "null" }],
      default: null,
      title: "Password",
    },
    from: { maxLength: 320, minLength: 3, pattern: "@", title: "From", type: "string" },
  },
  required: ["host", "from"],
  title: "Smtp",
  type: "object",
};

describe("fieldsOf", () => {
  it("turns each property into a labelled control", () => {
    const fields = fieldsOf(SMTP);
    expect(fields.map((field) => [field.name, field.label, field.control, field.required])).toEqual([
      ["host", "Host", "text", true],
      ["port", "Port", "number", false],
      ["security", "Security", "select", false],
      ["username", "Username", "text", false],
      ["password", "Password", "password", false],
      ["from", "From", "text", true],
    ]);
    expect(fields[2]?.options).toEqual(["starttls", "tls", "none"]);
  });

  it("starts from the schema's defaults, and blank where the default is null", () => {
    expect(initialValues(fieldsOf(SMTP))).toEqual({
      host: "",
      port: "587",
      security: "starttls",
      username: "",
      password: "",
      from: "",
    });
  });

  it("names untitled properties and tolerates a missing schema", () => {
    expect(fieldsOf({ properties: { base_url: { type: "string", format: "uri" } } })[0]).toMatchObject({
      label: "Base url",
      control: "url",
    });
    expect(fieldsOf(undefined)).toEqual([]);
    expect(humanize("service_account_json")).toBe("Service account json");
  });
});

describe("collectData", () => {
  const fields = fieldsOf(SMTP);

  it("leaves blank optional fields out and sends numbers as numbers", () => {
    const values = { ...initialValues(fields), host: " smtp.example.com ", from: "bot@example.com" };
    expect(collectData(fields, values)).toEqual({
      data: { host: "smtp.example.com", port: 587, security: "starttls", from: "bot@example.com" },
      errors: {},
    });
  });

  it("keeps secrets exactly as typed", () => {
    const values = { ...initialValues(fields), host: "h", from: "a@b", password: " s3cret " };
    expect(collectData(fields, values).data.password).toBe(" s3cret ");
  });

  it("names missing required fields and non-numbers", () => {
    const { errors } = collectData(fields, { ...initialValues(fields), port: "abc" });
    expect(errors).toEqual({ host: "Host is required", from: "From is required", port: "Port must be a number" });
  });
});

/**
 * A credential kind's JSON Schema (GET /api/credentials/kinds, from pydantic) as form fields,
 * and the form's values back as the `data` the API checks against that schema.
 */

export type JsonSchema = {
  type?: string | string[];
  title?: string;
  description?: string;
  format?: string;
  writeOnly?: boolean;
  enum?: unknown[];
  default?: unknown;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
};

export type FieldControl = "text" | "password" | "number" | "select" | "url";

export interface CredentialField {
  name: string;
  label: string;
  description?: string;
  control: FieldControl;
  required: boolean;
  options: string[];
  initial: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}

/** Pydantic writes `X | None` as anyOf [X, null]; the field is then X, and optional. */
function unwrapNullable(schema: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  if (!schema.anyOf) return { schema, nullable: false };
  const concrete = schema.anyOf.filter((option) => option.type !== "null");
  const nullable = concrete.length < schema.anyOf.length;
  const first = concrete[0];
  if (concrete.length !== 1 || !first) return { schema, nullable };
  return {
    schema: { ...first, title: schema.title ?? first.title, description: schema.description ?? first.description },
    nullable,
  };
}

function controlOf(schema: JsonSchema): FieldControl {
  if (schema.enum) return "select";
  if (schema.format === "password" || schema.writeOnly) return "password";
  if (schema.type === "integer" || schema.type === "number") return "number";
  if (schema.format === "uri") return "url";
  return "text";
}

/** "base_url" → "Base url", for a property without a title. */
export function humanize(name: string): string {
  const words = name.replace(/_/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function fieldsOf(schema: JsonSchema | undefined): CredentialField[] {
  if (!schema?.properties) return [];
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties).map(([name, raw]) => {
    const { schema: property, nullable } = unwrapNullable(raw);
    const initial = raw.default ?? property.default;
    return {
      name,
      label: property.title ?? humanize(name),
      description: property.description,
      control: controlOf(property),
      required: required.has(name) && !nullable,
      options: (property.enum ?? []).map(String),
      initial: initial === null || initial === undefined ? "" : String(initial),
      minLength: property.minLength,
      maxLength: property.maxLength,
      minimum: property.minimum,
      maximum: property.maximum,
    };
  });
}

export function initialValues(fields: readonly CredentialField[]): Record<string, string> {
  return Object.fromEntries(fields.map((field) => [field.name, field.initial]));
}

export interface Collected {
  data: Record<string, unknown>;
  /** Field name → what is wrong with it, for the fields the browser cannot check itself. */
  errors: Record<string, string>;
}

/** The `data` to send: blank optional fields left out (so their defaults apply), numbers as numbers. */
export function collectData(fields: readonly CredentialField[], values: Readonly<Record<string, string>>): Collected {
  const data: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    // Secrets are kept as typed: a leading or trailing space may be part of a token.
    const raw = values[field.name] ?? "";
    const value = field.control === "password" ? raw : raw.trim();
    if (value === "") {
      if (field.required) errors[field.name] = `${field.label} is required`;
      continue;
    }
    if (field.control === "number") {
      const number = Number(value);
      if (!Number.isFinite(number)) errors[field.name] = `${field.label} must be a number`;
      else data[field.name] = number;
      continue;
    }
    data[field.name] = value;
  }
  return { data, errors };
}

/**
 * The run form's model: one field per declared input (DESIGN.md §3 `inputs`), text values typed
 * by a person, and their coercion into the JSON values `POST /workflows/{id}/runs` expects.
 * An input is required when it says so, or when it says nothing and has no default (as the API).
 */
import type { InputSpec, InputType } from "../lib/definition";

export interface InputField {
  name: string;
  type: InputType;
  required: boolean;
  description: string;
  default: unknown;
}

/** What each field's control holds: text, or "true"/"false"/"" for booleans. */
export type InputValues = Record<string, string>;

export type Coerced = { ok: true; value: unknown } | { ok: false; error: string };

export function isRequired(spec: InputSpec): boolean {
  return spec.required ?? (spec.default === undefined || spec.default === null);
}

export function inputFields(inputs: Record<string, InputSpec> | undefined): InputField[] {
  return Object.entries(inputs ?? {}).map(([name, spec]) => ({
    name,
    type: spec.type ?? "string",
    required: isRequired(spec),
    description: spec.description ?? "",
    default: spec.default,
  }));
}

/** A value as its field's text: JSON for objects and arrays, "" for nothing. */
export function textOf(value: unknown, type: InputType): string {
  if (value === undefined || value === null) return "";
  if (type === "object" || type === "array" || typeof value === "object") return JSON.stringify(value, null, 2);
  return String(value);
}

export function initialInputValues(fields: readonly InputField[]): InputValues {
  return Object.fromEntries(fields.map((field) => [field.name, textOf(field.default, field.type)]));
}

/** Typed text → the JSON value of an input of `type`, or why it is not one. Empty text is not handled here. */
export function coerceValue(type: InputType, text: string): Coerced {
  const trimmed = text.trim();
  switch (type) {
    case "string":
      return { ok: true, value: text };
    case "number": {
      const value = Number(trimmed);
      return trimmed !== "" && Number.isFinite(value) ? { ok: true, value } : { ok: false, error: "Enter a number" };
    }
    case "integer": {
      const value = Number(trimmed);
      return trimmed !== "" && Number.isSafeInteger(value)
        ? { ok: true, value }
        : { ok: false, error: "Enter a whole number" };
    }
    case "boolean":
      if (trimmed === "true") return { ok: true, value: true };
      if (trimmed === "false") return { ok: true, value: false };
      return { ok: false, error: "Choose true or false" };
    case "object":
    case "array":
      return coerceJson(type, trimmed);
  }
}

function coerceJson(type: "object" | "array", text: string): Coerced {
  const example = type === "object" ? '{"key": "value"}' : '["a", "b"]';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: `Enter JSON, e.g. ${example}` };
  }
  const fits = type === "array" ? Array.isArray(value) : typeof value === "object" && value !== null && !Array.isArray(value);
  return fits ? { ok: true, value } : { ok: false, error: `Enter a JSON ${type}, e.g. ${example}` };
}

export interface CoercedInputs {
  inputs: Record<string, unknown>;
  errors: Record<string, string>;
}

/**
 * The inputs to start a run with. An empty optional field is left out, so the workflow's default
 * applies; an empty required one is an error.
 */
export function coerceInputs(fields: readonly InputField[], values: InputValues): CoercedInputs {
  const inputs: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const text = values[field.name] ?? "";
    const empty = field.type === "string" ? text === "" : text.trim() === "";
    if (empty) {
      if (field.required) errors[field.name] = "Required";
      continue;
    }
    const coerced = coerceValue(field.type, text);
    if (coerced.ok) inputs[field.name] = coerced.value;
    else errors[field.name] = coerced.error;
  }
  return { inputs, errors };
}

/** The input an API problem's field names ("inputs.repo" → "repo"), if it is one of `names`. */
export function inputOfProblemField(field: string | undefined, names: readonly string[]): string | undefined {
  const name = field?.replace(/^inputs\./, "");
  return name !== undefined && field !== name && names.includes(name) ? name : undefined;
}

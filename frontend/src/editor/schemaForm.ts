/**
 * A node type's params JSON Schema (as pydantic writes it) turned into form field descriptors,
 * and the text ↔ value coercions the form's controls use. Pure: no React here.
 */

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  definitions?: Record<string, JsonSchema>;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
}

export type ScalarKind = "string" | "number" | "integer" | "boolean";

export type FieldControl =
  | { kind: "text"; multiline: boolean }
  | { kind: "number"; integer: boolean; minimum?: number; maximum?: number }
  | { kind: "boolean"; tristate: boolean }
  | { kind: "select"; options: string[] }
  | { kind: "map"; valueKind: ScalarKind | "scalar" }
  | { kind: "list"; itemKind: ScalarKind }
  | { kind: "json" };

export interface FieldDescriptor {
  key: string;
  /** Where validation issues about this field point, e.g. "params.url". */
  path: string;
  title: string;
  description?: string;
  required: boolean;
  /** The schema's default, when it has a non-null one. */
  default?: unknown;
  control: FieldControl;
}

const MULTILINE_KEYS = new Set(["body", "content", "html", "message", "prompt", "system", "text"]);
const LONG_TEXT = 1000;
const SCALAR_TYPES = new Set<string>(["string", "number", "integer", "boolean"]);

export function asJsonSchema(value: unknown): JsonSchema {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as JsonSchema) : {};
}

/** "expected_status" → "Expected status", for properties without a title. */
export function titleOf(key: string): string {
  const words = key.replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Follows `$ref` (into `$defs`/`definitions`) and single-item `allOf`, keeping the outer annotations. */
export function resolveSchema(schema: JsonSchema, root: JsonSchema): JsonSchema {
  let current = schema;
  for (let depth = 0; depth < 32; depth += 1) {
    const { $ref, allOf, ...rest } = current;
    if ($ref) {
      const match = /^#\/(\$defs|definitions)\/(.+)$/.exec($ref);
      const target = match ? (match[1] === "$defs" ? root.$defs : root.definitions)?.[match[2] ?? ""] : undefined;
      if (!target) return rest;
      current = { ...target, ...rest };
    } else if (allOf && allOf.length === 1 && allOf[0]) {
      current = { ...allOf[0], ...rest };
    } else {
      return current;
    }
  }
  return current;
}

function isNullSchema(schema: JsonSchema): boolean {
  return schema.type === "null" || (schema.enum?.length === 1 && schema.enum[0] === null) || schema.const === null;
}

/** The schema with `null` alternatives removed (`anyOf: [X, null]` → X), and whether null was allowed. */
export function withoutNull(schema: JsonSchema, root: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  const resolved = resolveSchema(schema, root);
  if (Array.isArray(resolved.type)) {
    const types = resolved.type.filter((type) => type !== "null");
    const nullable = types.length < resolved.type.length;
    return { schema: { ...resolved, type: types.length === 1 ? types[0] : types }, nullable };
  }
  const alternatives = resolved.anyOf ?? resolved.oneOf;
  if (!alternatives) return { schema: resolved, nullable: false };
  const rest = alternatives.map((alternative) => resolveSchema(alternative, root)).filter((alternative) => !isNullSchema(alternative));
  const nullable = rest.length < alternatives.length;
  const { anyOf: _anyOf, oneOf: _oneOf, ...annotations } = resolved;
  if (rest.length === 1 && rest[0]) {
    const only = rest[0];
    return {
      schema: {
        ...only,
        title: annotations.title ?? only.title,
        description: annotations.description ?? only.description,
        default: "default" in annotations ? annotations.default : only.default,
      },
      nullable,
    };
  }
  return { schema: { ...annotations, anyOf: rest }, nullable };
}

/** The one scalar type a schema allows, "scalar" for a mix of scalars, else null. */
function scalarKindOf(schema: JsonSchema, root: JsonSchema): ScalarKind | "scalar" | null {
  const { schema: bare } = withoutNull(schema, root);
  if (typeof bare.type === "string") return SCALAR_TYPES.has(bare.type) ? (bare.type as ScalarKind) : null;
  const alternatives = bare.anyOf ?? bare.oneOf;
  if (alternatives && alternatives.length > 0) {
    const kinds = alternatives.map((alternative) => scalarKindOf(alternative, root));
    if (kinds.every((kind) => kind !== null)) return new Set(kinds).size === 1 ? (kinds[0] ?? null) : "scalar";
  }
  return null;
}

function stringOptions(schema: JsonSchema): string[] | null {
  if (schema.enum && schema.enum.length > 0 && schema.enum.every((option) => typeof option === "string")) {
    return schema.enum as string[];
  }
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives && alternatives.length > 0 && alternatives.every((alternative) => typeof alternative.const === "string")) {
    return alternatives.map((alternative) => alternative.const as string);
  }
  return null;
}

export function controlFor(key: string, schema: JsonSchema, nullable: boolean, root: JsonSchema): FieldControl {
  const options = stringOptions(schema);
  if (options) return { kind: "select", options };
  switch (schema.type) {
    case "string":
      return { kind: "text", multiline: (schema.maxLength ?? 0) > LONG_TEXT || MULTILINE_KEYS.has(key) };
    case "integer":
    case "number":
      return { kind: "number", integer: schema.type === "integer", minimum: schema.minimum, maximum: schema.maximum };
    case "boolean":
      return { kind: "boolean", tristate: nullable && typeof schema.default !== "boolean" };
    case "object": {
      const values = schema.additionalProperties;
      if (!schema.properties && values && typeof values === "object") {
        const valueKind = scalarKindOf(values, root);
        if (valueKind) return { kind: "map", valueKind };
      }
      return { kind: "json" };
    }
    case "array": {
      const itemKind = schema.items ? scalarKindOf(schema.items, root) : null;
      return itemKind && itemKind !== "scalar" ? { kind: "list", itemKind } : { kind: "json" };
    }
    default:
      return { kind: "json" };
  }
}

/**
 * One descriptor per property of an object schema, in the schema's order, then one JSON field per
 * key of `value` the schema does not know (so it can be seen and cleared).
 */
export function fieldsOf(schema: JsonSchema, pathPrefix = "params", value: Record<string, unknown> = {}): FieldDescriptor[] {
  const root = resolveSchema(schema, schema);
  const required = new Set(root.required ?? []);
  const fields = Object.entries(root.properties ?? {}).map(([key, property]): FieldDescriptor => {
    const { schema: bare, nullable } = withoutNull(property, schema);
    const field: FieldDescriptor = {
      key,
      path: `${pathPrefix}.${key}`,
      title: bare.title ?? titleOf(key),
      required: required.has(key),
      control: controlFor(key, bare, nullable, schema),
    };
    if (bare.description) field.description = bare.description;
    if (bare.default !== undefined && bare.default !== null) field.default = bare.default;
    return field;
  });
  const known = new Set(fields.map((field) => field.key));
  for (const key of Object.keys(value)) {
    if (known.has(key)) continue;
    fields.push({
      key,
      path: `${pathPrefix}.${key}`,
      title: key,
      description: "Not a parameter of this node type; clear it to remove it.",
      required: false,
      control: { kind: "json" },
    });
  }
  return fields;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isTemplate(text: string): boolean {
  return text.includes("{{") || text.includes("{%");
}

function fitsScalar(value: unknown, kind: ScalarKind | "scalar"): boolean {
  switch (kind) {
    case "string":
      return typeof value === "string";
    case "number":
    case "integer":
      return typeof value === "number" || (typeof value === "string" && isTemplate(value));
    case "boolean":
      return typeof value === "boolean";
    case "scalar":
      return ["string", "number", "boolean"].includes(typeof value);
  }
}

/** Whether the control can show `value` faithfully; if not, the form falls back to a JSON editor. */
export function fitsControl(control: FieldControl, value: unknown): boolean {
  if (value === undefined || value === null) return true;
  switch (control.kind) {
    case "text":
      return typeof value === "string";
    case "number":
      return typeof value === "number" || typeof value === "string";
    case "boolean":
      return typeof value === "boolean";
    case "select":
      return typeof value === "string" && control.options.includes(value);
    case "map":
      return isPlainObject(value) && Object.values(value).every((inner) => fitsScalar(inner, control.valueKind));
    case "list":
      return Array.isArray(value) && value.every((item) => fitsScalar(item, control.itemKind) && !String(item).includes("\n"));
    case "json":
      return true;
  }
}

function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A value as JSON editor text: strings that are not JSON themselves stay raw (templates read naturally). */
export function jsonText(value: unknown): string {
  if (value === undefined) return "";
  if (typeof value === "string" && !parsesAsJson(value)) return value;
  return JSON.stringify(value, null, 2);
}

/** JSON editor text → value: parsed JSON, else the text itself as a string; empty → undefined. */
export function parseJsonText(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Number field text → a number when it is one; other text (a template) stays a string; empty → undefined. */
export function parseNumberText(text: string): number | string | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  const number = Number(trimmed);
  return /^[-+]?(\d|\.\d)/.test(trimmed) && Number.isFinite(number) ? number : text;
}

export function parseScalarText(text: string, kind: ScalarKind | "scalar"): unknown {
  switch (kind) {
    case "number":
    case "integer":
      return parseNumberText(text);
    case "boolean":
      return text.trim() === "true" ? true : text.trim() === "false" ? false : text;
    default:
      return text;
  }
}

/** List text (one item per line) → items; blank lines are skipped; no items → undefined. */
export function parseListText(text: string, itemKind: ScalarKind): unknown[] | undefined {
  const items = text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => parseScalarText(itemKind === "string" ? line : line.trim(), itemKind));
  return items.length > 0 ? items : undefined;
}

export function listText(value: unknown): string {
  return Array.isArray(value) ? value.map((item) => String(item)).join("\n") : "";
}

/** The text a text-like control shows for `value`. */
export function valueToText(control: FieldControl, value: unknown): string {
  if (value === undefined || value === null) return "";
  switch (control.kind) {
    case "list":
      return listText(value);
    case "json":
      return jsonText(value);
    default:
      return typeof value === "string" ? value : String(value);
  }
}

/** What a text-like control's text means as a value; undefined means "remove the key". */
export function textToValue(control: FieldControl, text: string): unknown {
  switch (control.kind) {
    case "number":
      return parseNumberText(text);
    case "list":
      return parseListText(text, control.itemKind);
    case "json":
      return parseJsonText(text);
    default:
      return text === "" ? undefined : text;
  }
}

/** `object` with `key` set to `value`, or without `key` when `value` is undefined. */
export function withKey<T extends Record<string, unknown>>(object: T, key: string, value: unknown): T {
  const next: Record<string, unknown> = { ...object };
  if (value === undefined) delete next[key];
  else next[key] = value;
  return next as T;
}

export interface MapRow {
  key: string;
  value: string;
}

export function mapRows(value: unknown): MapRow[] {
  if (!isPlainObject(value)) return [];
  return Object.entries(value).map(([key, inner]) => ({ key, value: inner === null || inner === undefined ? "" : String(inner) }));
}

/** Rows → object (rows without a key are left out; a repeated key keeps its last value); empty → undefined. */
export function rowsToMap(rows: readonly MapRow[], valueKind: ScalarKind | "scalar"): Record<string, unknown> | undefined {
  const entries = rows.filter((row) => row.key !== "").map((row) => [row.key, parseScalarText(row.value, valueKind)] as const);
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

export function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

export interface FieldError {
  field: string;
  message: string;
}

/** Whether an issue's field is `path` or lies inside it ("params.headers.X" is inside "params.headers"). */
export function isUnder(field: string, path: string): boolean {
  return field === path || field.startsWith(`${path}.`) || field.startsWith(`${path}[`);
}

/** The messages of the issues at or inside `path`, the inner ones prefixed with where they are. */
export function errorFor(path: string, errors: readonly FieldError[] = []): string | undefined {
  const messages = errors
    .filter((error) => isUnder(error.field, path))
    .map((error) => (error.field === path ? error.message : `${error.field.slice(path.length).replace(/^\./, "")}: ${error.message}`));
  return messages.length > 0 ? messages.join("; ") : undefined;
}

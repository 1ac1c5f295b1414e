/**
 * A form generated from a params JSON Schema (see schemaForm.ts for the field rules). Every field
 * has a <label> starting with its title, its description as help text, and, when validation
 * complained, aria-invalid plus the message (data-testid `field-error-<path>`).
 */
import { type ReactNode, useId, useState } from "react";

import {
  errorFor,
  type FieldControl,
  type FieldDescriptor,
  type FieldError,
  fieldsOf,
  fitsControl,
  type JsonSchema,
  type MapRow,
  mapRows,
  parseJsonText,
  rowsToMap,
  sameValue,
  textToValue,
  valueToText,
  withKey,
} from "./schemaForm";
import type { ScopeName } from "./scope";
import { TemplateInput } from "./TemplateInput";

export interface FieldA11y {
  id: string;
  describedBy: string | undefined;
  invalid: boolean;
}

/** Label, control, help text and error for one field; the control gets the ids it must point to. */
export function FieldShell({
  label,
  path,
  required = false,
  description,
  error,
  group = false,
  children,
}: {
  label: string;
  path: string;
  required?: boolean;
  description?: ReactNode;
  error?: string;
  /** For controls made of several inputs: the label names a role="group" wrapper instead. */
  group?: boolean;
  children: (a11y: FieldA11y) => ReactNode;
}) {
  const id = useId();
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const describedBy = [error ? errorId : null, description ? helpId : null].filter(Boolean).join(" ") || undefined;
  const labelText = (
    <>
      {label}
      {required && (
        <span className="text-rose-600" aria-hidden="true">
          {" *"}
        </span>
      )}
    </>
  );
  const a11y = { id, describedBy, invalid: Boolean(error) };
  return (
    <div className="text-sm" data-field={path}>
      {group ? (
        <span id={`${id}-label`} className="block text-xs font-medium text-slate-700">
          {labelText}
        </span>
      ) : (
        <label htmlFor={id} className="block text-xs font-medium text-slate-700">
          {labelText}
        </label>
      )}
      <div className="mt-1">
        {group ? (
          <div role="group" aria-labelledby={`${id}-label`} aria-describedby={describedBy} aria-invalid={error ? true : undefined}>
            {children(a11y)}
          </div>
        ) : (
          children(a11y)
        )}
      </div>
      {error && (
        <p id={errorId} data-testid={`field-error-${path}`} className="mt-1 text-xs text-rose-700">
          {error}
        </p>
      )}
      {description && (
        <p id={helpId} className="mt-1 text-xs text-slate-500">
          {description}
        </p>
      )}
    </div>
  );
}

/**
 * Text the user is typing for a structured value. The draft survives re-renders caused by its own
 * edits ("1." stays "1." although it means 1) and is replaced when the value changes elsewhere (undo).
 */
export function useTextDraft<T>(value: T, format: (value: T) => string, parse: (text: string) => T) {
  const [draft, setDraft] = useState(() => format(value));
  const [seen, setSeen] = useState(value);
  if (seen !== value) {
    setSeen(value);
    if (!sameValue(parse(draft), value)) setDraft(format(value));
  }
  return [draft, setDraft] as const;
}

export interface SchemaFormProps {
  schema: JsonSchema;
  value: Record<string, unknown>;
  /** Receives the whole new object; a cleared optional field's key is gone from it. */
  onChange: (value: Record<string, unknown>) => void;
  /** Validation issues; each shows under the field its `field` path points at or into. */
  errors?: readonly FieldError[];
  /** Names string and JSON fields offer for templates. */
  scope: readonly ScopeName[];
  /** The path prefix of this object's fields in issues: "params" gives "params.url". */
  pathPrefix?: string;
  /** Whether string fields offer template names (off for fields the engine never renders). */
  templates?: boolean;
  columns?: 1 | 2;
}

export function SchemaForm({
  schema,
  value,
  onChange,
  errors = [],
  scope,
  pathPrefix = "params",
  templates = true,
  columns = 1,
}: SchemaFormProps) {
  const fields = fieldsOf(schema, pathPrefix, value);
  if (fields.length === 0) return <p className="text-xs text-slate-500">This node type has no parameters.</p>;
  return (
    <div className={columns === 2 ? "grid grid-cols-2 gap-x-2 gap-y-3" : "space-y-3"}>
      {fields.map((field) => (
        <SchemaField
          key={field.key}
          field={field}
          value={value[field.key]}
          error={errorFor(field.path, errors)}
          scope={templates ? scope : []}
          templates={templates}
          wide={columns === 2 && ["json", "map", "list"].includes(field.control.kind)}
          onChange={(next) => onChange(withKey(value, field.key, next))}
        />
      ))}
    </div>
  );
}

interface SchemaFieldProps {
  field: FieldDescriptor;
  value: unknown;
  error: string | undefined;
  scope: readonly ScopeName[];
  templates: boolean;
  wide: boolean;
  onChange: (value: unknown) => void;
}

function SchemaField({ field, value, error, scope, templates, wide, onChange }: SchemaFieldProps) {
  const fits = fitsControl(field.control, value);
  const control: FieldControl = fits ? field.control : { kind: "json" };
  const description = fits ? field.description : [field.description, "Shown as JSON: the value does not fit the usual control."].filter(Boolean).join(" ");
  return (
    <div className={wide ? "col-span-2" : undefined}>
      <FieldShell
        label={field.title}
        path={field.path}
        required={field.required}
        description={description}
        error={error}
        group={control.kind === "map"}
      >
        {(a11y) => (
          <Control
            a11y={a11y}
            field={field}
            control={control}
            value={value}
            scope={scope}
            templates={templates}
            onChange={onChange}
          />
        )}
      </FieldShell>
    </div>
  );
}

interface ControlProps {
  a11y: FieldA11y;
  field: FieldDescriptor;
  control: FieldControl;
  value: unknown;
  scope: readonly ScopeName[];
  templates: boolean;
  onChange: (value: unknown) => void;
}

function placeholderOf(field: FieldDescriptor): string | undefined {
  const { control } = field;
  if (field.default === undefined || field.default === "") {
    if (control.kind === "number" && control.minimum !== undefined && control.maximum !== undefined) {
      return `${control.minimum} – ${control.maximum}`;
    }
    return undefined;
  }
  return typeof field.default === "string" ? field.default : JSON.stringify(field.default);
}

function Control({ a11y, field, control, value, scope, templates, onChange }: ControlProps) {
  const common = {
    id: a11y.id,
    "aria-describedby": a11y.describedBy,
    "aria-invalid": a11y.invalid ? true : undefined,
    "aria-required": field.required || undefined,
  };
  switch (control.kind) {
    case "select":
      return <SelectControl common={common} field={field} options={control.options} value={value} onChange={onChange} />;
    case "boolean":
      return control.tristate ? (
        <select
          {...common}
          className="input"
          value={value === true ? "true" : value === false ? "false" : ""}
          onChange={(event) => onChange(event.target.value === "" ? undefined : event.target.value === "true")}
        >
          <option value="">Default</option>
          <option value="true">Yes</option>
          <option value="false">No</option>
        </select>
      ) : (
        <input
          {...common}
          type="checkbox"
          className="h-4 w-4 rounded border-slate-300 text-indigo-600 focus:ring-indigo-500"
          checked={typeof value === "boolean" ? value : field.default === true}
          onChange={(event) => onChange(event.target.checked)}
        />
      );
    case "map":
      return <MapControl field={field} valueKind={control.valueKind} value={value} scope={scope} templates={templates} invalid={a11y.invalid} onChange={onChange} />;
    case "text":
      return templates ? (
        <TemplateInput
          id={a11y.id}
          label={field.title}
          value={typeof value === "string" ? value : ""}
          onChange={(text) => onChange(textToValue(control, text))}
          names={scope}
          multiline={control.multiline}
          placeholder={placeholderOf(field)}
          required={field.required}
          invalid={a11y.invalid}
          describedBy={a11y.describedBy}
        />
      ) : (
        <input
          {...common}
          type="text"
          className="input"
          autoComplete="off"
          spellCheck={false}
          placeholder={placeholderOf(field)}
          value={typeof value === "string" ? value : ""}
          onChange={(event) => onChange(textToValue(control, event.target.value))}
        />
      );
    default:
      return (
        <DraftControl a11y={a11y} field={field} control={control} value={value} scope={scope} templates={templates} onChange={onChange} />
      );
  }
}

function SelectControl({
  common,
  field,
  options,
  value,
  onChange,
}: {
  common: Record<string, unknown>;
  field: FieldDescriptor;
  options: string[];
  value: unknown;
  onChange: (value: unknown) => void;
}) {
  const fallback = typeof field.default === "string" ? field.default : "";
  const current = typeof value === "string" ? value : fallback;
  return (
    <select {...common} className="input" value={current} onChange={(event) => onChange(event.target.value === "" ? undefined : event.target.value)}>
      {current === "" && (
        <option value="" disabled={field.required}>
          {field.required ? "Choose…" : "—"}
        </option>
      )}
      {!field.required && current !== "" && fallback === "" && <option value="">—</option>}
      {options.map((option) => (
        <option key={option} value={option}>
          {option}
          {option === field.default ? " (default)" : ""}
        </option>
      ))}
    </select>
  );
}

/** Number, list and JSON fields: typed text kept as a draft, the parsed value sent up. */
function DraftControl({ a11y, field, control, value, scope, templates, onChange }: ControlProps) {
  const [text, setText] = useTextDraft(
    value,
    (current) => valueToText(control, current),
    (typed) => textToValue(control, typed),
  );
  const change = (typed: string) => {
    setText(typed);
    onChange(textToValue(control, typed));
  };
  if (control.kind === "number") {
    return (
      <input
        id={a11y.id}
        aria-describedby={a11y.describedBy}
        aria-invalid={a11y.invalid ? true : undefined}
        aria-required={field.required || undefined}
        type="text"
        inputMode={control.integer ? "numeric" : "decimal"}
        className="input"
        autoComplete="off"
        placeholder={placeholderOf(field)}
        value={text}
        onChange={(event) => change(event.target.value)}
      />
    );
  }
  const isList = control.kind === "list";
  const looksBroken = control.kind === "json" && /^\s*[[{]/.test(text) && typeof parseJsonText(text) === "string";
  const hint = isList ? "One per line." : looksBroken ? "Not valid JSON: it will be saved as text." : null;
  const input =
    templates && !(isList && control.itemKind !== "string") ? (
      <TemplateInput
        id={a11y.id}
        label={field.title}
        value={text}
        onChange={change}
        names={scope}
        multiline
        monospace={!isList}
        placeholder={isList ? undefined : placeholderOf(field)}
        required={field.required}
        invalid={a11y.invalid}
        describedBy={a11y.describedBy}
      />
    ) : (
      <textarea
        id={a11y.id}
        aria-describedby={a11y.describedBy}
        aria-invalid={a11y.invalid ? true : undefined}
        aria-required={field.required || undefined}
        className={`input ${isList ? "" : "font-mono text-xs"}`}
        rows={Math.min(10, Math.max(2, text.split("\n").length))}
        spellCheck={false}
        value={text}
        onChange={(event) => change(event.target.value)}
      />
    );
  return (
    <>
      {input}
      {hint && <p className={`mt-0.5 text-[11px] ${looksBroken ? "text-amber-700" : "text-slate-400"}`}>{hint}</p>}
    </>
  );
}

/** Key/value rows (headers, query): keys plain, values template-capable. */
function MapControl({
  field,
  valueKind,
  value,
  scope,
  templates,
  invalid,
  onChange,
}: {
  field: FieldDescriptor;
  valueKind: Extract<FieldControl, { kind: "map" }>["valueKind"];
  value: unknown;
  scope: readonly ScopeName[];
  templates: boolean;
  invalid: boolean;
  onChange: (value: unknown) => void;
}) {
  const rowId = useId();
  const [rows, setRows] = useState<MapRow[]>(() => mapRows(value));
  const [seen, setSeen] = useState(value);
  if (seen !== value) {
    setSeen(value);
    if (!sameValue(rowsToMap(rows, valueKind), value ?? undefined)) setRows(mapRows(value));
  }
  const update = (next: MapRow[]) => {
    setRows(next);
    onChange(rowsToMap(next, valueKind));
  };
  const keys = rows.map((row) => row.key);
  return (
    <div className="space-y-1">
      {rows.map((row, index) => {
        const duplicate = row.key !== "" && keys.indexOf(row.key) !== index;
        return (
          <div key={index} className="flex items-start gap-1">
            <input
              aria-label={`Entry ${index + 1} name (${field.title})`}
              aria-invalid={invalid || duplicate ? true : undefined}
              title={duplicate ? "Repeated name: the last one wins" : undefined}
              className={`input w-2/5 font-mono ${duplicate ? "border-amber-500" : ""}`}
              autoComplete="off"
              spellCheck={false}
              value={row.key}
              onChange={(event) => update(rows.map((other, at) => (at === index ? { ...other, key: event.target.value } : other)))}
            />
            <div className="min-w-0 flex-1">
              {templates ? (
                <TemplateInput
                  id={`${rowId}-${index}`}
                  label={`entry ${index + 1} of ${field.title}`}
                  ariaLabel={`Entry ${index + 1} value (${field.title})`}
                  value={row.value}
                  names={scope}
                  onChange={(text) => update(rows.map((other, at) => (at === index ? { ...other, value: text } : other)))}
                />
              ) : (
                <input
                  aria-label={`Entry ${index + 1} value (${field.title})`}
                  className="input"
                  value={row.value}
                  onChange={(event) => update(rows.map((other, at) => (at === index ? { ...other, value: event.target.value } : other)))}
                />
              )}
            </div>
            <button
              type="button"
              aria-label={`Remove entry ${index + 1} of ${field.title}`}
              className="mt-0.5 rounded px-1.5 py-1 text-xs text-slate-500 hover:bg-slate-100 hover:text-rose-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
              onClick={() => update(rows.filter((_, at) => at !== index))}
            >
              ✕
            </button>
          </div>
        );
      })}
      <button
        type="button"
        aria-label={`Add an entry to ${field.title}`}
        className="rounded px-1.5 py-0.5 text-xs font-medium text-indigo-700 hover:bg-indigo-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
        onClick={() => update([...rows, { key: "", value: "" }])}
      >
        + Add entry
      </button>
    </div>
  );
}

/**
 * Workflow-level settings (DESIGN.md §3): description, run inputs, trigger, defaults for every
 * node, and for a saved webhook workflow its URL with a curl example. Every change goes to the
 * editor store through `updateMeta`, so it is undoable and saved with the rest.
 */
import { type ReactNode, useId, useMemo, useRef, useState } from "react";

import { Button } from "../components/ui";
import type { Defaults, Definition, InputSpec, InputType, Trigger } from "../lib/definition";
import { useEditor, useEditorStoreApi } from "./EditorStoreContext";
import { coerceValue, isRequired, textOf } from "./runInputs";

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const INPUT_TYPES: InputType[] = ["string", "number", "integer", "boolean", "object", "array"];
const INPUT_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DURATION = /^(?:\d+(?:ms|s|m|h|d))+$/;

function parseDuration(text: string): Parsed<string | undefined> {
  const trimmed = text.trim();
  if (trimmed === "") return { ok: true, value: undefined };
  return DURATION.test(trimmed) ? { ok: true, value: trimmed } : { ok: false, error: "Use a number and a unit: 500ms, 30s, 5m, 2h, 1d or 1h30m" };
}

function integerIn(min: number, max: number) {
  return (text: string): Parsed<number | undefined> => {
    const trimmed = text.trim();
    if (trimmed === "") return { ok: true, value: undefined };
    const value = Number(trimmed);
    return Number.isInteger(value) && value >= min && value <= max
      ? { ok: true, value }
      : { ok: false, error: `A whole number from ${min} to ${max}` };
  };
}

/** A copy of `object` without its undefined fields, or undefined when nothing is left. */
function compact<T extends object>(object: T): T | undefined {
  const entries = Object.entries(object).filter(([, value]) => value !== undefined);
  return entries.length > 0 ? (Object.fromEntries(entries) as T) : undefined;
}

/**
 * A text field whose text is stored only once it parses; until then it shows why not. It picks
 * up outside changes to the stored value (undo, JSON view).
 */
function DraftField<T>({
  label,
  value,
  parse,
  onCommit,
  hint,
  placeholder,
  multiline = false,
  className = "",
}: {
  label: string;
  value: string;
  parse: (text: string) => Parsed<T>;
  onCommit: (value: T) => void;
  hint?: string;
  placeholder?: string;
  multiline?: boolean;
  className?: string;
}) {
  const id = useId();
  const [text, setText] = useState(value);
  const [shown, setShown] = useState(value);
  if (value !== shown) {
    setShown(value);
    setText(value);
  }
  const parsed = parse(text);
  const error = parsed.ok ? undefined : parsed.error;
  const note = error ?? hint;
  const onChange = (next: string) => {
    setText(next);
    const result = parse(next);
    if (result.ok) onCommit(result.value);
  };
  const common = {
    id,
    placeholder,
    value: text,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": note ? `${id}-note` : undefined,
    spellCheck: false,
    autoComplete: "off",
  };
  return (
    <div className={`text-sm ${className}`}>
      <label htmlFor={id} className="text-xs font-medium text-slate-600">
        {label}
      </label>
      {multiline ? (
        <textarea {...common} className="input mt-1 min-h-16 font-mono text-xs" onChange={(e) => onChange(e.target.value)} />
      ) : (
        <input {...common} className="input mt-1" onChange={(e) => onChange(e.target.value)} />
      )}
      {note && (
        <p id={`${id}-note`} className={`mt-1 text-xs ${error ? "text-rose-700" : "text-slate-500"}`}>
          {note}
        </p>
      )}
    </div>
  );
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section className="space-y-3 border-b border-slate-200 p-3">
      <h3 className="text-xs font-semibold uppercase tracking-wide text-slate-500">{title}</h3>
      {children}
    </section>
  );
}

function InputRow({
  name,
  spec,
  otherNames,
  onRename,
  onChange,
  onRemove,
}: {
  name: string;
  spec: InputSpec;
  otherNames: readonly string[];
  onRename: (to: string) => void;
  onChange: (spec: InputSpec) => void;
  onRemove: () => void;
}) {
  const id = useId();
  const type = spec.type ?? "string";
  const parseName = (text: string): Parsed<string> => {
    if (!INPUT_NAME.test(text)) return { ok: false, error: "Letters, digits and _, not starting with a digit" };
    return otherNames.includes(text) ? { ok: false, error: `There is already an input "${text}"` } : { ok: true, value: text };
  };
  const parseDefault = (text: string): Parsed<unknown> => {
    if (type === "string" ? text === "" : text.trim() === "") return { ok: true, value: undefined };
    const coerced = coerceValue(type, text);
    return coerced.ok ? coerced : { ok: false, error: coerced.error };
  };
  const changeType = (next: InputType) => {
    // Keep the default when it still reads as the new type ("5" → 5), drop it otherwise.
    const kept = spec.default === undefined ? undefined : coerceValue(next, textOf(spec.default, type));
    onChange({ ...spec, type: next, default: kept?.ok ? kept.value : undefined });
  };

  return (
    <li className="space-y-2 rounded-md border border-slate-200 p-2" data-testid={`input-row-${name}`}>
      <div className="flex items-start gap-2">
        <DraftField className="flex-1" label="Name" value={name} parse={parseName} onCommit={onRename} />
        <div className="text-sm">
          <label htmlFor={`${id}-type`} className="text-xs font-medium text-slate-600">
            Type
          </label>
          <select id={`${id}-type`} className="input mt-1" value={type} onChange={(e) => changeType(e.target.value as InputType)}>
            {INPUT_TYPES.map((option) => (
              <option key={option}>{option}</option>
            ))}
          </select>
        </div>
      </div>
      {type === "boolean" ? (
        <div className="text-sm">
          <label htmlFor={`${id}-default`} className="text-xs font-medium text-slate-600">
            Default
          </label>
          <select
            id={`${id}-default`}
            className="input mt-1"
            value={typeof spec.default === "boolean" ? String(spec.default) : ""}
            onChange={(e) => onChange({ ...spec, default: e.target.value === "" ? undefined : e.target.value === "true" })}
          >
            <option value="">No default</option>
            <option value="true">true</option>
            <option value="false">false</option>
          </select>
        </div>
      ) : (
        <DraftField
          label="Default"
          value={textOf(spec.default, type)}
          parse={parseDefault}
          onCommit={(value) => onChange({ ...spec, default: value })}
          multiline={type === "object" || type === "array"}
          placeholder="No default"
        />
      )}
      <div className="text-sm">
        <label htmlFor={`${id}-description`} className="text-xs font-medium text-slate-600">
          Help text
        </label>
        <input
          id={`${id}-description`}
          className="input mt-1"
          placeholder="Shown under the field in the run form"
          value={spec.description ?? ""}
          onChange={(e) => onChange({ ...spec, description: e.target.value || undefined })}
        />
      </div>
      <div className="flex items-center justify-between">
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" checked={isRequired(spec)} onChange={(e) => onChange({ ...spec, required: e.target.checked })} />
          Required
        </label>
        <Button tone="ghost" className="text-rose-700!" aria-label={`Remove input ${name}`} onClick={onRemove}>
          Remove
        </Button>
      </div>
    </li>
  );
}

function InputsEditor({ inputs, onChange }: { inputs: Record<string, InputSpec>; onChange: (inputs: Record<string, InputSpec> | undefined) => void }) {
  const entries = Object.entries(inputs);
  const names = entries.map(([name]) => name);
  const save = (next: [string, InputSpec][]) =>
    onChange(next.length > 0 ? Object.fromEntries(next.map(([name, spec]) => [name, compact(spec) ?? {}])) : undefined);
  const add = () => {
    let index = entries.length + 1;
    while (names.includes(`input_${index}`)) index += 1;
    save([...entries, [`input_${index}`, { type: "string" }]]);
  };
  return (
    <>
      {entries.length === 0 ? (
        <p className="text-xs text-slate-500">No inputs. A run can still be started; templates read inputs as {"{{ inputs.name }}"}.</p>
      ) : (
        <ul className="space-y-2">
          {entries.map(([name, spec], index) => (
            <InputRow
              // Rows are keyed by position so renaming keeps focus in the name field.
              key={index}
              name={name}
              spec={spec}
              otherNames={names.filter((other) => other !== name)}
              onRename={(to) => save(entries.map((entry, at) => (at === index ? [to, entry[1]] : entry)))}
              onChange={(next) => save(entries.map((entry, at) => (at === index ? [name, next] : entry)))}
              onRemove={() => save(entries.filter((_, at) => at !== index))}
            />
          ))}
        </ul>
      )}
      <Button onClick={add}>Add input</Button>
    </>
  );
}

function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

function freshTrigger(type: Trigger["type"]): Trigger {
  if (type === "schedule") return { type, cron: "0 9 * * 1-5", timezone: browserTimeZone() };
  if (type === "webhook") return { type, respond: "accepted" };
  return { type: "manual" };
}

function TriggerEditor({ trigger, onChange }: { trigger: Trigger; onChange: (trigger: Trigger) => void }) {
  const id = useId();
  // Switching kinds and back brings back what was typed before.
  const earlier = useRef<Partial<Record<Trigger["type"], Trigger>>>({});
  const timeZones = useMemo(() => Intl.supportedValuesOf?.("timeZone") ?? [], []);
  const switchTo = (type: Trigger["type"]) => {
    earlier.current[trigger.type] = trigger;
    onChange(earlier.current[type] ?? freshTrigger(type));
  };
  return (
    <>
      <div className="text-sm">
        <label htmlFor={`${id}-kind`} className="text-xs font-medium text-slate-600">
          Trigger type
        </label>
        <select id={`${id}-kind`} className="input mt-1" value={trigger.type} onChange={(e) => switchTo(e.target.value as Trigger["type"])}>
          <option value="manual">Manual (Run button and API)</option>
          <option value="schedule">Schedule (cron)</option>
          <option value="webhook">Webhook (HTTP POST)</option>
        </select>
      </div>
      {trigger.type === "schedule" && (
        <>
          <div className="text-sm">
            <label htmlFor={`${id}-cron`} className="text-xs font-medium text-slate-600">
              Cron expression
            </label>
            <input
              id={`${id}-cron`}
              className="input mt-1 font-mono"
              value={trigger.cron}
              spellCheck={false}
              aria-describedby={`${id}-cron-hint`}
              onChange={(e) => onChange({ ...trigger, cron: e.target.value })}
            />
            <p id={`${id}-cron-hint`} className="mt-1 text-xs text-slate-500">
              minute hour day-of-month month day-of-week, e.g. <code>0 9 * * 1-5</code> (weekdays at 9:00).
            </p>
          </div>
          <div className="text-sm">
            <label htmlFor={`${id}-tz`} className="text-xs font-medium text-slate-600">
              Time zone
            </label>
            <input
              id={`${id}-tz`}
              className="input mt-1"
              list={`${id}-tz-list`}
              placeholder="UTC"
              value={trigger.timezone ?? ""}
              onChange={(e) => onChange({ ...trigger, timezone: e.target.value || undefined })}
            />
            <datalist id={`${id}-tz-list`}>
              {timeZones.map((zone) => (
                <option key={zone} value={zone} />
              ))}
            </datalist>
          </div>
        </>
      )}
      {trigger.type === "webhook" && (
        <>
          <div className="text-sm">
            <label htmlFor={`${id}-respond`} className="text-xs font-medium text-slate-600">
              Respond with
            </label>
            <select
              id={`${id}-respond`}
              className="input mt-1"
              value={trigger.respond ?? "accepted"}
              onChange={(e) => onChange({ ...trigger, respond: e.target.value as "accepted" | "output" })}
            >
              <option value="accepted">At once: 202 with the run id</option>
              <option value="output">The run's output, once it finishes</option>
            </select>
          </div>
          {trigger.respond === "output" && (
            <DraftField
              label="Response timeout"
              value={trigger.timeout ?? ""}
              parse={parseDuration}
              onCommit={(timeout) => onChange({ ...trigger, timeout })}
              placeholder="30s"
              hint="How long the caller waits for the output before getting the run id instead."
            />
          )}
        </>
      )}
    </>
  );
}

function DefaultsEditor({ defaults, onChange }: { defaults: Defaults; onChange: (defaults: Defaults | undefined) => void }) {
  const save = (patch: Partial<Defaults>) => onChange(compact({ ...defaults, ...patch }));
  return (
    <div className="space-y-3">
      <DraftField label="Node timeout" value={defaults.timeout ?? ""} parse={parseDuration} onCommit={(timeout) => save({ timeout })} placeholder="5m" />
      <DraftField
        label="Max parallel nodes"
        value={defaults.max_parallel === undefined ? "" : String(defaults.max_parallel)}
        parse={integerIn(1, 1000)}
        onCommit={(max_parallel) => save({ max_parallel })}
        placeholder="10"
      />
      <DraftField
        label="Retry attempts"
        value={defaults.retry?.max_attempts === undefined ? "" : String(defaults.retry.max_attempts)}
        parse={integerIn(1, 100)}
        onCommit={(max_attempts) => save({ retry: compact({ ...defaults.retry, max_attempts }) })}
        placeholder="3"
      />
    </div>
  );
}

function sampleValue(spec: InputSpec): unknown {
  if (spec.default !== undefined && spec.default !== null) return spec.default;
  const samples: Record<InputType, unknown> = { string: "", number: 0, integer: 0, boolean: false, object: {}, array: [] };
  return samples[spec.type ?? "string"];
}

function curlExample(url: string, inputs: Record<string, InputSpec>): string {
  const body = JSON.stringify(Object.fromEntries(Object.entries(inputs).map(([name, spec]) => [name, sampleValue(spec)])));
  const quotedBody = body.replace(/'/g, "'\\''");
  return [`curl -X POST '${url}' \\`, `  -H 'Content-Type: application/json' \\`, `  -H 'Idempotency-Key: order-1234' \\`, `  -d '${quotedBody}'`].join("\n");
}

function WebhookDetails({ url, inputs, respond }: { url: string; inputs: Record<string, InputSpec>; respond: string }) {
  const [copied, setCopied] = useState<"url" | "curl" | "failed" | null>(null);
  const curl = curlExample(url, inputs);
  const copy = async (what: "url" | "curl", text: string) => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(what);
    } catch {
      setCopied("failed");
    }
  };
  return (
    <div className="space-y-2" data-testid="webhook-details">
      <label htmlFor="webhook-url" className="text-xs font-medium text-slate-600">
        Webhook URL
      </label>
      <div className="flex gap-2">
        <input id="webhook-url" className="input font-mono text-xs" readOnly value={url} onFocus={(e) => e.target.select()} />
        <Button onClick={() => void copy("url", url)} aria-label="Copy webhook URL">
          {copied === "url" ? "Copied" : "Copy"}
        </Button>
      </div>
      <p className="text-xs text-slate-500">
        Keep it secret: anyone with the URL can start runs. Body fields named like the inputs become the inputs (the whole body is{" "}
        <code>{"{{ inputs.webhook.body }}"}</code>); a repeated <code>Idempotency-Key</code> header gets the same run, not a new one.
        {respond === "output" ? " The answer holds the run's output once it finishes." : " The answer (202) holds the run id."}
      </p>
      <div className="flex items-center justify-between">
        <span className="text-xs font-medium text-slate-600" id="webhook-curl-label">
          Example
        </span>
        <Button tone="ghost" onClick={() => void copy("curl", curl)} aria-label="Copy curl example">
          {copied === "curl" ? "Copied" : "Copy"}
        </Button>
      </div>
      <pre aria-labelledby="webhook-curl-label" data-testid="webhook-curl" className="overflow-x-auto rounded-md bg-slate-900 p-2 text-xs text-slate-100">
        {curl}
      </pre>
      {copied === "failed" && (
        <p role="alert" className="text-xs text-rose-700">
          The browser did not allow copying; select the text and copy it by hand.
        </p>
      )}
    </div>
  );
}

export function WorkflowSettings({ webhookUrl }: { webhookUrl?: string | null }) {
  const store = useEditorStoreApi();
  const meta = useEditor((s) => s.meta);
  const update = (patch: Partial<Omit<Definition, "nodes">>) => store.getState().updateMeta(patch);
  const trigger: Trigger = meta.trigger ?? { type: "manual" };
  const inputs = meta.inputs ?? {};

  return (
    <div data-testid="workflow-settings">
      <Section title="Description">
        <label htmlFor="workflow-description" className="sr-only">
          Description
        </label>
        <textarea
          id="workflow-description"
          className="input min-h-16"
          placeholder="What this workflow does"
          value={meta.description ?? ""}
          onChange={(e) => update({ description: e.target.value })}
        />
      </Section>
      <Section title="Inputs">
        <InputsEditor inputs={inputs} onChange={(next) => update({ inputs: next })} />
      </Section>
      <Section title="Trigger">
        <TriggerEditor trigger={trigger} onChange={(next) => update({ trigger: next })} />
        {trigger.type === "webhook" &&
          (webhookUrl ? (
            <WebhookDetails url={webhookUrl} inputs={inputs} respond={trigger.respond ?? "accepted"} />
          ) : (
            <p className="text-xs text-slate-500">Save the workflow to get its webhook URL.</p>
          ))}
      </Section>
      <Section title="Defaults for every node">
        <DefaultsEditor defaults={meta.defaults ?? {}} onChange={(next) => update({ defaults: next })} />
      </Section>
    </div>
  );
}

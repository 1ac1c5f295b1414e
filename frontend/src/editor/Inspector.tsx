/**
 * The selected node's settings: id, name, credential, params (generated from the node type's
 * schema) and how it runs (when, retry, timeout, on_error, join, mode), with the validation
 * issues about it next to the fields they concern. Every edit goes through the editor store.
 */
import { type ReactNode, useMemo, useState } from "react";

import { useNodeTypes } from "../api/queries";
import type { ValidationIssue } from "../api/types";
import { Button, ErrorState, Spinner } from "../components/ui";
import { type DefinitionNode, NODE_ID_PATTERN, type RetryPolicy } from "../lib/definition";
import { graphToDefinition } from "../lib/graph";
import { CredentialPicker } from "./CredentialPicker";
import { useEditor, useEditorStoreApi } from "./EditorStoreContext";
import { NeedsPicker } from "./NeedsPicker";
import { FieldShell, SchemaForm, useTextDraft } from "./SchemaForm";
import { asJsonSchema, errorFor, fieldsOf, isUnder, type JsonSchema, jsonText, parseJsonText } from "./schemaForm";
import { scopeFor } from "./scope";
import { TemplateInput } from "./TemplateInput";

type Step = Omit<DefinitionNode, "id" | "needs" | "position">;

const MAX_ID_LENGTH = 64;
const ENGINE_TIMEOUT = "5m";

/** The engine's RetrySpec defaults (workflows/definition.py): what a node policy's empty fields mean. */
const RETRY_SCHEMA: JsonSchema = {
  type: "object",
  properties: {
    max_attempts: { type: "integer", title: "Max attempts", default: 3, minimum: 1, maximum: 100 },
    backoff: { type: "number", title: "Backoff", default: 2, minimum: 1, maximum: 10 },
    initial_interval: { type: "string", title: "Initial interval", default: "1s" },
    max_interval: { type: "string", title: "Max interval", default: "1m" },
    non_retryable_errors: {
      type: "array",
      items: { type: "string" },
      title: "Non-retryable errors",
      description: "Error types never retried, e.g. HttpStatusError.",
    },
  },
};

/** Fields the inspector shows itself; issues about anything else are listed at the top. */
const OWN_FIELDS = ["id", "name", "needs", "when", "retry", "timeout", "on_error", "join", "mode"];

export function Inspector({ nodeId, issues }: { nodeId: string; issues: ValidationIssue[] }) {
  const store = useEditorStoreApi();
  const { node, nodes, edges, meta } = useEditor((state) => ({
    node: state.nodes.find((candidate) => candidate.id === nodeId),
    nodes: state.nodes,
    edges: state.edges,
    meta: state.meta,
  }));
  const nodeTypes = useNodeTypes();
  const definition = useMemo(() => graphToDefinition(meta, nodes, edges), [meta, nodes, edges]);
  const scope = useMemo(() => scopeFor(definition, nodeId), [definition, nodeId]);

  if (!node) return <p className="p-4 text-sm text-slate-500">This node no longer exists.</p>;

  const step: Step = node.data.step;
  const nodeType = nodeTypes.data?.find((candidate) => candidate.type === step.type);
  const needCount = edges.filter((edge) => edge.target === nodeId).length;
  const takenIds = new Set([...nodes.map((other) => other.id), ...(meta.on_failure ?? []).map((other) => other.id)]);
  takenIds.delete(nodeId);

  const update = (patch: Partial<Step>) => store.getState().updateStep(nodeId, patch);
  const params = step.params ?? {};
  const paramFields = nodeType ? fieldsOf(asJsonSchema(nodeType.params_schema), "params", params) : [];
  const showsCredential = (nodeType?.credential_kinds.length ?? 0) > 0;
  const claimed = (field: string) =>
    OWN_FIELDS.some((own) => isUnder(field, own)) ||
    (showsCredential && isUnder(field, "credential")) ||
    (nodeType ? paramFields.some((param) => isUnder(field, param.path)) : isUnder(field, "params"));
  const unplaced = issues.filter((issue) => !claimed(issue.field));

  return (
    <div className="space-y-4 p-3 text-sm" data-testid="inspector">
      <header>
        <h2 className="font-semibold text-slate-900">{nodeType?.title ?? step.type}</h2>
        <p className="font-mono text-[11px] text-slate-500">{step.type}</p>
        {nodeType && <p className="mt-1 text-xs text-slate-600">{nodeType.description}</p>}
        {nodeType?.output_description && (
          <p className="mt-1 text-xs text-slate-500">
            <span className="font-medium text-slate-600">Output: </span>
            {nodeType.output_description}
          </p>
        )}
      </header>

      {unplaced.length > 0 && (
        <section aria-labelledby="inspector-issues-title" className="rounded-md border border-rose-200 bg-rose-50 p-2 text-xs text-rose-800">
          <h3 id="inspector-issues-title" className="font-medium">
            Problems with this node
          </h3>
          <ul data-testid="inspector-issues" className="mt-1 list-disc space-y-0.5 pl-4">
            {unplaced.map((issue, index) => (
              <li key={index}>
                <span className="font-mono">{issue.field || "node"}</span>: {issue.message}
              </li>
            ))}
          </ul>
        </section>
      )}

      <div className="space-y-3">
        <NodeIdField
          key={nodeId}
          nodeId={nodeId}
          takenIds={takenIds}
          serverError={errorFor("id", issues)}
          onRename={(to) => store.getState().renameNode(nodeId, to)}
        />
        <FieldShell label="Name" path="name" description="Shown on the canvas instead of the id." error={errorFor("name", issues)}>
          {(a11y) => (
            <input
              id={a11y.id}
              aria-describedby={a11y.describedBy}
              aria-invalid={a11y.invalid || undefined}
              className="input"
              autoComplete="off"
              value={step.name ?? ""}
              onChange={(event) => update({ name: event.target.value === "" ? undefined : event.target.value })}
            />
          )}
        </FieldShell>
        <NeedsPicker nodeId={nodeId} nodeIds={nodes.map((other) => other.id)} edges={edges} error={errorFor("needs", issues)} />
        {nodeType && showsCredential && (
          <CredentialPicker
            kinds={nodeType.credential_kinds}
            required={nodeType.credential_required}
            value={step.credential}
            onChange={(name) => update({ credential: name })}
            error={errorFor("credential", issues)}
          />
        )}
      </div>

      <Section title="Parameters" testId="inspector-params">
        {nodeTypes.isPending ? (
          <Spinner label="Loading node types…" />
        ) : nodeTypes.isError ? (
          <ErrorState error={nodeTypes.error} retry={() => void nodeTypes.refetch()} />
        ) : nodeType ? (
          <SchemaForm
            schema={asJsonSchema(nodeType.params_schema)}
            value={params}
            onChange={(next) => update({ params: Object.keys(next).length > 0 ? next : undefined })}
            errors={issues}
            scope={scope}
          />
        ) : (
          <RawParams params={params} error={errorFor("params", issues)} onChange={(next) => update({ params: next })} />
        )}
      </Section>

      <Section title="Execution" testId="inspector-execution">
        {nodeType?.runs_in === "workflow" && (
          <p className="text-xs text-slate-500">
            This node runs inside the workflow itself: retry, timeout and mode only apply to nodes that run as activities.
          </p>
        )}
        <WhenField value={step.when ?? ""} scope={scope} error={errorFor("when", issues)} onChange={(when) => update({ when })} />
        <RetryFields retry={step.retry} workflowRetry={meta.defaults?.retry} issues={issues} onChange={(retry) => update({ retry })} />
        <FieldShell
          label="Timeout"
          path="timeout"
          description={`Start-to-close time per attempt, e.g. 30s, 5m, 2h. Empty: the workflow default (${meta.defaults?.timeout ?? ENGINE_TIMEOUT}).`}
          error={errorFor("timeout", issues)}
        >
          {(a11y) => (
            <input
              id={a11y.id}
              aria-describedby={a11y.describedBy}
              aria-invalid={a11y.invalid || undefined}
              className="input"
              autoComplete="off"
              placeholder={meta.defaults?.timeout ?? ENGINE_TIMEOUT}
              value={step.timeout ?? ""}
              onChange={(event) => update({ timeout: event.target.value.trim() === "" ? undefined : event.target.value.trim() })}
            />
          )}
        </FieldShell>
        <ChoiceField
          label="On error"
          path="on_error"
          value={step.on_error}
          fallback="fail"
          options={[
            ["fail", "Fail the run"],
            ["continue", "Continue"],
          ]}
          description={
            <>
              When the node fails after its retries. Continue marks it failed, sets its output to <code>{'{"error": …}'}</code> and lets
              the nodes after it run.
            </>
          }
          error={errorFor("on_error", issues)}
          onChange={(on_error) => update({ on_error })}
        />
        <ChoiceField
          label="Join"
          path="join"
          value={step.join}
          fallback="all"
          options={[
            ["all", "All"],
            ["any", "Any"],
          ]}
          description={
            <>
              {`Waits for ${needCount === 1 ? "1 node" : `${needCount} nodes`}. `}
              All: skipped when any of them was skipped. Any: runs unless every one was skipped.
              {needCount < 2 && " Only matters with two or more incoming connections."}
            </>
          }
          error={errorFor("join", issues)}
          onChange={(join) => update({ join })}
        />
        <ChoiceField
          label="Mode"
          path="mode"
          value={step.mode}
          fallback="activity"
          options={[
            ["activity", "Activity"],
            ["local", "Local activity"],
          ]}
          description="Local runs the call in the worker without a task-queue round trip: faster for short calls, but no heartbeats."
          error={errorFor("mode", issues)}
          onChange={(mode) => update({ mode })}
        />
      </Section>

      <div className="border-t border-slate-200 pt-3">
        <Button tone="danger" onClick={() => store.getState().removeElements([nodeId], [])}>
          Delete node
        </Button>
      </div>
    </div>
  );
}

function Section({ title, testId, children }: { title: string; testId: string; children: ReactNode }) {
  return (
    <fieldset className="space-y-3 border-t border-slate-200 pt-1" data-testid={testId}>
      <legend className="pr-2 text-xs font-semibold uppercase tracking-wide text-slate-500">{title}</legend>
      {children}
    </fieldset>
  );
}

function NodeIdField({
  nodeId,
  takenIds,
  serverError,
  onRename,
}: {
  nodeId: string;
  takenIds: ReadonlySet<string>;
  serverError: string | undefined;
  onRename: (to: string) => void;
}) {
  const [draft, setDraft] = useState(nodeId);
  const [problem, setProblem] = useState<string | null>(null);
  const commit = () => {
    const next = draft.trim();
    if (next === nodeId) {
      setDraft(nodeId);
      setProblem(null);
    } else if (!NODE_ID_PATTERN.test(next)) {
      setProblem("Use a lowercase letter first, then lowercase letters, digits or _.");
    } else if (next.length > MAX_ID_LENGTH) {
      setProblem(`At most ${MAX_ID_LENGTH} characters.`);
    } else if (takenIds.has(next)) {
      setProblem(`“${next}” is already the id of another node.`);
    } else {
      setProblem(null);
      onRename(next);
    }
  };
  return (
    <FieldShell
      label="Node id"
      path="id"
      required
      description={<>Templates read this node's output as <code>{`nodes.${nodeId}.output`}</code>.</>}
      error={problem ?? serverError}
    >
      {(a11y) => (
        <input
          id={a11y.id}
          aria-describedby={a11y.describedBy}
          aria-invalid={a11y.invalid || undefined}
          className="input font-mono text-xs"
          autoComplete="off"
          spellCheck={false}
          value={draft}
          onChange={(event) => {
            setDraft(event.target.value);
            setProblem(null);
          }}
          onBlur={commit}
          onKeyDown={(event) => {
            if (event.key === "Enter") {
              event.preventDefault();
              commit();
            } else if (event.key === "Escape") {
              setDraft(nodeId);
              setProblem(null);
            }
          }}
        />
      )}
    </FieldShell>
  );
}

function WhenField({
  value,
  scope,
  error,
  onChange,
}: {
  value: string;
  scope: ReturnType<typeof scopeFor>;
  error: string | undefined;
  onChange: (when: string | undefined) => void;
}) {
  const plain = value.trim() !== "" && !/{{|{%/.test(value);
  return (
    <FieldShell
      label="When"
      path="when"
      description={
        <>
          Run only if this renders truthy, else the node is skipped. E.g. <code>{"{{ nodes.check.output.ok }}"}</code>.
          {plain && (
            <span className="block text-amber-700" data-testid="when-plain-text">
              Without {"{{ }}"} this is plain text, which is always true.
            </span>
          )}
        </>
      }
      error={error}
    >
      {(a11y) => (
        <TemplateInput
          id={a11y.id}
          label="When"
          value={value}
          names={scope}
          monospace
          invalid={a11y.invalid}
          describedBy={a11y.describedBy}
          onChange={(text) => onChange(text === "" ? undefined : text)}
        />
      )}
    </FieldShell>
  );
}

function describeRetry(retry: RetryPolicy | undefined): string {
  if (!retry) return "3 attempts, 1s then ×2 up to 1m";
  const attempts = retry.max_attempts ?? 3;
  return `${attempts} attempt${attempts === 1 ? "" : "s"}, ${retry.initial_interval ?? "1s"} then ×${retry.backoff ?? 2} up to ${retry.max_interval ?? "1m"}`;
}

function RetryFields({
  retry,
  workflowRetry,
  issues,
  onChange,
}: {
  retry: RetryPolicy | null | undefined;
  workflowRetry: RetryPolicy | undefined;
  issues: readonly ValidationIssue[];
  onChange: (retry: RetryPolicy | undefined) => void;
}) {
  const own = retry ?? {};
  const error = issues.find((issue) => issue.field === "retry")?.message;
  return (
    <div role="group" aria-labelledby="inspector-retry-title" aria-describedby="inspector-retry-help" className="space-y-2">
      <div>
        <h4 id="inspector-retry-title" className="text-xs font-medium text-slate-700">
          Retry
        </h4>
        <p id="inspector-retry-help" className="text-xs text-slate-500">
          {retry
            ? "This node's own policy; empty fields take the built-in defaults shown."
            : `Empty: the workflow's policy (${describeRetry(workflowRetry)}).`}
        </p>
        {error && (
          <p data-testid="field-error-retry" className="mt-1 text-xs text-rose-700">
            {error}
          </p>
        )}
      </div>
      <SchemaForm
        schema={RETRY_SCHEMA}
        value={own as Record<string, unknown>}
        onChange={(next) => onChange(Object.keys(next).length > 0 ? (next as RetryPolicy) : undefined)}
        errors={issues.filter((issue) => issue.field !== "retry")}
        scope={[]}
        pathPrefix="retry"
        templates={false}
        columns={2}
      />
    </div>
  );
}

type Choice<T extends string> = readonly [T, string];

function ChoiceField<T extends string>({
  label,
  path,
  value,
  fallback,
  options,
  description,
  error,
  onChange,
}: {
  label: string;
  path: string;
  value: T | undefined;
  /** The engine's default: choosing it removes the key. */
  fallback: T;
  options: readonly Choice<T>[];
  description: ReactNode;
  error: string | undefined;
  onChange: (value: T | undefined) => void;
}) {
  return (
    <FieldShell label={label} path={path} description={description} error={error}>
      {(a11y) => (
        <select
          id={a11y.id}
          aria-describedby={a11y.describedBy}
          aria-invalid={a11y.invalid || undefined}
          className="input"
          value={value ?? fallback}
          onChange={(event) => {
            const chosen = options.find(([option]) => option === event.target.value)?.[0];
            onChange(chosen === fallback ? undefined : chosen);
          }}
        >
          {options.map(([option, text]) => (
            <option key={option} value={option}>
              {text}
            </option>
          ))}
        </select>
      )}
    </FieldShell>
  );
}

/** Params of a node type the catalog does not know: one JSON editor for the whole object. */
function RawParams({
  params,
  error,
  onChange,
}: {
  params: Record<string, unknown>;
  error: string | undefined;
  onChange: (params: Record<string, unknown> | undefined) => void;
}) {
  const [text, setText] = useTextDraft<unknown>(params, jsonText, parseJsonText);
  const parsed = parseJsonText(text);
  const isObject = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed);
  return (
    <FieldShell
      label="Params"
      path="params"
      description="Unknown node type: edit its params as a JSON object."
      error={error ?? (text.trim() !== "" && !isObject ? "Must be a JSON object." : undefined)}
    >
      {(a11y) => (
        <textarea
          id={a11y.id}
          aria-describedby={a11y.describedBy}
          aria-invalid={a11y.invalid || undefined}
          className="input font-mono text-xs"
          rows={8}
          spellCheck={false}
          value={text}
          onChange={(event) => {
            setText(event.target.value);
            const next = parseJsonText(event.target.value);
            if (next === undefined) onChange(undefined);
            else if (typeof next === "object" && next !== null && !Array.isArray(next)) onChange(next as Record<string, unknown>);
          }}
        />
      )}
    </FieldShell>
  );
}

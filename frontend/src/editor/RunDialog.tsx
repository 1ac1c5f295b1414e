/**
 * "Run workflow": a modal form generated from the definition's `inputs` that starts a run of the
 * saved workflow (POST /workflows/{id}/runs) and opens it. Escape or Cancel closes it.
 */
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, type KeyboardEvent, useEffect, useMemo, useRef, useState } from "react";
import { createPortal } from "react-dom";
import { useNavigate } from "react-router";

import { http, type Problem, problemsOf } from "../api/client";
import type { RunPublic } from "../api/types";
import { Button } from "../components/ui";
import type { InputSpec } from "../lib/definition";
import { coerceInputs, initialInputValues, type InputField, inputFields, inputOfProblemField, type InputValues } from "./runInputs";

const FOCUSABLE = "input, select, textarea, button, a[href], [tabindex]:not([tabindex='-1'])";

function fieldId(name: string): string {
  return `run-input-${name}`;
}

function InputControl({
  field,
  value,
  error,
  onChange,
}: {
  field: InputField;
  value: string;
  error?: string;
  onChange: (value: string) => void;
}) {
  const id = fieldId(field.name);
  const hintId = `${id}-hint`;
  const hint = error ?? field.description;
  const common = {
    id,
    name: field.name,
    "aria-invalid": error ? true : undefined,
    "aria-required": field.required || undefined,
    "aria-describedby": hint ? hintId : undefined,
  };
  return (
    <div className="text-sm">
      <label htmlFor={id} className="font-medium text-slate-700">
        {field.name}
        {field.required ? <span aria-hidden="true" className="text-rose-600"> *</span> : <span className="font-normal text-slate-400"> (optional)</span>}
        <span className="ml-2 text-xs font-normal text-slate-400">{field.type}</span>
      </label>
      {field.type === "boolean" ? (
        <select {...common} className="input mt-1" value={value} onChange={(event) => onChange(event.target.value)}>
          <option value="">{field.required ? "Choose…" : "— use the default —"}</option>
          <option value="true">true</option>
          <option value="false">false</option>
        </select>
      ) : field.type === "object" || field.type === "array" ? (
        <textarea
          {...common}
          className="input mt-1 min-h-20 font-mono text-xs"
          spellCheck={false}
          placeholder={field.type === "object" ? '{"key": "value"}' : '["a", "b"]'}
          value={value}
          onChange={(event) => onChange(event.target.value)}
        />
      ) : (
        <input
          {...common}
          className="input mt-1"
          inputMode={field.type === "integer" ? "numeric" : field.type === "number" ? "decimal" : undefined}
          autoComplete="off"
          value={value}
          onChange={(event) => onChange(event.target.value)}
        />
      )}
      {hint && (
        <p id={hintId} className={`mt-1 text-xs ${error ? "text-rose-700" : "text-slate-500"}`}>
          {hint}
        </p>
      )}
    </div>
  );
}

/** Server problems split into those of a form field and the rest. */
function sortProblems(problems: readonly Problem[], names: readonly string[]) {
  const byField: Record<string, string> = {};
  const general: Problem[] = [];
  for (const problem of problems) {
    const name = inputOfProblemField(problem.field, names);
    if (name) byField[name] = problem.message;
    else general.push(problem);
  }
  return { byField, general };
}

export function RunDialog({
  workflowId,
  inputs,
  onClose,
}: {
  workflowId: string;
  inputs: Record<string, InputSpec> | undefined;
  onClose: () => void;
}) {
  const fields = useMemo(() => inputFields(inputs), [inputs]);
  const names = useMemo(() => fields.map((field) => field.name), [fields]);
  const [values, setValues] = useState<InputValues>(() => initialInputValues(fields));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const dialogRef = useRef<HTMLDivElement>(null);
  const navigate = useNavigate();

  const start = useMutation({
    mutationFn: async (runInputs: Record<string, unknown>) =>
      (await http.post<RunPublic>(`/workflows/${workflowId}/runs`, { inputs: runInputs })).data,
    onSuccess: (run) => void navigate(`/runs/${run.id}`),
    onError: (error) => setErrors(sortProblems(problemsOf(error), names).byField),
  });
  const general = start.isError ? sortProblems(problemsOf(start.error), names).general : [];

  useEffect(() => {
    const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    dialogRef.current?.querySelector<HTMLElement>(FOCUSABLE)?.focus();
    return () => previous?.focus();
  }, []);

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      onClose();
      return;
    }
    if (event.key !== "Tab" || !dialogRef.current) return;
    const focusable = [...dialogRef.current.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => !el.hasAttribute("disabled"));
    const first = focusable[0];
    const last = focusable.at(-1);
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last?.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first?.focus();
    }
  };

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const coerced = coerceInputs(fields, values);
    setErrors(coerced.errors);
    const firstInvalid = fields.find((field) => coerced.errors[field.name]);
    if (firstInvalid) {
      document.getElementById(fieldId(firstInvalid.name))?.focus();
      return;
    }
    start.mutate(coerced.inputs);
  };

  return createPortal(
    <div className="fixed inset-0 z-50 flex items-start justify-center overflow-y-auto bg-slate-900/40 p-4 pt-[10vh]" onMouseDown={(event) => event.target === event.currentTarget && onClose()}>
      <div
        ref={dialogRef}
        role="dialog"
        aria-modal="true"
        aria-label="Run workflow"
        onKeyDown={onKeyDown}
        className="card w-full max-w-lg p-5 shadow-xl"
      >
        <form onSubmit={onSubmit} noValidate className="space-y-4">
          <div>
            <h2 className="text-base font-semibold">Run workflow</h2>
            <p className="mt-1 text-xs text-slate-500">Starts a run of the saved version; unsaved edits are not included.</p>
          </div>
          {fields.length === 0 ? (
            <p className="text-sm text-slate-600">This workflow takes no inputs.</p>
          ) : (
            <div className="max-h-[55vh] space-y-3 overflow-y-auto pr-1">
              {fields.map((field) => (
                <InputControl
                  key={field.name}
                  field={field}
                  value={values[field.name] ?? ""}
                  error={errors[field.name]}
                  onChange={(value) => setValues((prev) => ({ ...prev, [field.name]: value }))}
                />
              ))}
            </div>
          )}
          {general.length > 0 && (
            <div role="alert" className="rounded-md border border-rose-200 bg-rose-50 p-3 text-sm text-rose-800">
              <p className="font-medium">The run could not start</p>
              <ul className="mt-1 list-disc pl-5">
                {general.map((problem, index) => (
                  <li key={index}>
                    {problem.field ? <code className="mr-1">{problem.field}</code> : null}
                    {problem.message}
                  </li>
                ))}
              </ul>
            </div>
          )}
          <div className="flex justify-end gap-2">
            <Button onClick={onClose}>Cancel</Button>
            <Button type="submit" tone="primary" disabled={start.isPending}>
              {start.isPending ? "Starting…" : "Start run"}
            </Button>
          </div>
        </form>
      </div>
    </div>,
    document.body,
  );
}

/** A new credential: a name, a kind, and that kind's fields, generated from its JSON Schema. */
import { type FormEvent, useMemo, useState } from "react";

import { problemsOf } from "../api/client";
import type { CredentialPublic } from "../api/types";
import { Button } from "../components/ui";
import { useCreateCredential } from "./api";
import { type CredentialField, collectData, fieldsOf, initialValues, type JsonSchema } from "./credentialForm";

interface Props {
  kinds: Record<string, JsonSchema>;
  initialKind?: string;
  /** Node type titles per kind, to say what a kind is for. */
  usedBy: Record<string, string[]>;
  onSaved: (credential: CredentialPublic) => void;
  onCancel: () => void;
}

function FieldInput({
  field,
  value,
  error,
  onChange,
}: {
  field: CredentialField;
  value: string;
  error?: string;
  onChange: (value: string) => void;
}) {
  const id = `credential-field-${field.name}`;
  const hintId = `${id}-hint`;
  const common = {
    id,
    name: field.name,
    required: field.required,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": error || field.description ? hintId : undefined,
    className: "input mt-1 w-full",
  };
  return (
    <div className="text-sm">
      <label htmlFor={id} className="font-medium text-slate-700">
        {field.label}
        {field.required ? <span aria-hidden="true"> *</span> : <span className="font-normal text-slate-400"> (optional)</span>}
      </label>
      {field.control === "select" ? (
        <select {...common} value={value} onChange={(event) => onChange(event.target.value)}>
          {!field.required && !field.initial && <option value="">—</option>}
          {field.options.map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
        </select>
      ) : field.name.endsWith("_json") ? (
        <textarea
          {...common}
          className={`${common.className} min-h-24 font-mono text-xs [-webkit-text-security:disc]`}
          value={value}
          autoComplete="off"
          spellCheck={false}
          onChange={(event) => onChange(event.target.value)}
        />
      ) : (
        <input
          {...common}
          type={field.control}
          value={value}
          minLength={field.minLength}
          maxLength={field.maxLength}
          min={field.minimum}
          max={field.maximum}
          autoComplete={field.control === "password" ? "new-password" : "off"}
          spellCheck={false}
          onChange={(event) => onChange(event.target.value)}
        />
      )}
      {(error || field.description) && (
        <p id={hintId} className={`mt-1 text-xs ${error ? "text-rose-700" : "text-slate-500"}`}>
          {error ?? field.description}
        </p>
      )}
    </div>
  );
}

export function CredentialForm({ kinds, initialKind, usedBy, onSaved, onCancel }: Props) {
  const kindNames = Object.keys(kinds);
  const [name, setName] = useState("");
  const [kind, setKind] = useState(initialKind && initialKind in kinds ? initialKind : (kindNames[0] ?? ""));
  const fields = useMemo(() => fieldsOf(kinds[kind]), [kinds, kind]);
  const [values, setValues] = useState<Record<string, string>>(() => initialValues(fields));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const create = useCreateCredential();

  const changeKind = (next: string) => {
    setKind(next);
    // Secrets typed for one kind must not leak into another kind's fields.
    setValues(initialValues(fieldsOf(kinds[next])));
    setErrors({});
  };

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const collected = collectData(fields, values);
    setErrors(collected.errors);
    if (Object.keys(collected.errors).length > 0 || !name.trim()) return;
    create.mutate(
      { name: name.trim(), kind, data: collected.data },
      {
        onSuccess: (credential) => {
          setName("");
          setValues(initialValues(fields));
          onSaved(credential);
        },
      },
    );
  };

  const serverProblems = create.isError ? problemsOf(create.error) : [];

  return (
    <form onSubmit={onSubmit} className="card space-y-4 p-4" aria-labelledby="new-credential-title" data-testid="credential-form">
      <h2 id="new-credential-title" className="font-semibold">
        New credential
      </h2>
      <div className="grid gap-4 sm:grid-cols-2">
        <div className="text-sm">
          <label htmlFor="credential-name" className="font-medium text-slate-700">
            Name
          </label>
          <input
            id="credential-name"
            className="input mt-1 w-full"
            required
            maxLength={200}
            autoComplete="off"
            value={name}
            onChange={(event) => setName(event.target.value)}
            aria-describedby="credential-name-hint"
          />
          <p id="credential-name-hint" className="mt-1 text-xs text-slate-500">
            Workflows refer to it by this name, e.g. <code>slack-eng</code>.
          </p>
        </div>
        <div className="text-sm">
          <label htmlFor="credential-kind" className="font-medium text-slate-700">
            Kind
          </label>
          <select id="credential-kind" className="input mt-1 w-full" value={kind} onChange={(event) => changeKind(event.target.value)}>
            {kindNames.map((option) => (
              <option key={option} value={option}>
                {option}
              </option>
            ))}
          </select>
          <p className="mt-1 text-xs text-slate-500">
            {usedBy[kind]?.length ? `Used by: ${usedBy[kind].join(", ")}` : "Not used by a built-in node type"}
          </p>
        </div>
      </div>
      <fieldset className="grid gap-4 sm:grid-cols-2">
        <legend className="sr-only">{kind} fields</legend>
        {fields.map((field) => (
          <FieldInput
            key={`${kind}.${field.name}`}
            field={field}
            value={values[field.name] ?? ""}
            error={errors[field.name]}
            onChange={(value) => setValues((current) => ({ ...current, [field.name]: value }))}
          />
        ))}
      </fieldset>
      <p className="text-xs text-slate-500">
        Secrets are encrypted on the server and can never be read back, not even by you: to change one, delete the
        credential and create it again.
      </p>
      {serverProblems.length > 0 && (
        <div role="alert" className="rounded-md border border-rose-200 bg-rose-50 p-3 text-sm text-rose-800">
          <p className="font-medium">The credential was not saved</p>
          <ul className="mt-1 list-disc pl-5">
            {serverProblems.map((problem, index) => (
              <li key={index}>
                {problem.field ? `${problem.field.replace(/^data\./, "")}: ` : ""}
                {problem.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      <div className="flex gap-2">
        <Button tone="primary" type="submit" disabled={create.isPending || !kind}>
          {create.isPending ? "Saving…" : "Save credential"}
        </Button>
        <Button tone="ghost" onClick={onCancel}>
          Cancel
        </Button>
      </div>
    </form>
  );
}

/**
 * Which stored credential a node uses (by name, as definitions refer to it): the user's
 * credentials of the kinds the node type accepts, "None" when it needs none, and a link to
 * create one on the Connectors screen (in a new tab, so the unsaved workflow stays open).
 */
import { useCredentials } from "../connectors/api";
import { messageOf } from "../api/client";
import { FieldShell } from "./SchemaForm";

export interface CredentialPickerProps {
  /** The credential kinds the node type accepts (NodeType.credential_kinds). */
  kinds: readonly string[];
  required: boolean;
  /** The chosen credential's name. */
  value: string | null | undefined;
  /** undefined when "None" is chosen. */
  onChange: (name: string | undefined) => void;
  error?: string;
}

export function CredentialPicker({ kinds, required, value, onChange, error }: CredentialPickerProps) {
  const credentials = useCredentials();
  const usable = (credentials.data ?? []).filter((credential) => kinds.includes(credential.kind));
  const current = value ?? "";
  const missing = current !== "" && credentials.isSuccess && !usable.some((credential) => credential.name === current);
  const kindList = kinds.join(" or ");
  const description = (
    <>
      {credentials.isError ? (
        <span className="text-rose-700">
          Could not load your credentials ({messageOf(credentials.error)}).{" "}
          <button type="button" className="font-medium underline" onClick={() => void credentials.refetch()}>
            Retry
          </button>{" "}
        </span>
      ) : credentials.isSuccess && usable.length === 0 ? (
        <span>You have no {kindList} credential yet. </span>
      ) : (
        <span>Kind {kindList}. </span>
      )}
      <a
        href={`/connectors?new=${encodeURIComponent(kinds[0] ?? "")}`}
        target="_blank"
        rel="noreferrer"
        className="font-medium text-indigo-700 hover:underline"
      >
        New credential<span className="sr-only"> (opens in a new tab)</span> ↗
      </a>
    </>
  );
  return (
    <FieldShell label="Credential" path="credential" required={required} description={description} error={error}>
      {(a11y) => (
        <select
          id={a11y.id}
          aria-describedby={a11y.describedBy}
          aria-invalid={a11y.invalid ? true : undefined}
          aria-required={required || undefined}
          aria-busy={credentials.isPending || undefined}
          className="input"
          value={current}
          onChange={(event) => onChange(event.target.value === "" ? undefined : event.target.value)}
        >
          {required ? (
            <option value="" disabled>
              {credentials.isPending ? "Loading credentials…" : "Choose a credential…"}
            </option>
          ) : (
            <option value="">{credentials.isPending ? "None (loading credentials…)" : "None"}</option>
          )}
          {missing && <option value={current}>{current} (not found)</option>}
          {!credentials.isSuccess && current !== "" && <option value={current}>{current}</option>}
          {usable.map((credential) => (
            <option key={credential.id} value={credential.name}>
              {credential.name} ({credential.kind})
            </option>
          ))}
        </select>
      )}
    </FieldShell>
  );
}

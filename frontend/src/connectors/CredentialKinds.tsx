/** The kinds of credential the server stores, their fields and the node types that use them. */
import { Button, ErrorState, Spinner } from "../components/ui";
import { useCredentialKinds } from "./api";
import { fieldsOf } from "./credentialForm";

export function CredentialKinds({ usedBy, onAdd }: { usedBy: Record<string, string[]>; onAdd?: (kind: string) => void }) {
  const kinds = useCredentialKinds();
  if (kinds.isPending) return <Spinner label="Loading credential kinds…" />;
  if (kinds.isError) return <ErrorState error={kinds.error} retry={() => void kinds.refetch()} />;
  return (
    <ul className="grid gap-3 sm:grid-cols-2 xl:grid-cols-3">
      {Object.entries(kinds.data).map(([kind, schema]) => {
        const fields = fieldsOf(schema);
        return (
          <li key={kind} className="card flex flex-col gap-1 p-3 text-sm" data-testid="credential-kind" data-kind={kind}>
            <p className="font-mono font-medium text-indigo-700">{kind}</p>
            <p className="text-xs text-slate-600">
              Fields:{" "}
              {fields.map((field, index) => (
                <span key={field.name}>
                  {index > 0 && ", "}
                  {field.label}
                  {field.control === "password" && <span className="text-amber-700"> (secret)</span>}
                  {!field.required && <span className="text-slate-400"> (optional)</span>}
                </span>
              ))}
            </p>
            <p className="flex-1 text-xs text-slate-500">Used by: {usedBy[kind]?.join(", ") ?? "no built-in node type yet"}</p>
            {onAdd && (
              <div>
                <Button className="mt-1" onClick={() => onAdd(kind)}>
                  Add {kind}
                </Button>
              </div>
            )}
          </li>
        );
      })}
    </ul>
  );
}

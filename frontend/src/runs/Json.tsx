import { useState } from "react";

import { http, messageOf } from "../api/client";
import { Button } from "../components/ui";
import { download } from "../workflows/importExport";

/** A large value of a run's record: the API keeps a preview and serves the whole value
 * from its own address (see core/large_values.py). */
export interface StoredValue {
  key: string;
  size: number;
  preview: string;
}

export function storedValue(value: unknown): StoredValue | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const entries = Object.entries(value);
  if (entries.length !== 1 || entries[0]![0] !== "$stored") return null;
  const stored = entries[0]![1] as Partial<StoredValue> | null;
  if (!stored || typeof stored.size !== "number" || typeof stored.preview !== "string") return null;
  return stored as StoredValue;
}

export function formatBytes(size: number): string {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KB`;
  return `${(size / (1024 * 1024)).toFixed(1)} MB`;
}

/** Pretty JSON in a scrollable block; a large value shows its preview and, given `wholeUrl`
 * (an API path), a button that downloads all of it. */
export function Json({ value, testId, wholeUrl }: { value: unknown; testId?: string; wholeUrl?: string }) {
  const stored = storedValue(value);
  if (stored) return <StoredJson stored={stored} testId={testId} wholeUrl={wholeUrl} />;
  return (
    <pre data-testid={testId} className="max-h-72 overflow-auto rounded-md bg-slate-900 p-3 text-xs text-slate-100">
      {value === undefined ? "—" : JSON.stringify(value, null, 2)}
    </pre>
  );
}

function StoredJson({ stored, testId, wholeUrl }: { stored: StoredValue; testId?: string; wholeUrl?: string }) {
  const [state, setState] = useState<"idle" | "loading" | string>("idle");

  async function fetchWhole(url: string) {
    setState("loading");
    try {
      const answer = await http.get<unknown>(url, { transformResponse: (text: string) => text });
      download(`${url.split("/").slice(-2).join("-")}.json`, String(answer.data));
      setState("idle");
    } catch (error) {
      setState(messageOf(error));
    }
  }

  return (
    <div data-testid={testId} className="space-y-2">
      <p className="text-xs text-slate-600">
        Large value ({formatBytes(stored.size)}): the first {stored.preview.length.toLocaleString()} characters.
      </p>
      <pre className="max-h-72 overflow-auto whitespace-pre-wrap break-all rounded-md bg-slate-900 p-3 text-xs text-slate-100">
        {stored.preview}…
      </pre>
      {wholeUrl && (
        <Button disabled={state === "loading"} onClick={() => void fetchWhole(wholeUrl)}>
          {state === "loading" ? "Downloading…" : "Download the whole value"}
        </Button>
      )}
      {state !== "idle" && state !== "loading" && (
        <p role="alert" className="text-xs text-rose-700">
          {state}
        </p>
      )}
    </div>
  );
}

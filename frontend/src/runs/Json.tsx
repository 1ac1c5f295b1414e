/** Pretty JSON in a scrollable block. */
export function Json({ value, testId }: { value: unknown; testId?: string }) {
  return (
    <pre data-testid={testId} className="max-h-72 overflow-auto rounded-md bg-slate-900 p-3 text-xs text-slate-100">
      {value === undefined ? "—" : JSON.stringify(value, null, 2)}
    </pre>
  );
}

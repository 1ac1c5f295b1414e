/** Why generation failed, in words a person can act on. */
import type { ReactNode } from "react";

import type { GenerateProblem } from "./generateError";

export function GenerateProblemNotice({ problem, children }: { problem: GenerateProblem; children?: ReactNode }) {
  const calm = problem.kind === "not-configured";
  return (
    <div
      role="alert"
      data-testid="generate-problem"
      data-kind={problem.kind}
      className={`rounded-lg border p-4 text-sm ${calm ? "border-amber-200 bg-amber-50 text-amber-900" : "border-rose-200 bg-rose-50 text-rose-900"}`}
    >
      <p className="font-semibold">
        {problem.title}
        {problem.message ? ": " : ""}
        <span className="font-normal">{problem.message}</span>
      </p>
      {problem.reasons.length > 0 && (
        <>
          <p className="mt-2 font-medium">What was still wrong:</p>
          <ul className="mt-1 list-disc space-y-0.5 pl-5 font-mono text-xs">
            {problem.reasons.map((reason) => (
              <li key={reason}>{reason}</li>
            ))}
          </ul>
        </>
      )}
      {children && <div className="mt-3 flex flex-wrap gap-2">{children}</div>}
    </div>
  );
}

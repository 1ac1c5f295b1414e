/** Live validation: the server's verdict on the definition being edited, kept per node. */
import { useEffect, useState } from "react";

import { http, problemsOf } from "../api/client";
import type { ValidateResponse, ValidationIssue } from "../api/types";
import type { Definition } from "../lib/definition";

const DEBOUNCE_MS = 350;

export interface Validation {
  checking: boolean;
  issues: ValidationIssue[];
  /** Set when the check itself could not be made (network, server): not the same as valid. */
  failure: string | null;
}

/** Checks `definition` against POST /api/workflows/validate shortly after it stops changing. */
export function useValidation(definition: Definition): Validation {
  const [state, setState] = useState<Validation>({ checking: true, issues: [], failure: null });
  const body = JSON.stringify({ definition });

  useEffect(() => {
    const controller = new AbortController();
    setState((previous) => ({ ...previous, checking: true }));
    const timer = window.setTimeout(() => {
      http
        .post<ValidateResponse>("/workflows/validate", body, {
          signal: controller.signal,
          headers: { "Content-Type": "application/json" },
        })
        .then((answer) => setState({ checking: false, issues: answer.data.errors ?? [], failure: null }))
        .catch((error: unknown) => {
          if (controller.signal.aborted) return;
          setState({ checking: false, issues: [], failure: problemsOf(error).map((p) => p.message).join("; ") });
        });
    }, DEBOUNCE_MS);
    return () => {
      window.clearTimeout(timer);
      controller.abort();
    };
  }, [body]);

  return state;
}

export function issuesByNode(issues: readonly ValidationIssue[]): Map<string, ValidationIssue[]> {
  const byNode = new Map<string, ValidationIssue[]>();
  for (const issue of issues) {
    if (!issue.node) continue;
    byNode.set(issue.node, [...(byNode.get(issue.node) ?? []), issue]);
  }
  return byNode;
}

/** Turns a save's 422 answer into the same issues live validation gives. */
export function issuesOfError(error: unknown): ValidationIssue[] {
  return problemsOf(error)
    .filter((problem) => problem.field !== undefined || problem.node)
    .map((problem) => ({ node: problem.node ?? null, field: problem.field ?? "", message: problem.message }));
}

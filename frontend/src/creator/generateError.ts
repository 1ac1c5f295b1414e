/** What a failed POST /api/workflows/generate means for the person waiting on it. */
import { AxiosError } from "axios";

import { messageOf, statusOf } from "../api/client";

export interface GenerateProblem {
  kind: "not-configured" | "failed" | "invalid-request" | "rate-limited" | "unavailable" | "upstream" | "other";
  title: string;
  message: string;
  /** The model's last problems, when generation gave up (422). */
  reasons: string[];
  retryAfterSeconds?: number;
}

const NOT_CONFIGURED = "natural-language generation is not configured";

function retryAfterOf(error: unknown): number | undefined {
  if (!(error instanceof AxiosError)) return undefined;
  const header: unknown = error.response?.headers?.["retry-after"];
  const seconds = Number(header);
  return header !== undefined && Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
}

function detailOf(error: unknown): unknown {
  return error instanceof AxiosError ? error.response?.data?.detail : undefined;
}

function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function describeGenerateError(error: unknown): GenerateProblem {
  const status = statusOf(error);
  const detail = detailOf(error);
  const message = sentence(messageOf(error));
  const retryAfterSeconds = retryAfterOf(error);
  if (status === 503 && typeof detail === "string" && detail.toLowerCase().startsWith(NOT_CONFIGURED)) {
    return {
      kind: "not-configured",
      title: "Natural-language generation is not configured on this server",
      message: sentence(detail.replace(/^natural-language generation is not configured( on this server)?[\s:;,]*/i, "")),
      reasons: [],
    };
  }
  if (status === 422) {
    if (detail && typeof detail === "object" && !Array.isArray(detail) && "message" in detail) {
      const failure = detail as { message: unknown; errors?: unknown };
      return {
        kind: "failed",
        title: "The workflow could not be generated",
        message: sentence(String(failure.message)),
        reasons: Array.isArray(failure.errors) ? failure.errors.map(String) : [],
      };
    }
    if (typeof detail === "string") {
      return { kind: "failed", title: "The workflow could not be generated", message, reasons: [] };
    }
    return { kind: "invalid-request", title: "Check the description", message, reasons: [] };
  }
  if (status === 429) {
    return {
      kind: "rate-limited",
      title: "Too many generations for now",
      message: retryAfterSeconds
        ? `You can try again in ${retryAfterSeconds} s.`
        : "Wait a moment and try again.",
      reasons: [],
      retryAfterSeconds,
    };
  }
  if (status === 503) {
    return { kind: "unavailable", title: "The language model is unavailable right now", message, reasons: [], retryAfterSeconds };
  }
  if (status === 502 || status === 504) {
    return {
      kind: "upstream",
      title: status === 504 ? "The language model did not answer in time" : "The language model refused the call",
      message,
      reasons: [],
    };
  }
  if (status === 403) {
    return { kind: "other", title: "You cannot generate workflows", message: "Viewers cannot create workflows; ask an admin for the editor role.", reasons: [] };
  }
  return { kind: "other", title: "Generation failed", message, reasons: [] };
}

/** The one HTTP client: the bearer token on every call, a 401 signs the user out. */
import axios, { AxiosError } from "axios";

import { useAuth } from "../auth/store";

export const http = axios.create({ baseURL: "/api" });

http.interceptors.request.use((config) => {
  const token = useAuth.getState().token;
  if (token) config.headers.Authorization = `Bearer ${token}`;
  return config;
});

http.interceptors.response.use(undefined, (error: unknown) => {
  if (error instanceof AxiosError && error.response?.status === 401) {
    const url = error.config?.url ?? "";
    if (!url.startsWith("/auth/login")) useAuth.getState().signOut();
  }
  return Promise.reject(error);
});

/** One problem the API named: a definition issue, a request field, or a plain message. */
export interface Problem {
  node?: string | null;
  field?: string;
  message: string;
}

/** What went wrong, as the API said it (`{"detail": …}`), for showing to a person. */
export function problemsOf(error: unknown): Problem[] {
  if (error instanceof AxiosError) {
    const detail: unknown = error.response?.data?.detail;
    if (typeof detail === "string") return [{ message: detail }];
    if (Array.isArray(detail)) {
      return detail.map((item: Record<string, unknown>) => {
        if (typeof item.message === "string") {
          return { node: item.node as string | null, field: item.field as string, message: item.message };
        }
        const location = Array.isArray(item.loc) ? item.loc.filter((part) => part !== "body").join(".") : "";
        return { field: location, message: String(item.msg ?? "invalid") };
      });
    }
    if (detail && typeof detail === "object" && "message" in detail) {
      return [{ message: String((detail as { message: unknown }).message) }];
    }
    if (error.response) return [{ message: `${error.response.status} ${error.response.statusText}` }];
    return [{ message: "the server cannot be reached" }];
  }
  return [{ message: error instanceof Error ? error.message : String(error) }];
}

export function messageOf(error: unknown): string {
  return problemsOf(error)
    .map((problem) => [problem.node, problem.field].filter(Boolean).join(" · ") + (problem.node || problem.field ? ": " : "") + problem.message)
    .join("; ");
}

export function statusOf(error: unknown): number | undefined {
  return error instanceof AxiosError ? error.response?.status : undefined;
}

/** The audit log's filters as they live in the URL (shareable) and as the API takes them. */

export interface AuditFilters {
  action: string;
  actor_id: string;
  target: string;
  /** A `datetime-local` value ("2026-11-26T09:30"), in the viewer's time zone. */
  since: string;
}

export const FILTER_NAMES = ["action", "actor_id", "target", "since"] as const;

export const KNOWN_ACTIONS = [
  "api_key.create",
  "api_key.delete",
  "credential.create",
  "credential.delete",
  "credential.test",
  "run.approve",
  "run.cancel",
  "run.explain",
  "run.reject",
  "run.retry",
  "user.login",
  "user.login_failed",
  "user.register",
  "user.update",
  "workflow.create",
  "workflow.delete",
  "workflow.dry_run",
  "workflow.generate",
  "workflow.generate_edit",
  "workflow.pause",
  "workflow.resume",
  "workflow.update",
];

export function filtersFromSearch(search: URLSearchParams): AuditFilters {
  return {
    action: search.get("action") ?? "",
    actor_id: search.get("actor_id") ?? "",
    target: search.get("target") ?? "",
    since: search.get("since") ?? "",
  };
}

/** Only the filters that are set, so an unfiltered log has a clean URL. */
export function searchFromFilters(filters: AuditFilters): URLSearchParams {
  const search = new URLSearchParams();
  for (const name of FILTER_NAMES) {
    const value = filters[name].trim();
    if (value) search.set(name, value);
  }
  return search;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AuditQuery {
  params: Record<string, string>;
  /** Filter name → why it cannot be sent (the API would answer 422). */
  errors: Partial<Record<keyof AuditFilters, string>>;
}

/** The API's query: `since` as an absolute time (the local time the viewer picked, in UTC). */
export function apiParams(filters: AuditFilters): AuditQuery {
  const params: Record<string, string> = {};
  const errors: AuditQuery["errors"] = {};
  const action = filters.action.trim();
  const target = filters.target.trim();
  const actor = filters.actor_id.trim();
  const since = filters.since.trim();
  if (action) params.action = action;
  if (target) params.target = target;
  if (actor) {
    if (UUID.test(actor)) params.actor_id = actor;
    else errors.actor_id = "not a user id";
  }
  if (since) {
    const moment = new Date(since);
    if (Number.isNaN(moment.getTime())) errors.since = "not a date and time";
    else params.since = moment.toISOString();
  }
  return { params, errors };
}

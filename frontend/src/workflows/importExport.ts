/**
 * Workflows as JSON files: the export's file name and text (the same as `flowpilot workflows
 * export` writes, so a file downloaded here and one exported by the CLI diff cleanly), and the
 * import of files chosen in the browser.
 *
 * The import is all or nothing where it can be: every file is read and validated by the server
 * (POST /workflows/validate) before anything is created, and one problem anywhere creates
 * nothing. Workflows are matched by name, as in the CLI: a file naming a workflow you already
 * have with the same definition is left alone, and with another definition it is refused (the
 * CLI's `workflows import` updates it; a second workflow of that name would make the next
 * import ambiguous).
 */
import type { Problem } from "../api/client";
import type { ValidateResponse, WorkflowPublic } from "../api/types";

export type Definition = Record<string, unknown>;

const MAX_SLUG = 120;

/** `Weekday issue digest` → `weekday-issue-digest`; accents dropped, other scripts kept. */
export function slug(name: string): string {
  const plain = name.normalize("NFKD").replace(/\p{Mn}/gu, "");
  const text = plain
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, "-")
    .replace(/^-+|-+$/g, "");
  return text.slice(0, MAX_SLUG).replace(/-+$/, "") || "workflow";
}

export function exportFileName(name: string): string {
  return `${slug(name)}.json`;
}

/** The file's text: the definition as the API returned it, 2-space indented, a final newline. */
export function exportText(definition: Definition): string {
  return `${JSON.stringify(definition, null, 2)}\n`;
}

/** Offer `text` as a download named `fileName`. */
export function download(fileName: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  URL.revokeObjectURL(url);
}

export type Parsed = { ok: true; definition: Definition } | { ok: false; problems: Problem[] };

/** A chosen file's text as a definition, or why it is not one. */
export function parseFile(text: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [{ message: `not valid JSON: ${error instanceof Error ? error.message : String(error)}` }] };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { ok: false, problems: [{ message: "a definition is a JSON object" }] };
  }
  return { ok: true, definition: value as Definition };
}

export interface ImportFile {
  file: string;
  text: string;
}

export type FileOutcome =
  | { file: string; name: string; action: "create"; definition: Definition }
  | { file: string; name: string; action: "unchanged"; workflowId: string }
  | { file: string; action: "refused"; problems: Problem[] };

function nameOf(definition: Definition): string {
  return typeof definition.name === "string" ? definition.name : "";
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) => Object.hasOwn(b, key) && sameJson((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

/**
 * What to do with each valid file, given the user's own workflows: create, leave alone (same
 * name, same definition), or refuse (a name in two files, or already taken by another
 * definition). Key order does not matter: PostgreSQL stores definitions with its own.
 */
export function planImport(files: { file: string; definition: Definition }[], existing: readonly WorkflowPublic[]): FileOutcome[] {
  const filesByName = new Map<string, string[]>();
  for (const { file, definition } of files) {
    filesByName.set(nameOf(definition), [...(filesByName.get(nameOf(definition)) ?? []), file]);
  }
  return files.map(({ file, definition }) => {
    const name = nameOf(definition);
    const others = (filesByName.get(name) ?? []).filter((other) => other !== file);
    if (others.length > 0) {
      return { file, action: "refused", problems: [{ field: "name", message: `'${name}' is also the name in ${others.join(", ")}` }] };
    }
    const named = existing.filter((workflow) => workflow.name === name);
    if (named.length === 0) return { file, name, action: "create", definition };
    if (named.length === 1 && sameJson(named[0]!.definition, definition)) {
      return { file, name, action: "unchanged", workflowId: named[0]!.id };
    }
    const message =
      named.length > 1
        ? `${named.length} of your workflows are named '${name}'; rename this one`
        : `you already have a workflow named '${name}' with another definition; rename this one, or update it from the editor (or with \`flowpilot workflows import\`)`;
    return { file, action: "refused", problems: [{ field: "name", message }] };
  });
}

/** What the import needs from the server. */
export interface ImportApi {
  validate(definition: Definition): Promise<ValidateResponse>;
  /** The user's own workflows, every page. */
  ownWorkflows(): Promise<WorkflowPublic[]>;
  create(definition: Definition): Promise<WorkflowPublic>;
  /** A refusal as the API said it. */
  problemsOf(error: unknown): Problem[];
}

export interface ImportReport {
  /** Every file, in the order chosen, with what was done or why it was refused. */
  outcomes: (FileOutcome | { file: string; name: string; action: "created"; workflowId: string })[];
  /** Whether anything was created (then the list wants refreshing). */
  changed: boolean;
}

/** Read, validate and plan every file; create only when no file has a problem. */
export async function importWorkflows(files: readonly ImportFile[], api: ImportApi): Promise<ImportReport> {
  const parsed = files.map(({ file, text }) => ({ file, parsed: parseFile(text) }));
  const checked = await Promise.all(
    parsed.map(async ({ file, parsed: result }): Promise<FileOutcome | { file: string; definition: Definition }> => {
      if (!result.ok) return { file, action: "refused", problems: result.problems };
      const answer = await api.validate(result.definition);
      return answer.valid ? { file, definition: result.definition } : { file, action: "refused", problems: answer.errors };
    }),
  );
  const valid = checked.filter((item): item is { file: string; definition: Definition } => !("action" in item));
  const planned = new Map(planImport(valid, await api.ownWorkflows()).map((outcome) => [outcome.file, outcome]));
  const outcomes: ImportReport["outcomes"] = checked.map((item) => ("action" in item ? item : planned.get(item.file)!));
  if (outcomes.some((outcome) => outcome.action === "refused")) return { outcomes, changed: false };

  let changed = false;
  for (const [index, outcome] of outcomes.entries()) {
    if (outcome.action !== "create") continue;
    try {
      const created = await api.create(outcome.definition);
      outcomes[index] = { file: outcome.file, name: outcome.name, action: "created", workflowId: created.id };
      changed = true;
    } catch (error) {
      outcomes[index] = { file: outcome.file, action: "refused", problems: api.problemsOf(error) };
      break;
    }
  }
  return { outcomes, changed };
}

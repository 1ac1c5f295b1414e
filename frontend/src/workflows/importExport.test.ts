import { describe, expect, it, vi } from "vitest";

import type { WorkflowPublic } from "../api/types";
import { exportFileName, exportText, importWorkflows, parseFile, planImport, slug, type Definition, type ImportApi } from "./importExport";

function definition(name: string, value = "hi"): Definition {
  return { schema: "flowpilot/v1", name, nodes: [{ id: "greet", type: "transform", params: { value }, position: { x: 1, y: 2 } }] };
}

function workflow(id: string, body: Definition): WorkflowPublic {
  return {
    id,
    name: String(body.name),
    description: "",
    version: 1,
    definition: body,
    trigger: { type: "manual" },
    webhook_url: null,
    paused: false,
    owner_id: "me",
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
  };
}

describe("export", () => {
  it("names files after the workflow, as the CLI does", () => {
    expect(slug("Weekday issue digest")).toBe("weekday-issue-digest");
    expect(slug("  Café: résumé / v2 ")).toBe("cafe-resume-v2");
    expect(slug("日報 digest")).toBe("日報-digest");
    expect(slug("***")).toBe("workflow");
    expect(exportFileName("Daily report")).toBe("daily-report.json");
  });

  it("writes the definition 2-space indented with a final newline, positions kept", () => {
    const text = exportText(definition("Greeting"));
    expect(text.endsWith("}\n")).toBe(true);
    expect(text).toContain('\n  "name": "Greeting",\n');
    expect(JSON.parse(text)).toEqual(definition("Greeting"));
  });
});

describe("parseFile", () => {
  it("accepts a JSON object and says why anything else is not a definition", () => {
    expect(parseFile('{"name": "x"}')).toEqual({ ok: true, definition: { name: "x" } });
    const garbled = parseFile("{not json");
    expect(garbled.ok === false && garbled.problems[0]!.message).toMatch(/^not valid JSON/);
    expect(parseFile("[1]")).toEqual({ ok: false, problems: [{ message: "a definition is a JSON object" }] });
  });
});

describe("planImport", () => {
  it("creates new names, leaves equal ones alone whatever their key order, refuses clashes", () => {
    const existing = [workflow("w1", definition("Greeting")), workflow("w2", definition("Report"))];
    const reordered = Object.fromEntries(Object.entries(definition("Greeting")).reverse());
    const plan = planImport(
      [
        { file: "greeting.json", definition: reordered },
        { file: "report.json", definition: definition("Report", "changed") },
        { file: "new.json", definition: definition("New") },
        { file: "a.json", definition: definition("Twin") },
        { file: "b.json", definition: definition("Twin") },
      ],
      existing,
    );
    expect(plan.map((outcome) => [outcome.file, outcome.action])).toEqual([
      ["greeting.json", "unchanged"],
      ["report.json", "refused"],
      ["new.json", "create"],
      ["a.json", "refused"],
      ["b.json", "refused"],
    ]);
    const refused = plan[1]!;
    expect(refused.action === "refused" && refused.problems[0]!.message).toContain("already have a workflow named 'Report'");
    const twin = plan[3]!;
    expect(twin.action === "refused" && twin.problems[0]!.message).toBe("'Twin' is also the name in b.json");
  });
});

function fakeApi(existing: WorkflowPublic[], invalid: Record<string, string> = {}): ImportApi & { created: Definition[] } {
  const created: Definition[] = [];
  return {
    created,
    validate: vi.fn(async (body: Definition) => {
      const message = invalid[String(body.name)];
      return message ? { valid: false, errors: [{ node: "greet", field: "type", message }] } : { valid: true, errors: [] };
    }),
    ownWorkflows: async () => existing,
    create: async (body) => {
      if (body.name === "Refused") throw new Error("no credential named 'slack'");
      created.push(body);
      return workflow(`new-${created.length}`, body);
    },
    problemsOf: (error) => [{ message: error instanceof Error ? error.message : String(error) }],
  };
}

const file = (name: string, body: Definition | string) => ({ file: name, text: typeof body === "string" ? body : exportText(body) });

describe("importWorkflows", () => {
  it("creates the new workflows once every file is valid", async () => {
    const api = fakeApi([workflow("w1", definition("Greeting"))]);
    const report = await importWorkflows([file("greeting.json", definition("Greeting")), file("new.json", definition("New"))], api);
    expect(report.changed).toBe(true);
    expect(report.outcomes.map((outcome) => outcome.action)).toEqual(["unchanged", "created"]);
    expect(api.created).toEqual([definition("New")]);
  });

  it("creates nothing when any file is invalid, and names each file's problems", async () => {
    const api = fakeApi([], { Broken: "unknown node type 'teleport'" });
    const report = await importWorkflows(
      [file("new.json", definition("New")), file("broken.json", definition("Broken")), file("garbled.json", "{nope")],
      api,
    );
    expect(report.changed).toBe(false);
    expect(api.created).toEqual([]);
    expect(report.outcomes.map((outcome) => [outcome.file, outcome.action])).toEqual([
      ["new.json", "create"],
      ["broken.json", "refused"],
      ["garbled.json", "refused"],
    ]);
    const broken = report.outcomes[1]!;
    expect(broken.action === "refused" && broken.problems).toEqual([{ node: "greet", field: "type", message: "unknown node type 'teleport'" }]);
    expect(api.validate).toHaveBeenCalledTimes(2);
  });

  it("stops at the first creation the server refuses", async () => {
    const api = fakeApi([]);
    const report = await importWorkflows(
      [file("a.json", definition("A")), file("refused.json", definition("Refused")), file("c.json", definition("C"))],
      api,
    );
    expect(report.changed).toBe(true);
    expect(report.outcomes.map((outcome) => outcome.action)).toEqual(["created", "refused", "create"]);
    expect(api.created).toEqual([definition("A")]);
  });
});

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter, Route, Routes, useLocation } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { WorkflowPublic } from "../api/types";
import { WorkflowList } from "./WorkflowList";

const http = vi.hoisted(() => ({ get: vi.fn(), post: vi.fn(), delete: vi.fn() }));
const role = vi.hoisted(() => ({ current: "editor" }));
vi.mock("../api/client", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../api/client")>()),
  http,
}));
vi.mock("../api/queries", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../api/queries")>()),
  useMe: () => ({ data: { id: "me", role: role.current } }),
}));

function workflow(id: string, name: string, trigger: Record<string, unknown>, paused = false): WorkflowPublic {
  return {
    id,
    name,
    description: `${name} description`,
    version: 3,
    definition: {},
    trigger,
    webhook_url: null,
    paused,
    owner_id: "me",
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-02T00:00:00Z",
  };
}

const items = [
  workflow("w1", "Issue digest", { type: "schedule", cron: "0 9 * * 1-5" }),
  workflow("w2", "Order hook", { type: "webhook" }, true),
  workflow("w3", "Manual report", { type: "manual" }),
];

function Where() {
  const location = useLocation();
  return <p data-testid="where">{location.pathname + location.search}</p>;
}

function renderList(path = "/workflows") {
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          <Route path="/workflows" element={<WorkflowList />} />
          <Route path="*" element={<Where />} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

/** A file as the browser's file picker gives it (jsdom's File has no `text()`). */
function chosenFile(name: string, content: string): File {
  return Object.assign(new File([content], name, { type: "application/json" }), { text: async () => content });
}

function readBlob(blob: Blob): Promise<string> {
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.readAsText(blob);
  });
}

afterEach(() => {
  cleanup();
  vi.clearAllMocks();
  role.current = "editor";
});

describe("WorkflowList", () => {
  it("lists workflows with version, trigger, pause state and links", async () => {
    http.get.mockResolvedValue({ data: { items, next_cursor: null } });
    renderList();
    const row = within(await screen.findByTestId("workflow-row-w1"));
    expect(row.getByRole("link", { name: "Issue digest" }).getAttribute("href")).toBe("/workflows/w1");
    expect(row.getByText("v3")).toBeTruthy();
    expect(row.getByText("0 9 * * 1-5")).toBeTruthy();
    expect(row.getByRole("link", { name: "Runs of Issue digest" }).getAttribute("href")).toBe("/runs?workflow_id=w1");
    expect(within(screen.getByTestId("workflow-row-w2")).getByTestId("paused-badge")).toBeTruthy();
    expect(screen.getByRole("link", { name: "New from description" }).getAttribute("href")).toBe("/workflows/new");
    expect(screen.getByRole("link", { name: "Blank workflow" }).getAttribute("href")).toBe("/workflows/draft");
  });

  it("offers pause for scheduled and webhook workflows only, and posts it", async () => {
    http.get.mockResolvedValue({ data: { items, next_cursor: null } });
    http.post.mockResolvedValue({ data: {} });
    renderList();
    fireEvent.click(await screen.findByRole("button", { name: "Pause Issue digest" }));
    fireEvent.click(screen.getByRole("button", { name: "Resume Order hook" }));
    expect(screen.queryByRole("button", { name: /Pause Manual report/ })).toBeNull();
    await waitFor(() => expect(http.post).toHaveBeenCalledWith("/workflows/w1/pause"));
    expect(http.post).toHaveBeenCalledWith("/workflows/w2/resume");
  });

  it("filters by the search box", async () => {
    http.get.mockResolvedValue({ data: { items, next_cursor: null } });
    renderList();
    await screen.findByTestId("workflow-row-w1");
    fireEvent.change(screen.getByLabelText("Search workflows"), { target: { value: "ORDER" } });
    expect(screen.queryByTestId("workflow-row-w1")).toBeNull();
    expect(screen.getByTestId("workflow-row-w2")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Search workflows"), { target: { value: "nothing like it" } });
    expect(screen.getByText("No workflows match “nothing like it”.")).toBeTruthy();
  });

  it("deletes only after confirmation", async () => {
    http.get.mockResolvedValue({ data: { items, next_cursor: null } });
    http.delete.mockResolvedValue({ data: null });
    renderList();
    fireEvent.click(await screen.findByRole("button", { name: "Delete Manual report" }));
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(http.delete).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: "Delete Manual report" }));
    fireEvent.click(screen.getByRole("button", { name: "Yes, delete Manual report" }));
    await waitFor(() => expect(http.delete).toHaveBeenCalledWith("/workflows/w3"));
  });

  it("shows an action's failure as an alert", async () => {
    http.get.mockResolvedValue({ data: { items, next_cursor: null } });
    http.post.mockRejectedValue(new Error("Temporal is unavailable"));
    renderList();
    fireEvent.click(await screen.findByRole("button", { name: "Pause Issue digest" }));
    expect((await screen.findByRole("alert")).textContent).toContain("Temporal is unavailable");
  });

  it("hides changes from viewers", async () => {
    role.current = "viewer";
    http.get.mockResolvedValue({ data: { items, next_cursor: null } });
    renderList();
    await screen.findByTestId("workflow-row-w1");
    expect(screen.queryByRole("button", { name: /Pause|Delete/ })).toBeNull();
    expect(screen.queryByRole("link", { name: "Blank workflow" })).toBeNull();
  });

  it("exports a workflow's definition as <slug>.json", async () => {
    const withDefinition = { ...items[0]!, definition: { schema: "flowpilot/v1", name: "Issue digest", nodes: [] } };
    http.get.mockResolvedValue({ data: { items: [withDefinition], next_cursor: null } });
    const blobs: Blob[] = [];
    URL.createObjectURL = vi.fn((blob: Blob) => {
      blobs.push(blob);
      return "blob:export";
    });
    URL.revokeObjectURL = vi.fn();
    const clicked: string[] = [];
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(this.download);
    });
    renderList();
    fireEvent.click(await screen.findByRole("button", { name: "Export Issue digest" }));
    expect(clicked).toEqual(["issue-digest.json"]);
    expect(await readBlob(blobs[0]!)).toBe(`${JSON.stringify(withDefinition.definition, null, 2)}\n`);
    expect(URL.revokeObjectURL).toHaveBeenCalledWith("blob:export");
    click.mockRestore();
  });

  it("imports files: validates each, shows every problem, creates nothing when one is invalid", async () => {
    http.get.mockResolvedValue({ data: { items, next_cursor: null } });
    http.post.mockImplementation(async (url: string, body: { definition: Record<string, unknown> }) => {
      if (url !== "/workflows/validate") throw new Error(`unexpected ${url}`);
      return body.definition.name === "Broken"
        ? { data: { valid: false, errors: [{ node: "b", field: "type", message: "unknown node type 'teleport'" }] } }
        : { data: { valid: true, errors: [] } };
    });
    renderList();
    await screen.findByTestId("workflow-row-w1");
    const files = [
      chosenFile("new.json", JSON.stringify({ name: "New one", nodes: [] })),
      chosenFile("broken.json", JSON.stringify({ name: "Broken", nodes: [] })),
      chosenFile("garbled.json", "{nope"),
    ];
    fireEvent.change(screen.getByLabelText("Workflow files to import"), { target: { files } });
    const result = await screen.findByRole("region", { name: "Import result" });
    expect(result.textContent).toContain("Nothing was imported: 2 file(s) have problems");
    expect(within(result).getByTestId("import-broken.json").textContent).toContain("node 'b', field 'type': unknown node type 'teleport'");
    expect(within(result).getByTestId("import-garbled.json").textContent).toContain("not valid JSON");
    expect(http.post).not.toHaveBeenCalledWith("/workflows", expect.anything());
  });

  it("imports files: creates the new workflows and refreshes the list", async () => {
    http.get.mockResolvedValue({ data: { items, next_cursor: null } });
    http.post.mockImplementation(async (url: string, body: { definition: Record<string, unknown> }) =>
      url === "/workflows/validate" ? { data: { valid: true, errors: [] } } : { data: workflow("w9", String(body.definition.name), { type: "manual" }) },
    );
    renderList();
    await screen.findByTestId("workflow-row-w1");
    const definition = { name: "New one", nodes: [{ id: "a", type: "transform", params: { value: 1 }, position: { x: 1, y: 2 } }] };
    fireEvent.change(screen.getByLabelText("Workflow files to import"), {
      target: { files: [chosenFile("new-one.json", JSON.stringify(definition))] },
    });
    const result = await screen.findByRole("region", { name: "Import result" });
    expect(result.textContent).toContain("Imported: 1 created");
    expect(within(result).getByRole("link", { name: "New one" }).getAttribute("href")).toBe("/workflows/w9");
    expect(http.post).toHaveBeenCalledWith("/workflows", { definition });
    await waitFor(() => expect(http.get.mock.calls.filter(([url]) => url === "/workflows").length).toBeGreaterThanOrEqual(3));
  });

  it("has empty and error states", async () => {
    http.get.mockResolvedValueOnce({ data: { items: [], next_cursor: null } });
    renderList();
    expect(await screen.findByText("No workflows yet.")).toBeTruthy();
    cleanup();
    http.get.mockRejectedValueOnce(new Error("offline"));
    renderList();
    expect((await screen.findByRole("alert")).textContent).toContain("offline");
  });
});

import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useEffect } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { ValidationIssue } from "../api/types";
import type { Definition } from "../lib/definition";
import type { EditorStore } from "./editorStore";
import { EditorStoreProvider, useEditor, useEditorStoreApi } from "./EditorStoreContext";
import { Inspector } from "./Inspector";

vi.mock("../api/queries", () => ({
  useNodeTypes: () => ({
    isPending: false,
    isError: false,
    data: [
      {
        type: "http.request",
        title: "HTTP request",
        description: "Calls an HTTP endpoint.",
        runs_in: "activity",
        credential_kinds: ["bearer", "basic"],
        credential_required: false,
        output_description: "{status, headers, body}",
        params_schema: {
          properties: {
            method: { default: "GET", enum: ["GET", "POST"], title: "Method", type: "string" },
            url: { description: "Absolute http(s) URL.", title: "Url", type: "string" },
          },
          required: ["url"],
          type: "object",
        },
        sample_output: null,
      },
      {
        type: "transform",
        title: "Transform",
        description: "Renders a value.",
        runs_in: "workflow",
        credential_kinds: [],
        credential_required: false,
        output_description: "the value",
        params_schema: { properties: { value: { title: "Value" } }, required: ["value"], type: "object" },
        sample_output: null,
      },
    ],
  }),
}));

vi.mock("../connectors/api", () => ({
  useCredentials: () => ({
    isPending: false,
    isError: false,
    isSuccess: true,
    data: [
      { id: "c1", name: "gh-token", kind: "bearer", owner_id: "u", created_at: "", last_used_at: null },
      { id: "c2", name: "slack-eng", kind: "slack", owner_id: "u", created_at: "", last_used_at: null },
    ],
    refetch: vi.fn(),
  }),
}));

const DEFINITION: Definition = {
  name: "t",
  inputs: { repo: { type: "string" } },
  nodes: [
    { id: "fetch", type: "http.request", params: { url: "https://x.test" } },
    { id: "shape", type: "transform", needs: ["fetch"], params: { value: 1 } },
    { id: "other", type: "transform", params: { value: 2 } },
  ],
};

let store: EditorStore;

function Panel({ initial, issues }: { initial: string; issues: ValidationIssue[] }) {
  const api = useEditorStoreApi();
  store = api;
  useEffect(() => api.getState().select(initial), [api, initial]);
  const selected = useEditor((state) => state.selectedId);
  return selected ? <Inspector key={selected} nodeId={selected} issues={issues.filter((issue) => issue.node === selected)} /> : null;
}

function renderInspector(nodeId: string, issues: ValidationIssue[] = []) {
  render(
    <EditorStoreProvider definition={DEFINITION}>
      <Panel initial={nodeId} issues={issues} />
    </EditorStoreProvider>,
  );
  return userEvent.setup();
}

function node(id: string) {
  return store.getState().definition().nodes.find((candidate) => candidate.id === id);
}

afterEach(cleanup);

describe("Inspector", () => {
  it("shows the node type and edits params through the store", async () => {
    const user = renderInspector("fetch");
    expect(await screen.findByRole("heading", { name: "HTTP request" })).toBeTruthy();
    expect(screen.getByText("Calls an HTTP endpoint.")).toBeTruthy();
    const url = screen.getByLabelText(/^url/i);
    await user.clear(url);
    await user.type(url, "https://y.test");
    expect(node("fetch")?.params).toEqual({ url: "https://y.test" });
    await user.selectOptions(screen.getByLabelText(/^method/i), "POST");
    expect(node("fetch")?.params).toEqual({ url: "https://y.test", method: "POST" });
  });

  it("sets what a node runs after with the keyboard, refusing a cycle", async () => {
    const user = renderInspector("fetch");
    const picker = await screen.findByTestId("needs-picker");
    const shape = within(picker).getByLabelText("shape") as HTMLInputElement;
    expect(shape.disabled).toBe(true); // shape already runs after fetch
    await user.click(within(picker).getByLabelText("other"));
    expect(node("fetch")?.needs).toEqual(["other"]);
    await user.click(within(picker).getByLabelText("other"));
    expect(node("fetch")?.needs).toBeUndefined();
  });

  it("offers upstream outputs in a downstream node's templates", async () => {
    const user = renderInspector("shape");
    const value = await screen.findByLabelText(/^value/i);
    await user.clear(value);
    await user.type(value, "{{{{");
    const names = within(screen.getByRole("listbox")).getAllByRole("option").map((option) => option.querySelector(".font-mono")?.textContent);
    expect(names).toContain("nodes.fetch.output");
    expect(names).toContain("inputs.repo");
    expect(names).not.toContain("nodes.other.output");
  });

  it("renames on Enter and refuses malformed or taken ids", async () => {
    const user = renderInspector("fetch");
    const id = await screen.findByLabelText(/^node id/i);
    await user.clear(id);
    await user.type(id, "Bad Id{Enter}");
    expect(screen.getByTestId("field-error-id").textContent).toMatch(/lowercase letter first/);
    expect(node("fetch")).toBeTruthy();
    await user.clear(id);
    await user.type(id, "other");
    fireEvent.blur(id);
    expect(screen.getByTestId("field-error-id").textContent).toMatch(/already the id/);
    await user.clear(screen.getByLabelText(/^node id/i));
    await user.type(screen.getByLabelText(/^node id/i), "download{Enter}");
    expect(node("fetch")).toBeUndefined();
    expect(node("shape")?.needs).toEqual(["download"]);
    expect((screen.getByLabelText(/^node id/i) as HTMLInputElement).value).toBe("download");
  });

  it("puts issues under their fields and the rest at the top", async () => {
    renderInspector("fetch", [
      { node: "fetch", field: "params.url", message: "must be absolute" },
      { node: "fetch", field: "needs", message: "unknown node 'ghost'" },
      { node: "fetch", field: "retry.max_attempts", message: "must be ≥ 1" },
      { node: "fetch", field: "timeout", message: "bad duration" },
      { node: "fetch", field: "credential", message: "unknown credential" },
      { node: "fetch", field: "params.headers", message: "not a field of this type" },
    ]);
    expect((await screen.findByTestId("field-error-params.url")).textContent).toBe("must be absolute");
    expect(screen.getByLabelText(/^url/i).getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByTestId("field-error-retry.max_attempts").textContent).toBe("must be ≥ 1");
    expect(screen.getByLabelText(/^timeout/i).getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByTestId("field-error-credential").textContent).toBe("unknown credential");
    expect(screen.getByTestId("field-error-needs").textContent).toBe("unknown node 'ghost'");
    expect(screen.getByTestId("inspector-issues").textContent).toBe("params.headers: not a field of this type");
  });

  it("writes retry, timeout and choices, removing cleared or default ones", async () => {
    const user = renderInspector("fetch");
    const attempts = await screen.findByLabelText(/^max attempts/i);
    await user.type(attempts, "5");
    expect(node("fetch")?.retry).toEqual({ max_attempts: 5 });
    await user.clear(attempts);
    expect(node("fetch")?.retry).toBeUndefined();
    await user.type(screen.getByLabelText(/^timeout/i), "30s");
    expect(node("fetch")?.timeout).toBe("30s");
    await user.selectOptions(screen.getByLabelText(/^on error/i), "continue");
    expect(node("fetch")?.on_error).toBe("continue");
    await user.selectOptions(screen.getByLabelText(/^on error/i), "fail");
    expect(node("fetch")?.on_error).toBeUndefined();
    await user.selectOptions(screen.getByLabelText(/^mode/i), "local");
    expect(node("fetch")?.mode).toBe("local");
    await user.selectOptions(screen.getByLabelText(/^join/i), "any");
    expect(node("fetch")?.join).toBe("any");
  });

  it("picks among credentials of the node type's kinds", async () => {
    const user = renderInspector("fetch");
    const picker = await screen.findByLabelText(/^credential/i);
    expect(within(picker).getAllByRole("option").map((option) => option.textContent)).toEqual(["None", "gh-token (bearer)"]);
    await user.selectOptions(picker, "gh-token");
    expect(node("fetch")?.credential).toBe("gh-token");
    await user.selectOptions(picker, "None");
    expect(node("fetch")?.credential).toBeUndefined();
    expect(screen.getByRole("link", { name: /new credential/i }).getAttribute("href")).toBe("/connectors?new=bearer");
  });

  it("has no credential picker for types that take none, and warns about a plain-text condition", async () => {
    const user = renderInspector("shape");
    await screen.findByRole("heading", { name: "Transform" });
    expect(screen.queryByLabelText(/^credential/i)).toBeNull();
    await user.type(screen.getByLabelText(/^when/i), "nodes.fetch.output.ok");
    expect(node("shape")?.when).toBe("nodes.fetch.output.ok");
    expect(screen.getByTestId("when-plain-text")).toBeTruthy();
  });

  it("deletes the node", async () => {
    const user = renderInspector("other");
    await user.click(await screen.findByRole("button", { name: "Delete node" }));
    expect(node("other")).toBeUndefined();
    expect(store.getState().selectedId).toBeNull();
  });
});

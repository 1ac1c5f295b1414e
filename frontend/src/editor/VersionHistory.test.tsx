import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Definition } from "../lib/definition";
import type { EditorStore } from "./editorStore";
import { EditorStoreProvider, useEditorStoreApi } from "./EditorStoreContext";
import { VersionHistory } from "./VersionHistory";

const get = vi.hoisted(() => vi.fn());
vi.mock("../api/client", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../api/client")>()),
  http: { get },
}));
vi.mock("../api/queries", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../api/queries")>()),
  useMe: () => ({ data: { id: "me" } }),
}));

const v1: Definition = {
  name: "Digest",
  nodes: [{ id: "fetch", type: "http.request", params: { url: "a" }, position: { x: 0, y: 0 } }],
};
const v2: Definition = {
  name: "Digest",
  nodes: [
    { id: "fetch", type: "http.request", params: { url: "b" }, position: { x: 0, y: 0 } },
    { id: "send_email", type: "email.send", needs: ["fetch"], position: { x: 0, y: 120 } },
  ],
};

function renderHistory(): EditorStore {
  const captured: { store?: EditorStore } = {};
  function Capture() {
    captured.store = useEditorStoreApi();
    return null;
  }
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <EditorStoreProvider definition={v2}>
        <Capture />
        <VersionHistory workflowId="w1" currentVersion={2} />
      </EditorStoreProvider>
    </QueryClientProvider>,
  );
  return captured.store as EditorStore;
}

afterEach(() => {
  cleanup();
  get.mockReset();
});

describe("VersionHistory", () => {
  it("lists versions with their author and shows a version's diff against the editor", async () => {
    get.mockResolvedValue({
      data: [
        { version: 2, definition: v2, created_at: "2026-01-02T00:00:00Z", created_by: "me" },
        { version: 1, definition: v1, created_at: "2026-01-01T00:00:00Z", created_by: "0123456789abcdef" },
      ],
    });
    renderHistory();
    expect(get).toHaveBeenCalledWith("/workflows/w1/versions");
    const first = await screen.findByTestId("version-1");
    expect(first.textContent).toContain("by user 01234567");
    expect(screen.getByTestId("version-2").textContent).toContain("by you");
    expect(screen.getByTestId("version-2").textContent).toContain("current");

    fireEvent.click(first);
    const lines = [...screen.getByTestId("version-diff").querySelectorAll("li")].map((li) => li.textContent);
    expect(lines).toEqual(["- node send_email (email.send)", "~ fetch: params.url 'b' → 'a'", "- edge fetch → send_email"]);
  });

  it("restores a version into the editor as one undoable change and says to save it", async () => {
    get.mockResolvedValue({ data: [{ version: 1, definition: v1, created_at: "2026-01-01T00:00:00Z", created_by: null }] });
    const store = renderHistory();
    fireEvent.click(await screen.findByTestId("version-1"));
    fireEvent.click(screen.getByRole("button", { name: "Restore version 1" }));
    expect(store.getState().definition()).toEqual(v1);
    expect(store.getState().past).toHaveLength(1);
    expect(screen.getByRole("status").textContent).toContain("Save to keep it as version 3");
    expect(screen.getByTestId("version-diff").textContent).toContain("Nothing");
  });

  it("has empty and error states", async () => {
    get.mockResolvedValueOnce({ data: [] });
    renderHistory();
    expect(await screen.findByText("No saved versions yet.")).toBeTruthy();
    cleanup();
    get.mockRejectedValueOnce(new Error("offline"));
    renderHistory();
    expect((await screen.findByRole("alert")).textContent).toContain("offline");
  });
});

import { act, cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import type { Definition } from "../lib/definition";
import type { EditorStore } from "./editorStore";
import { EditorStoreProvider, useEditorStoreApi } from "./EditorStoreContext";
import { WorkflowSettings } from "./WorkflowSettings";

const start: Definition = {
  name: "Digest",
  description: "",
  inputs: { repo: { type: "string", default: "acme/api" } },
  trigger: { type: "manual" },
  nodes: [{ id: "fetch", type: "http.request", position: { x: 0, y: 0 } }],
};

function renderSettings(definition: Definition = start, webhookUrl?: string | null): EditorStore {
  const captured: { store?: EditorStore } = {};
  function Capture() {
    captured.store = useEditorStoreApi();
    return null;
  }
  render(
    <EditorStoreProvider definition={definition}>
      <Capture />
      <WorkflowSettings webhookUrl={webhookUrl} />
    </EditorStoreProvider>,
  );
  return captured.store as EditorStore;
}

const meta = (store: EditorStore) => store.getState().definition();
const change = (element: HTMLElement, value: string) => fireEvent.change(element, { target: { value } });

afterEach(cleanup);

describe("WorkflowSettings", () => {
  it("edits the description", () => {
    const store = renderSettings();
    change(screen.getByLabelText("Description"), "Daily digest");
    expect(meta(store).description).toBe("Daily digest");
  });

  it("adds, renames, retypes and removes inputs", () => {
    const store = renderSettings();
    fireEvent.click(screen.getByRole("button", { name: "Add input" }));
    expect(Object.keys(meta(store).inputs ?? {})).toEqual(["repo", "input_2"]);

    const row = within(screen.getByTestId("input-row-input_2"));
    change(row.getByLabelText("Name"), "limit");
    change(row.getByLabelText("Type"), "integer");
    change(row.getByLabelText("Default"), "5");
    expect(meta(store).inputs).toEqual({ repo: { type: "string", default: "acme/api" }, limit: { type: "integer", default: 5 } });

    change(row.getByLabelText("Default"), "five");
    expect(row.getByText("Enter a whole number")).toBeTruthy();
    expect(meta(store).inputs?.limit?.default).toBe(5);

    fireEvent.click(row.getByLabelText("Required"));
    expect(meta(store).inputs?.limit?.required).toBe(true);

    fireEvent.click(screen.getByRole("button", { name: "Remove input repo" }));
    expect(Object.keys(meta(store).inputs ?? {})).toEqual(["limit"]);
  });

  it("refuses an input name that is taken or not an identifier", () => {
    const store = renderSettings({ ...start, inputs: { repo: {}, limit: { type: "integer" } } });
    const name = within(screen.getByTestId("input-row-limit")).getByLabelText("Name");
    change(name, "repo");
    expect(screen.getByText('There is already an input "repo"')).toBeTruthy();
    change(name, "2x");
    expect(screen.getByText(/not starting with a digit/)).toBeTruthy();
    expect(Object.keys(meta(store).inputs ?? {})).toEqual(["repo", "limit"]);
  });

  it("keeps a default that still fits when the type changes", () => {
    const store = renderSettings({ ...start, inputs: { n: { type: "string", default: "5" } } });
    change(screen.getByLabelText("Type"), "number");
    expect(meta(store).inputs?.n).toEqual({ type: "number", default: 5 });
    change(screen.getByLabelText("Type"), "boolean");
    expect(meta(store).inputs?.n).toEqual({ type: "boolean" });
  });

  it("switches the trigger and edits a schedule's cron and time zone", () => {
    const store = renderSettings();
    change(screen.getByLabelText("Trigger type"), "schedule");
    change(screen.getByLabelText("Cron expression"), "*/5 * * * *");
    change(screen.getByLabelText("Time zone"), "Europe/Paris");
    expect(meta(store).trigger).toEqual({ type: "schedule", cron: "*/5 * * * *", timezone: "Europe/Paris" });

    change(screen.getByLabelText("Trigger type"), "manual");
    change(screen.getByLabelText("Trigger type"), "schedule");
    expect(meta(store).trigger).toEqual({ type: "schedule", cron: "*/5 * * * *", timezone: "Europe/Paris" });
  });

  it("edits a webhook trigger's response mode and timeout", () => {
    const store = renderSettings();
    change(screen.getByLabelText("Trigger type"), "webhook");
    expect(screen.getByText("Save the workflow to get its webhook URL.")).toBeTruthy();
    change(screen.getByLabelText("Respond with"), "output");
    change(screen.getByLabelText("Response timeout"), "45s");
    expect(meta(store).trigger).toEqual({ type: "webhook", respond: "output", timeout: "45s" });
  });

  it("shows a saved webhook's URL and a curl example with the inputs", () => {
    renderSettings({ ...start, trigger: { type: "webhook" } }, "http://x/api/hooks/tok");
    expect((screen.getByLabelText("Webhook URL") as HTMLInputElement).value).toBe("http://x/api/hooks/tok");
    expect(screen.getByRole("button", { name: "Copy webhook URL" })).toBeTruthy();
    const curl = screen.getByTestId("webhook-curl").textContent ?? "";
    expect(curl).toContain("curl -X POST 'http://x/api/hooks/tok'");
    expect(curl).toContain(`-d '{"repo":"acme/api"}'`);
  });

  it("edits the defaults and drops empty ones", () => {
    const store = renderSettings();
    change(screen.getByLabelText("Node timeout"), "2m");
    change(screen.getByLabelText("Max parallel nodes"), "4");
    change(screen.getByLabelText("Retry attempts"), "5");
    expect(meta(store).defaults).toEqual({ timeout: "2m", max_parallel: 4, retry: { max_attempts: 5 } });
    change(screen.getByLabelText("Node timeout"), "2 minutes");
    expect(screen.getByText(/Use a number and a unit/)).toBeTruthy();
    change(screen.getByLabelText("Max parallel nodes"), "");
    change(screen.getByLabelText("Retry attempts"), "");
    expect(meta(store).defaults).toEqual({ timeout: "2m" });
  });

  it("follows undo in fields that hold a draft", () => {
    const store = renderSettings();
    change(screen.getByLabelText("Max parallel nodes"), "4");
    act(() => store.getState().undo());
    expect((screen.getByLabelText("Max parallel nodes") as HTMLInputElement).value).toBe("");
  });
});

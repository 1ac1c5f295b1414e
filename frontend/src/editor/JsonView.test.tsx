import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import type { Definition } from "../lib/definition";
import type { EditorStore } from "./editorStore";
import { EditorStoreProvider, useEditorStoreApi } from "./EditorStoreContext";
import { JsonView, parseDefinitionJson } from "./JsonView";

const definition: Definition = {
  schema: "flowpilot/v1",
  name: "Digest",
  description: "",
  inputs: { repo: { type: "string", default: "acme/api" } },
  trigger: { type: "manual" },
  nodes: [
    { id: "fetch", type: "http.request", params: { url: "https://x" }, position: { x: 0, y: 0 } },
    { id: "sum", type: "llm.chat", needs: ["fetch"], params: { prompt: "hi" }, position: { x: 0, y: 120 } },
  ],
};

function renderView(): { store: EditorStore; textarea: HTMLTextAreaElement } {
  const captured: { store?: EditorStore } = {};
  function Capture() {
    captured.store = useEditorStoreApi();
    return null;
  }
  render(
    <EditorStoreProvider definition={definition}>
      <Capture />
      <JsonView />
    </EditorStoreProvider>,
  );
  return { store: captured.store as EditorStore, textarea: screen.getByLabelText("Definition JSON") as HTMLTextAreaElement };
}

const edit = (textarea: HTMLTextAreaElement, value: string) => fireEvent.change(textarea, { target: { value } });
const click = (name: string) => fireEvent.click(screen.getByRole("button", { name }));

afterEach(cleanup);

describe("JsonView", () => {
  it("shows the definition and follows the store until the text is edited", () => {
    const { store, textarea } = renderView();
    expect(JSON.parse(textarea.value)).toEqual(store.getState().definition());
    act(() => store.getState().updateMeta({ name: "Renamed" }));
    expect(JSON.parse(textarea.value).name).toBe("Renamed");

    edit(textarea, textarea.value.replace('"Renamed"', '"Mine"'));
    act(() => store.getState().updateMeta({ name: "Other" }));
    expect(JSON.parse(textarea.value).name).toBe("Mine");
  });

  it("applies edited JSON as one undoable step", () => {
    const { store, textarea } = renderView();
    const edited = JSON.parse(textarea.value) as Definition;
    edited.nodes.push({ id: "post", type: "slack.post_message", needs: ["sum"], position: { x: 0, y: 240 } });
    edit(textarea, JSON.stringify(edited));
    click("Apply JSON");
    expect(store.getState().definition()).toEqual(edited);
    expect(store.getState().edges.map((e) => e.id)).toEqual(["fetch->sum", "sum->post"]);
    act(() => store.getState().undo());
    expect(store.getState().definition().nodes.map((n) => n.id)).toEqual(["fetch", "sum"]);
  });

  it("gives the same definition back when unchanged JSON is applied", () => {
    const { store, textarea } = renderView();
    const before = store.getState().definition();
    edit(textarea, `${textarea.value}\n`);
    click("Apply JSON");
    expect(store.getState().definition()).toEqual(before);
  });

  it("refuses invalid JSON with its line and column and changes nothing", () => {
    const { store, textarea } = renderView();
    const before = store.getState().definition();
    edit(textarea, '{\n  "name": "x",\n  "nodes": [,]\n}');
    click("Apply JSON");
    expect(screen.getByRole("alert").textContent).toMatch(/line 3, column 13/);
    expect(document.activeElement).toBe(textarea);
    expect(textarea.selectionStart).toBe(29);
    expect(store.getState().definition()).toEqual(before);
    expect(store.getState().past).toHaveLength(0);
  });

  it("refuses JSON that is not a definition", () => {
    const { store, textarea } = renderView();
    edit(textarea, "[1, 2]");
    click("Apply JSON");
    expect(screen.getByRole("alert").textContent).toBe("The definition must be a JSON object");
    edit(textarea, '{"name": "x"}');
    click("Apply JSON");
    expect(screen.getByRole("alert").textContent).toBe('The definition needs a "nodes" array');
    expect(store.getState().past).toHaveLength(0);
  });

  it("discards edits on Revert", () => {
    const { store, textarea } = renderView();
    edit(textarea, "not json");
    click("Apply JSON");
    click("Revert");
    expect(screen.queryByRole("alert")).toBeNull();
    expect(JSON.parse(textarea.value)).toEqual(store.getState().definition());
    expect((screen.getByRole("button", { name: "Apply JSON" }) as HTMLButtonElement).disabled).toBe(true);
  });
});

describe("parseDefinitionJson", () => {
  it.each([
    ['{"name": "x" "nodes": []}', "line 1, column 14: Expected ',' or '}'"],
    ['{\n  name: 1}', "line 2, column 3: Expected a property name in double quotes"],
    ['{"name": "x\n"}', "line 1, column 12: Line break or control character inside a string"],
    ['{"nodes": [1, 2', "line 1, column 16: Expected ',' or ']'"],
    ["{} x", "line 1, column 4: Unexpected text after the end of the JSON value"],
    ["", "line 1, column 1: Unexpected end of JSON"],
  ])("locates the syntax error in %j", (text, where) => {
    expect(parseDefinitionJson(text)).toMatchObject({ ok: false, message: `Invalid JSON at ${where}` });
  });

  it("names the node whose shape the canvas cannot load", () => {
    expect(parseDefinitionJson('{"name": "x", "nodes": {}}')).toEqual({ ok: false, message: '"nodes" must be an array of nodes' });
    expect(parseDefinitionJson('{"name": "x", "nodes": [{"id": "a"}]}')).toEqual({
      ok: false,
      message: 'nodes[0] (a): "type" must be a string',
    });
    expect(parseDefinitionJson('{"name": "x", "nodes": [{"id": "a", "type": "t", "needs": "b"}]}')).toMatchObject({ ok: false });
    expect(parseDefinitionJson('{"name": "x", "nodes": []}')).toEqual({ ok: true, definition: { name: "x", nodes: [] } });
  });
});

import { describe, expect, it } from "vitest";

import { emptyDefinition } from "../lib/definition";
import { createEditorStore } from "./editorStore";

describe("editor store", () => {
  it("adds nodes, connects them, refuses a cycle, renames and undoes/redoes", () => {
    const store = createEditorStore(emptyDefinition());
    const a = store.getState().addNode("core.transform");
    const b = store.getState().addNode("core.transform");
    expect([a, b]).toEqual(["transform", "transform_2"]);
    expect(store.getState().connect(a, b)).toEqual({ ok: true });
    expect(store.getState().connect(b, a).ok).toBe(false);
    store.getState().renameNode(a, "first");
    expect(store.getState().definition().nodes.find((n) => n.id === b)?.needs).toEqual(["first"]);
    store.getState().undo();
    expect(store.getState().definition().nodes.find((n) => n.id === b)?.needs).toEqual([a]);
    store.getState().redo();
    expect(store.getState().nodes.map((n) => n.id)).toEqual(["first", b]);
  });

  it("records a whole drag as one undo step back to where it began", () => {
    const store = createEditorStore(emptyDefinition());
    const id = store.getState().addNode("delay", { x: 0, y: 0 });
    const at = (x: number) => store.getState().nodes.map((n) => ({ ...n, position: { x, y: 0 } }));
    store.getState().dragNodes(at(10));
    store.getState().dragNodes(at(20));
    store.getState().endDrag(at(30));
    expect(store.getState().definition().nodes.at(0)?.position).toEqual({ x: 30, y: 0 });
    store.getState().undo();
    expect(store.getState().definition().nodes.at(0)).toMatchObject({ id, position: { x: 0, y: 0 } });
    store.getState().undo();
    expect(store.getState().nodes).toEqual([]);
  });

  it("keeps typing in one field as one undo step, and a cleared field leaves no key", () => {
    const store = createEditorStore(emptyDefinition());
    const id = store.getState().addNode("transform");
    for (const text of ["h", "he", "hel"]) store.getState().updateStep(id, { name: text });
    store.getState().updateStep(id, { when: "{{ true }}" });
    store.getState().undo();
    expect(store.getState().definition().nodes.at(0)?.name).toBe("hel");
    store.getState().undo();
    expect(store.getState().definition().nodes.at(0)?.name).toBeUndefined();
    store.getState().redo();
    store.getState().updateStep(id, { name: undefined });
    expect(Object.keys(store.getState().definition().nodes.at(0) ?? {})).not.toContain("name");
  });

  it("renames a node in the templates that read it", () => {
    const store = createEditorStore({
      name: "w",
      nodes: [
        { id: "fetch", type: "transform", params: { value: 1 } },
        { id: "use", type: "transform", needs: ["fetch"], params: { value: "{{ nodes.fetch.output }}" } },
      ],
      output: "{{ nodes.fetch.output }}",
    });
    store.getState().renameNode("fetch", "load");
    const definition = store.getState().definition();
    expect(definition.nodes.at(1)).toMatchObject({ needs: ["load"], params: { value: "{{ nodes.load.output }}" } });
    expect(definition.output).toBe("{{ nodes.load.output }}");
  });
});

/** One editor store per opened definition, shared with the editor's components through context. */
import { createContext, useContext, useState, type ReactNode } from "react";
import { useStore } from "zustand";
import { useShallow } from "zustand/react/shallow";

import type { Definition } from "../lib/definition";
import { createEditorStore, type EditorState, type EditorStore } from "./editorStore";

const EditorStoreContext = createContext<EditorStore | null>(null);

export function EditorStoreProvider({ definition, children }: { definition: Definition; children: ReactNode }) {
  // The store is created once per mount; callers remount (key) to load another definition.
  const [store] = useState(() => createEditorStore(definition));
  return <EditorStoreContext.Provider value={store}>{children}</EditorStoreContext.Provider>;
}

export function useEditorStoreApi(): EditorStore {
  const store = useContext(EditorStoreContext);
  if (!store) throw new Error("useEditor must be used inside <EditorStoreProvider>");
  return store;
}

export function useEditor<T>(selector: (state: EditorState) => T): T {
  return useStore(useEditorStoreApi(), useShallow(selector));
}

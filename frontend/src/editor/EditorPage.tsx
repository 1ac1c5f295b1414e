/**
 * The visual workflow editor: palette, canvas, a side panel (node inspector, workflow settings,
 * JSON, version history) and a toolbar (undo/redo, layout, save, run) over one editor store.
 */
import "@xyflow/react/dist/style.css";

import { useQueryClient } from "@tanstack/react-query";
import {
  applyEdgeChanges,
  applyNodeChanges,
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type Connection,
  type EdgeChange,
  type NodeChange,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useState, type DragEvent } from "react";
import { useLocation, useNavigate, useParams } from "react-router";

import { http, messageOf, statusOf } from "../api/client";
import { keys, useMe, useWorkflow } from "../api/queries";
import type { ValidationIssue, WorkflowPublic } from "../api/types";
import { Button, ErrorState, Spinner } from "../components/ui";
import type { Definition } from "../lib/definition";
import { emptyDefinition } from "../lib/definition";
import { NODE_HEIGHT, NODE_WIDTH, type StepNode } from "../lib/graph";
import { EditorStoreProvider, useEditor, useEditorStoreApi } from "./EditorStoreContext";
import { Inspector } from "./Inspector";
import { JsonView } from "./JsonView";
import { NODE_TYPE_MIME } from "./palette";
import { Palette } from "./Palette";
import { RunDialog } from "./RunDialog";
import { StepNodeView } from "./StepNodeView";
import { issuesByNode, issuesOfError, useValidation } from "./validation";
import { ValidationContext } from "./ValidationContext";
import { VersionHistory } from "./VersionHistory";
import { WorkflowSettings } from "./WorkflowSettings";

const nodeTypes = { step: StepNodeView };

type PanelTab = "node" | "workflow" | "json" | "history";

export default function EditorPage() {
  const { workflowId } = useParams();
  const location = useLocation();
  const workflow = useWorkflow(workflowId);
  if (!workflowId) {
    const state = location.state as { definition?: Definition } | null;
    return <Editor key="draft" definition={state?.definition ?? emptyDefinition()} workflow={undefined} />;
  }
  if (workflow.isPending) return <Spinner label="Loading workflow…" />;
  if (workflow.isError) return <ErrorState error={workflow.error} retry={() => void workflow.refetch()} />;
  // Keyed by id only: saving a new version keeps the editor (and its undo history) as it is.
  return <Editor key={workflowId} definition={workflow.data.definition as unknown as Definition} workflow={workflow.data} />;
}

function Editor({ definition, workflow }: { definition: Definition; workflow: WorkflowPublic | undefined }) {
  return (
    <EditorStoreProvider definition={definition}>
      <ReactFlowProvider>
        <EditorLayout workflow={workflow} />
      </ReactFlowProvider>
    </EditorStoreProvider>
  );
}

function EditorLayout({ workflow }: { workflow: WorkflowPublic | undefined }) {
  const store = useEditorStoreApi();
  const { meta, nodes, edges, selectedId, dirty, canUndo, canRedo } = useEditor((s) => ({
    meta: s.meta,
    nodes: s.nodes,
    edges: s.edges,
    selectedId: s.selectedId,
    dirty: s.dirty,
    canUndo: s.past.length > 0,
    canRedo: s.future.length > 0,
  }));
  const definition = useMemo(() => store.getState().definition(), [store, meta, nodes, edges]);
  const validation = useValidation(definition);
  const [saveIssues, setSaveIssues] = useState<ValidationIssue[] | null>(null);
  const issues = saveIssues ?? validation.issues;
  const byNode = useMemo(() => issuesByNode(issues), [issues]);

  const me = useMe();
  const readOnly = me.data?.role === "viewer";
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const { screenToFlowPosition } = useReactFlow();
  const [tab, setTab] = useState<PanelTab>("node");
  const [message, setMessage] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [running, setRunning] = useState(false);
  // Fit an opened workflow into view once; a new one starts empty and must not jump at its first node.
  const [fitOnOpen] = useState(() => store.getState().nodes.length > 0);

  useEffect(() => setSaveIssues(null), [definition]);

  const select = useCallback(
    (id: string | null) => {
      store.getState().select(id);
      if (id) setTab("node");
    },
    [store],
  );

  const save = useCallback(async (): Promise<boolean> => {
    setSaving(true);
    setMessage(null);
    try {
      const current = store.getState().definition();
      if (workflow) {
        const saved = (await http.put<WorkflowPublic>(`/workflows/${workflow.id}`, { definition: current })).data;
        store.getState().markSaved();
        queryClient.setQueryData(keys.workflow(workflow.id), saved);
        await queryClient.invalidateQueries({ queryKey: keys.workflows });
      } else {
        const created = (await http.post<WorkflowPublic>("/workflows", { definition: current })).data;
        store.getState().markSaved();
        await queryClient.invalidateQueries({ queryKey: keys.workflows });
        void navigate(`/workflows/${created.id}`, { replace: true });
      }
      return true;
    } catch (error) {
      const found = statusOf(error) === 422 ? issuesOfError(error) : [];
      if (found.length > 0) {
        setSaveIssues(found);
        setMessage(`Not saved: ${found.length} problem${found.length === 1 ? "" : "s"} to fix`);
      } else {
        setMessage(messageOf(error));
      }
      return false;
    } finally {
      setSaving(false);
    }
  }, [navigate, queryClient, store, workflow]);

  const run = async () => {
    if (dirty && !(await save())) return;
    setRunning(true);
  };

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (!(event.ctrlKey || event.metaKey)) return;
      const key = event.key.toLowerCase();
      if (key === "s") {
        event.preventDefault();
        if (!readOnly) void save();
        return;
      }
      if (key !== "z" && key !== "y") return;
      // Text fields keep their own native undo.
      const target = event.target as HTMLElement | null;
      if (target?.closest("input, textarea, select, [contenteditable=true]")) return;
      event.preventDefault();
      if (key === "y" || event.shiftKey) store.getState().redo();
      else store.getState().undo();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [readOnly, save, store]);

  useEffect(() => {
    if (!dirty) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);

  const onNodesChange = (changes: NodeChange<StepNode>[]) => {
    // Removals go through onNodesDelete, so they become one undo step with their edges.
    const kept = changes.filter((change) => change.type !== "remove");
    const next = applyNodeChanges(kept, store.getState().nodes);
    const dragEnded = kept.some((change) => change.type === "position" && change.dragging === false);
    const dragging = kept.some((change) => change.type === "position" && change.dragging);
    if (dragEnded) store.getState().endDrag(next);
    else if (dragging) store.getState().dragNodes(next);
    else store.setState({ nodes: next });
    const selected = kept.find((change) => change.type === "select" && change.selected);
    if (selected?.type === "select") select(selected.id);
  };

  const onEdgesChange = (changes: EdgeChange[]) => {
    const selections = changes.filter((change) => change.type === "select");
    if (selections.length > 0) store.setState({ edges: applyEdgeChanges(selections, store.getState().edges) });
  };

  const onConnect = (connection: Connection) => {
    const result = store.getState().connect(connection.source, connection.target);
    setMessage(result.ok ? null : result.reason);
  };

  const onDragOver = (event: DragEvent) => {
    if (!event.dataTransfer.types.includes(NODE_TYPE_MIME)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  };

  const onDrop = (event: DragEvent) => {
    const type = event.dataTransfer.getData(NODE_TYPE_MIME);
    if (!type) return;
    event.preventDefault();
    const at = screenToFlowPosition({ x: event.clientX, y: event.clientY });
    const id = store.getState().addNode(type, { x: at.x - NODE_WIDTH / 2, y: at.y - NODE_HEIGHT / 2 });
    select(id);
  };

  const addFromPalette = (type: string) => select(store.getState().addNode(type));

  const generalIssues = issues.filter((issue) => !issue.node || !nodes.some((node) => node.id === issue.node));

  return (
    <ValidationContext.Provider value={byNode}>
      <div className="flex h-screen flex-col">
        <div className="flex flex-wrap items-center gap-2 border-b border-slate-200 bg-white p-2" role="toolbar" aria-label="Editor">
          <input
            aria-label="Workflow name"
            className="input max-w-xs font-medium"
            value={meta.name}
            onChange={(e) => store.getState().updateMeta({ name: e.target.value })}
          />
          {workflow && <span className="text-xs text-slate-500">v{workflow.version}</span>}
          {dirty && <span className="text-xs text-amber-700">Unsaved changes</span>}
          <div className="mx-2 h-5 w-px bg-slate-200" />
          <Button onClick={() => store.getState().undo()} disabled={!canUndo} title="Undo (Ctrl+Z)">Undo</Button>
          <Button onClick={() => store.getState().redo()} disabled={!canRedo} title="Redo (Ctrl+Shift+Z)">Redo</Button>
          <Button onClick={() => store.getState().autoLayout()} disabled={nodes.length === 0}>Auto-layout</Button>
          <ValidationStatus checking={validation.checking} failure={validation.failure} count={issues.length} />
          <div className="flex-1" />
          {message && <span role="alert" className="text-sm text-rose-700">{message}</span>}
          <Button onClick={() => void save()} disabled={saving || readOnly} tone="primary" title={readOnly ? "Viewers cannot save" : "Save as a new version (Ctrl+S)"}>
            {saving ? "Saving…" : "Save"}
          </Button>
          <Button
            onClick={() => void run()}
            disabled={!workflow || saving || readOnly}
            title={!workflow ? "Save the workflow first" : readOnly ? "Viewers cannot run workflows" : dirty ? "Save and run" : "Run"}
          >
            Run
          </Button>
        </div>
        <div className="flex min-h-0 flex-1">
          <Palette onAdd={addFromPalette} />
          <div className="flex min-w-0 flex-1 flex-col">
            <div className="relative min-h-0 flex-1" onDragOver={onDragOver} onDrop={onDrop}>
              <ReactFlow
                nodes={nodes}
                edges={edges}
                nodeTypes={nodeTypes}
                onNodesChange={onNodesChange}
                onEdgesChange={onEdgesChange}
                onConnect={onConnect}
                onNodesDelete={(deleted) => store.getState().removeElements(deleted.map((n) => n.id), [])}
                onEdgesDelete={(deleted) => store.getState().removeElements([], deleted.map((e) => e.id))}
                onPaneClick={() => select(null)}
                deleteKeyCode={["Backspace", "Delete"]}
                fitView={fitOnOpen}
                fitViewOptions={{ maxZoom: 1 }}
              >
                <Background />
                <Controls />
                <MiniMap pannable zoomable className="!hidden lg:!block" />
              </ReactFlow>
              {nodes.length === 0 && (
                <p className="pointer-events-none absolute left-1/2 top-1/2 -translate-x-1/2 text-sm text-slate-400">
                  Drag a node from the palette to start.
                </p>
              )}
            </div>
            {generalIssues.length > 0 && (
              <ul aria-label="Workflow problems" className="max-h-32 overflow-y-auto border-t border-rose-200 bg-rose-50 px-3 py-2 text-sm text-rose-800">
                {generalIssues.map((issue, index) => (
                  <li key={index}>
                    {issue.node && <span className="font-mono">{issue.node} · </span>}
                    {issue.field && <span className="font-mono">{issue.field}: </span>}
                    {issue.message}
                  </li>
                ))}
              </ul>
            )}
          </div>
          <SidePanel
            tab={tab}
            onTab={setTab}
            selectedId={selectedId}
            issues={byNode}
            workflow={workflow}
          />
        </div>
      </div>
      {running && workflow && <RunDialog workflowId={workflow.id} inputs={meta.inputs} onClose={() => setRunning(false)} />}
    </ValidationContext.Provider>
  );
}

function ValidationStatus({ checking, failure, count }: { checking: boolean; failure: string | null; count: number }) {
  if (failure) return <span className="text-xs text-slate-500" title={failure}>Could not check</span>;
  if (checking) return <span className="text-xs text-slate-400">Checking…</span>;
  return count === 0 ? (
    <span data-testid="validation-status" data-valid="true" className="text-xs text-emerald-700">✓ Valid</span>
  ) : (
    <span data-testid="validation-status" data-valid="false" className="text-xs font-medium text-rose-700">
      {count} problem{count === 1 ? "" : "s"}
    </span>
  );
}

const TABS: { id: PanelTab; label: string }[] = [
  { id: "node", label: "Node" },
  { id: "workflow", label: "Workflow" },
  { id: "json", label: "JSON" },
  { id: "history", label: "History" },
];

function SidePanel({
  tab,
  onTab,
  selectedId,
  issues,
  workflow,
}: {
  tab: PanelTab;
  onTab: (tab: PanelTab) => void;
  selectedId: string | null;
  issues: Map<string, ValidationIssue[]>;
  workflow: WorkflowPublic | undefined;
}) {
  return (
    <aside className="flex w-[360px] shrink-0 flex-col border-l border-slate-200 bg-white" aria-label="Editor panel">
      <div role="tablist" aria-label="Panel" className="flex border-b border-slate-200">
        {TABS.map((item) => (
          <button
            key={item.id}
            type="button"
            role="tab"
            id={`panel-tab-${item.id}`}
            aria-selected={tab === item.id}
            aria-controls={`panel-${item.id}`}
            className={`flex-1 px-2 py-2 text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 ${tab === item.id ? "border-b-2 border-indigo-600 font-medium text-indigo-700" : "text-slate-600 hover:bg-slate-50"}`}
            onClick={() => onTab(item.id)}
          >
            {item.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`panel-tab-${tab}`} className="min-h-0 flex-1 overflow-y-auto">
        {tab === "node" &&
          (selectedId ? (
            <Inspector key={selectedId} nodeId={selectedId} issues={issues.get(selectedId) ?? []} />
          ) : (
            <p className="p-4 text-sm text-slate-500">Select a node to edit it, or drag one in from the palette.</p>
          ))}
        {tab === "workflow" && <WorkflowSettings webhookUrl={workflow?.webhook_url} />}
        {tab === "json" && <JsonView />}
        {tab === "history" &&
          (workflow ? (
            <VersionHistory workflowId={workflow.id} currentVersion={workflow.version} />
          ) : (
            <p className="p-4 text-sm text-slate-500">Versions appear once the workflow is saved.</p>
          ))}
      </div>
    </aside>
  );
}

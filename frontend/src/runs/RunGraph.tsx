/** The run's pinned definition as a read-only graph, each node coloured by its status. */
import { Handle, Position, ReactFlow, Background, Controls, type NodeProps } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useMemo } from "react";

import type { TaskPublic } from "../api/types";
import type { Definition } from "../lib/definition";
import { definitionToGraph, NODE_HEIGHT, NODE_WIDTH, type StepNode } from "../lib/graph";

export const NODE_STATUS_STYLE: Record<string, string> = {
  pending: "border-slate-300 bg-white",
  running: "border-sky-500 bg-sky-50 animate-pulse",
  waiting: "border-amber-500 bg-amber-50",
  succeeded: "border-emerald-500 bg-emerald-50",
  failed: "border-rose-500 bg-rose-50",
  skipped: "border-slate-300 bg-slate-100 opacity-60",
  cancelled: "border-zinc-400 bg-zinc-100",
};

type RunNodeData = StepNode["data"] & { status: string; attempts: number; onOpen: (id: string) => void; selected: boolean };
type RunNode = Omit<StepNode, "data" | "type"> & { type: "run"; data: RunNodeData };

function RunNodeView({ id, data }: NodeProps<RunNode>) {
  return (
    <div
      role="button"
      tabIndex={0}
      aria-label={`${data.step.name || id}: ${data.status}`}
      data-testid={`run-node-${id}`}
      data-status={data.status}
      onKeyDown={(event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          data.onOpen(id);
        }
      }}
      style={{ width: NODE_WIDTH, height: NODE_HEIGHT }}
      className={`flex flex-col justify-center rounded-lg border-2 px-3 text-left text-sm shadow-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 ${NODE_STATUS_STYLE[data.status] ?? NODE_STATUS_STYLE.pending} ${data.selected ? "ring-2 ring-indigo-500" : ""}`}
    >
      <Handle type="target" position={Position.Top} isConnectable={false} />
      <span className="truncate font-medium">{data.step.name || id}</span>
      <span className="truncate text-xs text-slate-500">
        {data.step.type} · {data.status}
        {data.attempts > 1 ? ` · ${data.attempts} attempts` : ""}
      </span>
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
    </div>
  );
}

const nodeTypes = { run: RunNodeView };

export function RunGraph({
  definition,
  tasks,
  selected,
  onOpen,
}: {
  definition: Definition;
  tasks: readonly TaskPublic[];
  selected: string | null;
  onOpen: (id: string) => void;
}) {
  const base = useMemo(() => definitionToGraph(definition), [definition]);
  const nodes: RunNode[] = useMemo(() => {
    const byId = new Map(tasks.map((task) => [task.node_id, task]));
    return base.nodes.map((node) => {
      const task = byId.get(node.id);
      return {
        ...node,
        type: "run",
        draggable: false,
        connectable: false,
        data: { ...node.data, status: task?.status ?? "pending", attempts: task?.attempts ?? 0, onOpen, selected: selected === node.id },
      };
    });
  }, [base, tasks, onOpen, selected]);
  return (
    <div className="h-[420px] rounded-lg border border-slate-200 bg-slate-50" aria-label="Run graph">
      <ReactFlow
        nodes={nodes}
        edges={base.edges}
        nodeTypes={nodeTypes}
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable={false}
        // A click handler is what keeps read-only nodes clickable (React Flow turns their pointer events off otherwise).
        onNodeClick={(_, node) => onOpen(node.id)}
        fitView
        proOptions={{ hideAttribution: true }}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}

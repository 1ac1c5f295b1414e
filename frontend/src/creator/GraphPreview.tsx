/** A definition's graph, read-only: to check what was generated before opening it in the editor. */
import { Background, Controls, Handle, type NodeProps, Position, ReactFlow } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useMemo } from "react";

import type { Definition } from "../lib/definition";
import { definitionToGraph, NODE_HEIGHT, NODE_WIDTH, type StepNode } from "../lib/graph";

function PreviewStep({ id, data }: NodeProps<StepNode>) {
  const { step } = data;
  return (
    <div
      className="rounded-lg border border-slate-300 bg-white px-3 py-2 text-left shadow-sm"
      style={{ width: NODE_WIDTH, minHeight: NODE_HEIGHT }}
      data-testid="preview-node"
    >
      <Handle type="target" position={Position.Top} isConnectable={false} />
      <p className="truncate text-sm font-medium text-slate-900">{step.name || id}</p>
      <p className="truncate font-mono text-xs text-indigo-700">{step.type}</p>
      {step.credential && <p className="truncate text-xs text-slate-500">credential: {step.credential}</p>}
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
    </div>
  );
}

const NODE_TYPES = { step: PreviewStep };

export function GraphPreview({ definition, height = 360 }: { definition: Definition; height?: number }) {
  const { nodes, edges } = useMemo(() => definitionToGraph(definition), [definition]);
  return (
    <div
      className="overflow-hidden rounded-lg border border-slate-200 bg-slate-50"
      style={{ height }}
      role="img"
      aria-label={`Graph of ${definition.name}: ${nodes.length} steps`}
    >
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={NODE_TYPES}
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable={false}
        fitView
        proOptions={{ hideAttribution: true }}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}

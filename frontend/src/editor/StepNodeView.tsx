/** A node on the editor's canvas: its name, type and id, and a mark when it has problems. */
import { Handle, Position, type NodeProps } from "@xyflow/react";

import type { StepNode } from "../lib/graph";
import { useNodeIssues } from "./ValidationContext";

export function StepNodeView({ id, data, selected }: NodeProps<StepNode>) {
  const issues = useNodeIssues(id);
  const border = issues.length > 0 ? "border-rose-400" : selected ? "border-indigo-500" : "border-slate-300";
  return (
    <div
      data-testid={`node-${id}`}
      data-invalid={issues.length > 0 || undefined}
      className={`w-[220px] rounded-lg border bg-white px-3 py-2 text-sm shadow-sm ${border} ${selected ? "ring-2 ring-indigo-200" : ""}`}
    >
      <Handle type="target" position={Position.Top} />
      <div className="flex items-center gap-1">
        <span className="min-w-0 flex-1 truncate font-medium">{data.step.name || id}</span>
        {issues.length > 0 && (
          <span
            data-testid={`node-issues-${id}`}
            className="rounded-full bg-rose-100 px-1.5 text-xs font-semibold text-rose-700"
            title={issues.map((issue) => `${issue.field}: ${issue.message}`).join("\n")}
            aria-label={`${issues.length} problem${issues.length === 1 ? "" : "s"}`}
          >
            {issues.length}
          </span>
        )}
      </div>
      <div className="truncate text-xs text-slate-500">
        {data.step.type} · <span className="font-mono">{id}</span>
      </div>
      {data.step.when && <div className="truncate font-mono text-[11px] text-amber-700">when {data.step.when}</div>}
      <Handle type="source" position={Position.Bottom} />
    </div>
  );
}

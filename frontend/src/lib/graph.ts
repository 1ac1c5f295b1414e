/**
 * Definition ↔ graph: the editor's canvas (React Flow nodes and edges) is another view of a
 * definition's `nodes`, with `needs` as edges and `position` as coordinates.
 * `graphToDefinition(definition, ...definitionToGraph(definition))` gives the definition back.
 */
import dagre from "@dagrejs/dagre";
import type { Edge, Node } from "@xyflow/react";

import type { Definition, DefinitionNode, Position } from "./definition";

/** What a canvas node carries: its definition node without the parts the graph itself holds. */
export type StepData = { step: Omit<DefinitionNode, "id" | "needs" | "position"> };
export type StepNode = Node<StepData, "step">;

export const NODE_WIDTH = 220;
export const NODE_HEIGHT = 72;

export function edgeId(source: string, target: string): string {
  return `${source}->${target}`;
}

export function definitionToGraph(definition: Definition): { nodes: StepNode[]; edges: Edge[] } {
  const edges: Edge[] = [];
  const nodes: StepNode[] = definition.nodes.map((node) => {
    const { id, needs, position, ...step } = node;
    for (const source of needs ?? []) {
      edges.push({ id: edgeId(source, id), source, target: id });
    }
    return { id, type: "step", position: position ?? { x: 0, y: 0 }, data: { step } };
  });
  const unplaced = definition.nodes.some((node) => !node.position);
  return { nodes: unplaced ? layoutGraph(nodes, edges) : nodes, edges };
}

export function graphToDefinition(
  definition: Definition,
  nodes: readonly StepNode[],
  edges: readonly Edge[],
): Definition {
  const needs = new Map<string, string[]>(nodes.map((node) => [node.id, []]));
  for (const edge of edges) {
    needs.get(edge.target)?.push(edge.source);
  }
  return {
    ...definition,
    nodes: nodes.map((node) => {
      const result: DefinitionNode = { id: node.id, ...node.data.step };
      const upstream = needs.get(node.id) ?? [];
      if (upstream.length > 0) result.needs = upstream;
      result.position = roundPosition(node.position);
      return result;
    }),
  };
}

function roundPosition(position: Position): Position {
  return { x: Math.round(position.x), y: Math.round(position.y) };
}

/** Top-to-bottom layered layout (dagre): each node below everything it needs. */
export function layoutGraph(nodes: readonly StepNode[], edges: readonly Edge[]): StepNode[] {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: "TB", nodesep: 40, ranksep: 60 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) graph.setNode(node.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const edge of edges) graph.setEdge(edge.source, edge.target);
  dagre.layout(graph);
  return nodes.map((node) => {
    const placed = graph.node(node.id);
    return {
      ...node,
      position: roundPosition({ x: placed.x - NODE_WIDTH / 2, y: placed.y - NODE_HEIGHT / 2 }),
    };
  });
}

/** Would an edge source → target close a cycle (is source reachable from target)? */
export function wouldCycle(edges: readonly Edge[], source: string, target: string): boolean {
  if (source === target) return true;
  const next = new Map<string, string[]>();
  for (const edge of edges) next.set(edge.source, [...(next.get(edge.source) ?? []), edge.target]);
  const stack = [target];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const current = stack.pop() as string;
    if (current === source) return true;
    if (seen.has(current)) continue;
    seen.add(current);
    stack.push(...(next.get(current) ?? []));
  }
  return false;
}

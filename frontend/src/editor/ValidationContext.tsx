/** The current validation issues per node, for the canvas nodes to show without prop drilling. */
import { createContext, useContext } from "react";

import type { ValidationIssue } from "../api/types";

export const ValidationContext = createContext<Map<string, ValidationIssue[]>>(new Map());

export function useNodeIssues(nodeId: string): ValidationIssue[] {
  return useContext(ValidationContext).get(nodeId) ?? [];
}

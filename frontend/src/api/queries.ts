/** React Query hooks for what several screens read. Screen-specific calls live with the screen. */
import { useQuery } from "@tanstack/react-query";

import { useAuth } from "../auth/store";
import { http } from "./client";
import type { InstanceInfo, NodeType, Page, RunPublic, RunStatus, UserPublic, WorkflowPublic } from "./types";

export const keys = {
  me: ["me"] as const,
  instance: ["instance"] as const,
  nodeTypes: ["node-types"] as const,
  workflows: ["workflows"] as const,
  workflow: (id: string) => ["workflows", id] as const,
  versions: (id: string) => ["workflows", id, "versions"] as const,
  runs: (filters: RunFilters) => ["runs", filters] as const,
  run: (id: string) => ["run", id] as const,
  credentials: ["credentials"] as const,
};

export function useMe() {
  const token = useAuth((state) => state.token);
  return useQuery({
    queryKey: keys.me,
    queryFn: async () => (await http.get<UserPublic>("/auth/me")).data,
    enabled: token !== null,
    staleTime: 60_000,
  });
}

/** What this server offers (e.g. whether natural-language generation is configured). */
export function useInstance() {
  return useQuery({
    queryKey: keys.instance,
    queryFn: async () => (await http.get<InstanceInfo>("/instance")).data,
    staleTime: 5 * 60_000,
  });
}

export function useNodeTypes() {
  return useQuery({
    queryKey: keys.nodeTypes,
    queryFn: async () => (await http.get<NodeType[]>("/node-types")).data,
    staleTime: Infinity,
  });
}

export function useWorkflows() {
  return useQuery({
    queryKey: keys.workflows,
    queryFn: async () => (await http.get<Page<WorkflowPublic>>("/workflows", { params: { limit: 200 } })).data,
  });
}

export function useWorkflow(id: string | undefined) {
  return useQuery({
    queryKey: keys.workflow(id ?? ""),
    queryFn: async () => (await http.get<WorkflowPublic>(`/workflows/${id}`)).data,
    enabled: Boolean(id),
  });
}

export interface RunFilters {
  workflow_id?: string;
  status?: RunStatus;
  cursor?: string;
  limit?: number;
}

export function useRuns(filters: RunFilters, options: { refetchInterval?: number } = {}) {
  return useQuery({
    queryKey: keys.runs(filters),
    queryFn: async () => (await http.get<Page<RunPublic>>("/runs", { params: filters })).data,
    refetchInterval: options.refetchInterval,
  });
}

export function useRun(id: string | undefined) {
  return useQuery({
    queryKey: keys.run(id ?? ""),
    queryFn: async () => (await http.get<RunPublic>(`/runs/${id}`)).data,
    enabled: Boolean(id),
  });
}

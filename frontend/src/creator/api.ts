/** The creator's calls: templates to start from, and generating a workflow from a description. */
import { useMutation, useQuery } from "@tanstack/react-query";

import { http } from "../api/client";
import type { components } from "../api/schema";
import type { GeneratedWorkflow } from "../api/types";
import type { Definition } from "../lib/definition";

export type Template = components["schemas"]["TemplatePublic"];

export const templateKeys = { all: ["templates"] as const };

export function useTemplates() {
  return useQuery({
    queryKey: templateKeys.all,
    queryFn: async () => (await http.get<Template[]>("/templates")).data,
    staleTime: Infinity,
  });
}

export interface GenerateRequest {
  prompt: string;
  /** Refine mode: the definition the prompt changes. */
  definition?: Definition;
  signal?: AbortSignal;
}

export function useGenerate() {
  return useMutation({
    mutationFn: async ({ prompt, definition, signal }: GenerateRequest) =>
      // Generation may take a few model rounds; the server bounds each one itself.
      (await http.post<GeneratedWorkflow>("/workflows/generate", definition ? { prompt, definition } : { prompt }, { timeout: 0, signal }))
        .data,
  });
}

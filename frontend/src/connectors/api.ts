/** Credentials and their kinds, shared by the Connectors screen and the workflow creator. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { http } from "../api/client";
import { keys } from "../api/queries";
import type { CredentialPublic, CredentialTestResult, Page } from "../api/types";
import type { JsonSchema } from "./credentialForm";

export const kindKeys = { all: ["credential-kinds"] as const };

export function useCredentials() {
  return useQuery({
    queryKey: keys.credentials,
    queryFn: async () => (await http.get<Page<CredentialPublic>>("/credentials", { params: { limit: 200 } })).data.items,
  });
}

export function useCredentialKinds() {
  return useQuery({
    queryKey: kindKeys.all,
    queryFn: async () => (await http.get<Record<string, JsonSchema>>("/credentials/kinds")).data,
    staleTime: Infinity,
  });
}

export interface NewCredential {
  name: string;
  kind: string;
  data: Record<string, unknown>;
}

export function useCreateCredential() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (body: NewCredential) => (await http.post<CredentialPublic>("/credentials", body)).data,
    onSuccess: () => client.invalidateQueries({ queryKey: keys.credentials }),
  });
}

export function useDeleteCredential() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (id: string) => {
      await http.delete(`/credentials/${id}`);
    },
    onSuccess: () => client.invalidateQueries({ queryKey: keys.credentials }),
  });
}

export function useTestCredential() {
  return useMutation({
    mutationFn: async (id: string) => (await http.post<CredentialTestResult>(`/credentials/${id}/test`)).data,
  });
}

/** Live run updates: patch the cached run from the events stream until the run finishes. */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef } from "react";

import { keys } from "../api/queries";
import type { RunPublic, TaskPublic } from "../api/types";
import { useAuth } from "../auth/store";
import { subscribeSse } from "./sse";

export const FINISHED = new Set(["succeeded", "failed", "cancelled"]);

export function useRunEvents(runId: string | undefined, status: string | undefined) {
  const client = useQueryClient();
  const finished = useRef(false);
  const unfinished = status !== undefined && !FINISHED.has(status);
  useEffect(() => {
    if (!runId || !unfinished) return;
    finished.current = false;
    const key = keys.run(runId);
    const stop = subscribeSse({
      url: `/api/runs/${runId}/events`,
      token: useAuth.getState().token,
      shouldReconnect: () => !finished.current,
      onEvent: ({ event, data }) => {
        if (event === "node") {
          const task = JSON.parse(data) as TaskPublic;
          client.setQueryData<RunPublic>(key, (run) => {
            if (!run) return run;
            const nodes = run.nodes ?? [];
            const index = nodes.findIndex((n) => n.node_id === task.node_id);
            const next = index === -1 ? [...nodes, task] : nodes.map((n, i) => (i === index ? task : n));
            return { ...run, nodes: next };
          });
        } else if (event === "run") {
          const summary = JSON.parse(data) as Pick<RunPublic, "status" | "error">;
          if (FINISHED.has(summary.status)) finished.current = true;
          client.setQueryData<RunPublic>(key, (run) => (run ? { ...run, status: summary.status, error: summary.error } : run));
          // The summary lacks output and timings: read the whole run once it changes state.
          void client.invalidateQueries({ queryKey: key });
        }
      },
    });
    return stop;
  }, [client, runId, unfinished]);
}

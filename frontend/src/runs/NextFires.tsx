/** Next scheduled fires of every workflow with a schedule trigger. */
import { useQueries } from "@tanstack/react-query";
import { Link } from "react-router";

import { http } from "../api/client";
import type { ScheduleInfo, WorkflowPublic } from "../api/types";
import { formatTime } from "../components/ui";

export function NextFires({ workflows }: { workflows: readonly WorkflowPublic[] }) {
  const scheduled = workflows.filter((w) => (w.trigger as { type?: unknown }).type === "schedule");
  const infos = useQueries({
    queries: scheduled.map((w) => ({
      queryKey: ["workflows", w.id, "schedule"],
      queryFn: async () => (await http.get<ScheduleInfo>(`/workflows/${w.id}/schedule`)).data,
      staleTime: 30_000,
    })),
  });
  if (scheduled.length === 0) return <p className="text-sm text-slate-500">No workflow has a schedule trigger.</p>;
  return (
    <ul className="space-y-2 text-sm" data-testid="next-fires">
      {scheduled.map((w, i) => {
        const info = infos[i];
        return (
          <li key={w.id} className="flex items-center justify-between gap-2">
            <Link to={`/workflows/${w.id}`} className="truncate text-indigo-700 hover:underline">
              {w.name}
            </Link>
            <span className="text-slate-600">
              {!info || info.isPending
                ? "…"
                : info.isError
                  ? "unavailable"
                  : info.data.paused
                    ? "paused"
                    : formatTime(info.data.next_fire_times[0])}
            </span>
          </li>
        );
      })}
    </ul>
  );
}

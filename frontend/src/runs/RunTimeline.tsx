/** One horizontal bar per node on the run's shared time axis. */
import type { TaskPublic } from "../api/types";
import { computeTimeline } from "./timeline";

const BAR: Record<string, string> = {
  running: "bg-sky-500",
  waiting: "bg-amber-500",
  succeeded: "bg-emerald-500",
  failed: "bg-rose-500",
  cancelled: "bg-zinc-400",
  skipped: "bg-slate-300",
};

function ms(value: number): string {
  return value < 1000 ? `${value} ms` : `${(value / 1000).toFixed(1)} s`;
}

export function RunTimeline({ tasks, onOpen }: { tasks: readonly TaskPublic[]; onOpen: (id: string) => void }) {
  const timeline = computeTimeline(tasks, Date.now());
  return (
    <section data-testid="run-timeline" aria-label="Timeline" className="card p-4">
      <div className="mb-2 flex justify-between text-xs text-slate-500">
        <h2 className="text-sm font-semibold text-slate-800">Timeline</h2>
        {timeline.bars.length > 0 && <span>0 — {ms(timeline.spanMs)}</span>}
      </div>
      {timeline.bars.length === 0 ? (
        <p className="text-sm text-slate-500">No node has started yet.</p>
      ) : (
        <ul className="space-y-1">
          {timeline.bars.map((bar) => (
            <li key={bar.nodeId} className="flex items-center gap-2 text-xs">
              <button
                type="button"
                className="w-32 truncate text-left hover:underline focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
                onClick={() => onOpen(bar.nodeId)}
              >
                {bar.nodeId}
              </button>
              <div className="relative h-4 flex-1 rounded bg-slate-100">
                <div
                  data-testid={`timeline-bar-${bar.nodeId}`}
                  title={`${bar.nodeId}: ${bar.status}, ${ms(bar.durationMs)}`}
                  className={`absolute top-0 h-4 rounded ${BAR[bar.status] ?? "bg-slate-400"}`}
                  style={{ left: `${bar.left * 100}%`, width: `${bar.width * 100}%` }}
                />
              </div>
              <span className="w-16 text-right text-slate-500">{ms(bar.durationMs)}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

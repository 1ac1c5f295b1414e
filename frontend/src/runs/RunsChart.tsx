/** Runs over time as a small SVG stacked bar chart, one bar per bucket, stacked by status. */
import type { Bucket, Granularity } from "./stats";

const ORDER = ["succeeded", "failed", "cancelled", "waiting", "running", "pending"] as const;
const FILL: Record<string, string> = {
  succeeded: "#10b981",
  failed: "#f43f5e",
  cancelled: "#a1a1aa",
  waiting: "#f59e0b",
  running: "#0ea5e9",
  pending: "#cbd5e1",
};

function label(start: number, granularity: Granularity): string {
  const date = new Date(start);
  return granularity === "day"
    ? date.toLocaleDateString(undefined, { month: "short", day: "numeric" })
    : date.toLocaleTimeString(undefined, { hour: "2-digit" });
}

export function RunsChart({ buckets, granularity }: { buckets: readonly Bucket[]; granularity: Granularity }) {
  const width = 600;
  const height = 160;
  const bottom = 20;
  const max = Math.max(1, ...buckets.map((b) => b.total));
  const slot = width / Math.max(buckets.length, 1);
  const barWidth = Math.max(slot * 0.7, 2);
  const summary = buckets.map((b) => `${label(b.start, granularity)}: ${b.total}`).join(", ");
  return (
    <figure data-testid="runs-chart">
      <svg viewBox={`0 0 ${width} ${height}`} className="h-40 w-full" role="img" aria-label={`Runs per ${granularity}: ${summary}`}>
        {buckets.map((bucket, i) => {
          let y = height - bottom;
          const x = i * slot + (slot - barWidth) / 2;
          return (
            <g key={bucket.start}>
              <title>{`${label(bucket.start, granularity)}: ${bucket.total} runs`}</title>
              {ORDER.map((status) => {
                const count = bucket.counts[status] ?? 0;
                if (count === 0) return null;
                const h = (count / max) * (height - bottom - 8);
                y -= h;
                return <rect key={status} x={x} y={y} width={barWidth} height={h} fill={FILL[status]} />;
              })}
              {(buckets.length <= 14 || i % Math.ceil(buckets.length / 12) === 0) && (
                <text x={x + barWidth / 2} y={height - 5} textAnchor="middle" fontSize="10" fill="#64748b">
                  {label(bucket.start, granularity)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption className="mt-1 flex flex-wrap gap-3 text-xs text-slate-600">
        {ORDER.map((status) => (
          <span key={status} className="inline-flex items-center gap-1">
            <span className="inline-block h-2.5 w-2.5 rounded-sm" style={{ background: FILL[status] }} />
            {status}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

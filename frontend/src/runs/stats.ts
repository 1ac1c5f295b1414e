/** Runs over time: bucket runs by day or hour and count them per status. */
export interface DatedRun {
  status: string;
  created_at: string;
}

export interface Bucket {
  /** Bucket start, epoch ms (UTC). */
  start: number;
  counts: Record<string, number>;
  total: number;
}

export type Granularity = "hour" | "day";

const STEP: Record<Granularity, number> = { hour: 3_600_000, day: 86_400_000 };

/** `count` consecutive buckets ending with the one that holds `nowMs`, oldest first. */
export function bucketRuns(runs: readonly DatedRun[], granularity: Granularity, count: number, nowMs: number): Bucket[] {
  const step = STEP[granularity];
  const last = Math.floor(nowMs / step) * step;
  const first = last - (count - 1) * step;
  const buckets: Bucket[] = Array.from({ length: count }, (_, i) => ({ start: first + i * step, counts: {}, total: 0 }));
  for (const run of runs) {
    const at = new Date(run.created_at).getTime();
    if (Number.isNaN(at) || at < first || at >= last + step) continue;
    const bucket = buckets[Math.floor((at - first) / step)];
    if (!bucket) continue;
    bucket.counts[run.status] = (bucket.counts[run.status] ?? 0) + 1;
    bucket.total += 1;
  }
  return buckets;
}

/** Succeeded among finished runs, 0..1, or null when none finished. */
export function successRate(runs: readonly DatedRun[]): number | null {
  const finished = runs.filter((run) => ["succeeded", "failed", "cancelled"].includes(run.status));
  if (finished.length === 0) return null;
  return finished.filter((run) => run.status === "succeeded").length / finished.length;
}

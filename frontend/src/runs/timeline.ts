/** Where each node's bar sits on a run's shared time axis, as fractions of the whole span. */
export interface TimedNode {
  node_id: string;
  status: string;
  started_at?: string | null;
  finished_at?: string | null;
}

export interface TimelineBar {
  nodeId: string;
  status: string;
  /** 0..1 from the axis start. */
  left: number;
  /** 0..1 of the axis span; at least a sliver so instant nodes stay visible. */
  width: number;
  durationMs: number;
}

export interface Timeline {
  startMs: number;
  spanMs: number;
  bars: TimelineBar[];
}

const MIN_WIDTH = 0.005;

/** Unfinished nodes run until `nowMs`; nodes never started get no bar. */
export function computeTimeline(nodes: readonly TimedNode[], nowMs: number): Timeline {
  const timed = nodes
    .filter((node) => node.started_at)
    .map((node) => {
      const start = new Date(node.started_at as string).getTime();
      const end = node.finished_at ? new Date(node.finished_at).getTime() : Math.max(nowMs, start);
      return { node, start, end };
    });
  if (timed.length === 0) return { startMs: 0, spanMs: 0, bars: [] };
  const startMs = Math.min(...timed.map((t) => t.start));
  const endMs = Math.max(...timed.map((t) => t.end));
  const spanMs = Math.max(endMs - startMs, 1);
  return {
    startMs,
    spanMs,
    bars: timed
      .sort((a, b) => a.start - b.start || a.end - b.end)
      .map(({ node, start, end }) => ({
        nodeId: node.node_id,
        status: node.status,
        left: (start - startMs) / spanMs,
        width: Math.max((end - start) / spanMs, MIN_WIDTH),
        durationMs: end - start,
      })),
  };
}

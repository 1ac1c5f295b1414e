/**
 * A fetch-based server-sent-events reader: EventSource cannot send the Authorization header.
 */
export interface SseEvent {
  event: string;
  data: string;
}

/** Incremental parser: feed it chunks, it returns the complete events and keeps the rest. */
export function createSseParser(): (chunk: string) => SseEvent[] {
  let buffer = "";
  return (chunk) => {
    buffer += chunk.replace(/\r\n?/g, "\n");
    const events: SseEvent[] = [];
    let end = buffer.indexOf("\n\n");
    while (end !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line === "" || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
      }
      if (data.length > 0) events.push({ event, data: data.join("\n") });
      end = buffer.indexOf("\n\n");
    }
    return events;
  };
}

export interface SubscribeOptions {
  url: string;
  token: string | null;
  onEvent: (event: SseEvent) => void;
  /** Whether to reconnect after the stream ends or fails (e.g. while the run is unfinished). */
  shouldReconnect: () => boolean;
}

/** Read the stream until it ends; reconnect with backoff while asked to. Returns a stop function. */
export function subscribeSse({ url, token, onEvent, shouldReconnect }: SubscribeOptions): () => void {
  const controller = new AbortController();
  let delay = 500;
  const run = async () => {
    while (!controller.signal.aborted) {
      try {
        const response = await fetch(url, {
          headers: { Accept: "text/event-stream", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
          signal: controller.signal,
        });
        if (!response.ok || !response.body) throw new Error(`events: HTTP ${response.status}`);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        const parse = createSseParser();
        delay = 500;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const event of parse(value)) onEvent(event);
        }
      } catch {
        if (controller.signal.aborted) return;
      }
      if (!shouldReconnect()) return;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  };
  void run();
  return () => controller.abort();
}

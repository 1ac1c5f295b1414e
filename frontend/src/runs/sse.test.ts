import { describe, expect, it } from "vitest";

import { createSseParser } from "./sse";

describe("createSseParser", () => {
  it("parses events split across chunks", () => {
    const parse = createSseParser();
    expect(parse('event: node\ndata: {"a":')).toEqual([]);
    expect(parse('1}\n\nevent: run\r\ndata: {"status":"running"}\r\n\r\n')).toEqual([
      { event: "node", data: '{"a":1}' },
      { event: "run", data: '{"status":"running"}' },
    ]);
  });

  it("joins multi-line data, ignores comments and defaults the event name", () => {
    const parse = createSseParser();
    expect(parse(": keepalive\n\ndata: a\ndata: b\n\n")).toEqual([{ event: "message", data: "a\nb" }]);
  });
});

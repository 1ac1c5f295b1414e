import { describe, expect, it } from "vitest";

import { renameNodeReferences } from "./references";

describe("renameNodeReferences", () => {
  it("rewrites references inside templates, in nested params, and nothing else", () => {
    const params = {
      text: "{{ nodes.fetch.output.body }} and {{nodes.fetch_all.output}} — nodes.fetch stays prose",
      list: ["{% if nodes.fetch.status == 'succeeded' %}ok{% endif %}"],
      nested: { url: "https://x/{{ nodes.fetch.output.id }}" },
      count: 3,
    };
    expect(renameNodeReferences(params, "fetch", "load")).toEqual({
      text: "{{ nodes.load.output.body }} and {{nodes.fetch_all.output}} — nodes.fetch stays prose",
      list: ["{% if nodes.load.status == 'succeeded' %}ok{% endif %}"],
      nested: { url: "https://x/{{ nodes.load.output.id }}" },
      count: 3,
    });
  });
});

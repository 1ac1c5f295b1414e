import { AxiosError, AxiosHeaders, type AxiosResponse } from "axios";
import { describe, expect, it } from "vitest";

import { describeGenerateError } from "./generateError";

function failure(status: number, detail: unknown, headers: Record<string, string> = {}): AxiosError {
  const response = {
    status,
    statusText: "",
    data: { detail },
    headers,
    config: { headers: new AxiosHeaders() },
  } as AxiosResponse;
  return new AxiosError("failed", "ERR", undefined, undefined, response);
}

describe("describeGenerateError", () => {
  it("recognises a server without a language model", () => {
    const problem = describeGenerateError(
      failure(503, "natural-language generation is not configured on this server: set OPENAI_API_KEY, then restart"),
    );
    expect(problem.kind).toBe("not-configured");
    expect(problem.title).toBe("Natural-language generation is not configured on this server");
    expect(problem.message).toBe("Set OPENAI_API_KEY, then restart");
  });

  it("lists the reasons a generation failed", () => {
    const problem = describeGenerateError(failure(422, { message: "the model did not produce a valid workflow", errors: ["a: bad", "b: worse"] }));
    expect(problem).toMatchObject({ kind: "failed", message: "The model did not produce a valid workflow", reasons: ["a: bad", "b: worse"] });
  });

  it("tells a refused request from a rejected prompt", () => {
    expect(describeGenerateError(failure(422, "the language model refused this request: no")).kind).toBe("failed");
    expect(describeGenerateError(failure(422, [{ loc: ["body", "prompt"], msg: "too short", type: "x" }]))).toMatchObject({
      kind: "invalid-request",
      message: "Prompt: too short",
    });
  });

  it("says when to retry after a rate limit or an outage", () => {
    expect(describeGenerateError(failure(429, "rate limit exceeded", { "retry-after": "12" }))).toMatchObject({
      kind: "rate-limited",
      message: "You can try again in 12 s.",
      retryAfterSeconds: 12,
    });
    expect(describeGenerateError(failure(503, "the language model is unavailable right now: overloaded")).kind).toBe("unavailable");
  });

  it("names upstream failures", () => {
    expect(describeGenerateError(failure(504, "the language model did not answer in time: 60 s")).title).toMatch(/in time/);
    expect(describeGenerateError(failure(502, "refused")).kind).toBe("upstream");
    expect(describeGenerateError(new Error("boom"))).toMatchObject({ kind: "other", message: "Boom" });
  });
});

import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { SchemaForm } from "./SchemaForm";
import type { FieldError, JsonSchema } from "./schemaForm";
import type { ScopeName } from "./scope";

const SCHEMA: JsonSchema = {
  properties: {
    method: { default: "GET", enum: ["GET", "POST"], title: "Method", type: "string" },
    url: { description: "Absolute http(s) URL.", title: "Url", type: "string" },
    headers: { additionalProperties: { type: "string" }, title: "Headers", type: "object" },
    json: { default: null, description: "A JSON request body.", title: "Json" },
    timeout_ms: { anyOf: [{ type: "integer" }, { type: "null" }], default: null, title: "Timeout Ms" },
    expected_status: { anyOf: [{ items: { type: "integer" }, type: "array" }, { type: "null" }], default: null, title: "Expected Status" },
    follow_redirects: { default: true, title: "Follow Redirects", type: "boolean" },
  },
  required: ["url"],
  type: "object",
};

const SCOPE: ScopeName[] = [
  { name: "inputs.repo", detail: "input · string" },
  { name: "nodes.fetch.output", detail: "output of http.request" },
];

/** The form over real state, reporting every value it sends up. */
function Harness({ initial = {}, errors, onValue }: { initial?: Record<string, unknown>; errors?: FieldError[]; onValue: (value: Record<string, unknown>) => void }) {
  const [value, setValue] = useState(initial);
  return (
    <SchemaForm
      schema={SCHEMA}
      value={value}
      scope={SCOPE}
      errors={errors}
      onChange={(next) => {
        setValue(next);
        onValue(next);
      }}
    />
  );
}

function renderForm(initial: Record<string, unknown> = {}, errors?: FieldError[]) {
  const onValue = vi.fn<(value: Record<string, unknown>) => void>();
  render(<Harness initial={initial} errors={errors} onValue={onValue} />);
  const last = () => onValue.mock.calls.at(-1)?.[0];
  return { onValue, last, user: userEvent.setup() };
}

afterEach(cleanup);

describe("SchemaForm", () => {
  it("labels every field by its title, marks required ones and describes them", () => {
    renderForm();
    const url = screen.getByLabelText(/^url/i);
    expect(url.closest("div[data-field]")?.querySelector("label")?.textContent).toBe("Url *");
    expect(url.getAttribute("aria-required")).toBe("true");
    const help = document.getElementById(url.getAttribute("aria-describedby") ?? "");
    expect(help?.textContent).toBe("Absolute http(s) URL.");
    expect(screen.getByLabelText(/^method/i).tagName).toBe("SELECT");
    expect(screen.getByLabelText(/^json/i).tagName).toBe("TEXTAREA");
    expect(screen.getByLabelText(/^follow redirects/i)).toHaveProperty("checked", true);
    expect(screen.getByRole("group", { name: /^headers/i })).toBeTruthy();
  });

  it("shows an issue under its field and marks the field invalid", () => {
    renderForm({}, [
      { field: "params.url", message: "Field required" },
      { field: "params.headers.X-Bad", message: "not a string" },
    ]);
    expect(screen.getByLabelText(/^url/i).getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByTestId("field-error-params.url").textContent).toBe("Field required");
    expect(screen.getByTestId("field-error-params.headers").textContent).toBe("X-Bad: not a string");
    expect(screen.getByLabelText(/^url/i).getAttribute("aria-describedby")).toContain(screen.getByTestId("field-error-params.url").id);
    expect(screen.getByLabelText(/^method/i).getAttribute("aria-invalid")).toBeNull();
  });

  it("sends numbers as numbers and removes a cleared optional field", async () => {
    const { last, user } = renderForm({ url: "https://x.test" });
    const timeout = screen.getByLabelText(/^timeout ms/i);
    await user.type(timeout, "1500");
    expect(last()).toEqual({ url: "https://x.test", timeout_ms: 1500 });
    await user.clear(timeout);
    expect(last()).toEqual({ url: "https://x.test" });
  });

  it("keeps a half-typed number as typed", async () => {
    renderForm();
    const timeout = screen.getByLabelText(/^timeout ms/i);
    await userEvent.setup().type(timeout, "1.");
    expect((timeout as HTMLInputElement).value).toBe("1.");
  });

  it("parses JSON editor text and keeps non-JSON text as a plain string", async () => {
    const { last, user } = renderForm();
    const json = screen.getByLabelText(/^json/i);
    await user.click(json);
    await user.paste('{"title": "x", "n": [1, 2]}');
    expect(last()?.json).toEqual({ title: "x", n: [1, 2] });
    expect((json as HTMLTextAreaElement).value).toBe('{"title": "x", "n": [1, 2]}');
    await user.clear(json);
    await user.paste("{{ nodes.fetch.output }}");
    expect(last()?.json).toBe("{{ nodes.fetch.output }}");
  });

  it("selects an option and reads a list one item per line", async () => {
    const { last, user } = renderForm({ url: "u" });
    await user.selectOptions(screen.getByLabelText(/^method/i), "POST");
    expect(last()?.method).toBe("POST");
    const statuses = screen.getByLabelText(/^expected status/i);
    await user.click(statuses);
    await user.paste("200\n204");
    expect(last()?.expected_status).toEqual([200, 204]);
  });

  it("edits a map as name/value rows", async () => {
    const { last, user } = renderForm({ url: "u" });
    await user.click(screen.getByRole("button", { name: "Add an entry to Headers" }));
    await user.type(screen.getByLabelText("Entry 1 name (Headers)"), "Accept");
    await user.type(screen.getByLabelText("Entry 1 value (Headers)"), "text/plain");
    expect(last()?.headers).toEqual({ Accept: "text/plain" });
    await user.click(screen.getByRole("button", { name: "Remove entry 1 of Headers" }));
    expect(last()).toEqual({ url: "u" });
  });

  it("offers the names in scope after {{ and inserts the chosen one", async () => {
    const { last, user } = renderForm();
    const url = screen.getByLabelText(/^url/i);
    await user.type(url, "https://api.test/{{{{");
    const list = screen.getByRole("listbox");
    expect(within(list).getAllByRole("option").map((option) => option.textContent)).toEqual([
      "inputs.repoinput · string",
      "nodes.fetch.outputoutput of http.request",
    ]);
    expect(url.getAttribute("aria-expanded")).toBe("true");
    await user.keyboard("{ArrowDown}");
    expect(url.getAttribute("aria-activedescendant")).toBe(within(list).getAllByRole("option")[1]?.id);
    await user.keyboard("{Enter}");
    expect(last()?.url).toBe("https://api.test/{{ nodes.fetch.output }}");
    expect(url.getAttribute("aria-expanded")).toBe("false");
  });

  it("shows a value that does not fit its control as JSON", () => {
    renderForm({ url: "u", headers: "{{ inputs.headers }}" });
    const headers = screen.getByLabelText(/^headers/i);
    expect(headers.tagName).toBe("TEXTAREA");
    expect((headers as HTMLTextAreaElement).value).toBe("{{ inputs.headers }}");
  });

  it("follows a value changed elsewhere (undo)", () => {
    const { rerender } = render(<SchemaForm schema={SCHEMA} value={{ timeout_ms: 5 }} scope={[]} onChange={() => {}} />);
    rerender(<SchemaForm schema={SCHEMA} value={{ timeout_ms: 7 }} scope={[]} onChange={() => {}} />);
    expect((screen.getByLabelText(/^timeout ms/i) as HTMLInputElement).value).toBe("7");
  });

  it("toggles a boolean", () => {
    const { last } = renderForm();
    fireEvent.click(screen.getByLabelText(/^follow redirects/i));
    expect(last()?.follow_redirects).toBe(false);
  });
});

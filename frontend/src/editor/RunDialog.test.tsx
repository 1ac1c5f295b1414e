import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { AxiosError, AxiosHeaders } from "axios";
import { MemoryRouter, Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { InputSpec } from "../lib/definition";
import { RunDialog } from "./RunDialog";

const post = vi.hoisted(() => vi.fn());
vi.mock("../api/client", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../api/client")>()),
  http: { post },
}));

function unprocessable(detail: unknown): AxiosError {
  const headers = new AxiosHeaders();
  return new AxiosError("422", "ERR_BAD_REQUEST", { headers }, null, {
    status: 422,
    statusText: "Unprocessable",
    data: { detail },
    headers: {},
    config: { headers },
  });
}

const inputs: Record<string, InputSpec> = {
  repo: { type: "string", description: "owner/name" },
  limit: { type: "integer", default: 10 },
  verbose: { type: "boolean", required: false },
  filter: { type: "object", required: false },
};

function renderDialog(onClose = vi.fn()) {
  render(
    <QueryClientProvider client={new QueryClient()}>
      <MemoryRouter initialEntries={["/workflows/w1"]}>
        <Routes>
          <Route path="/workflows/:id" element={<RunDialog workflowId="w1" inputs={inputs} onClose={onClose} />} />
          <Route path="/runs/:runId" element={<p>run page</p>} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return onClose;
}

afterEach(() => {
  cleanup();
  post.mockReset();
});

describe("RunDialog", () => {
  it("builds a labelled form from the inputs with defaults filled in and required marks", () => {
    renderDialog();
    const dialog = screen.getByRole("dialog", { name: "Run workflow" });
    expect(dialog).toBeTruthy();
    expect((screen.getByLabelText(/^repo/) as HTMLInputElement).getAttribute("aria-required")).toBe("true");
    expect((screen.getByLabelText(/^limit/) as HTMLInputElement).value).toBe("10");
    expect(screen.getByLabelText(/^verbose/).tagName).toBe("SELECT");
    expect(screen.getByLabelText(/^filter/).tagName).toBe("TEXTAREA");
    expect(screen.getByText("owner/name")).toBeTruthy();
    expect(document.activeElement).toBe(screen.getByLabelText(/^repo/));
  });

  it("shows each field's problem and does not post", () => {
    renderDialog();
    fireEvent.change(screen.getByLabelText(/^limit/), { target: { value: "many" } });
    fireEvent.click(screen.getByRole("button", { name: "Start run" }));
    expect(screen.getByText("Required")).toBeTruthy();
    expect(screen.getByText("Enter a whole number")).toBeTruthy();
    expect(post).not.toHaveBeenCalled();
  });

  it("posts the coerced inputs and opens the run", async () => {
    post.mockResolvedValue({ data: { id: "r9" } });
    renderDialog();
    fireEvent.change(screen.getByLabelText(/^repo/), { target: { value: "acme/api" } });
    fireEvent.change(screen.getByLabelText(/^verbose/), { target: { value: "true" } });
    fireEvent.change(screen.getByLabelText(/^filter/), { target: { value: '{"state": "open"}' } });
    fireEvent.click(screen.getByRole("button", { name: "Start run" }));
    await screen.findByText("run page");
    expect(post).toHaveBeenCalledWith("/workflows/w1/runs", {
      inputs: { repo: "acme/api", limit: 10, verbose: true, filter: { state: "open" } },
    });
  });

  it("puts the API's input problems next to their fields and the rest in an alert", async () => {
    post.mockRejectedValue(
      unprocessable([
        { node: null, field: "inputs.repo", message: "must be a string, got number" },
        { node: null, field: "inputs.extra", message: "'extra' is not an input of this workflow" },
      ]),
    );
    renderDialog();
    fireEvent.change(screen.getByLabelText(/^repo/), { target: { value: "x" } });
    fireEvent.click(screen.getByRole("button", { name: "Start run" }));
    expect(await screen.findByText("must be a string, got number")).toBeTruthy();
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("'extra' is not an input"));
  });

  it("closes on Escape and on Cancel", () => {
    const onClose = renderDialog();
    fireEvent.keyDown(screen.getByLabelText(/^repo/), { key: "Escape" });
    expect(onClose).toHaveBeenCalledTimes(1);
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(onClose).toHaveBeenCalledTimes(2);
  });

  it("keeps Tab inside the dialog", () => {
    renderDialog();
    const start = screen.getByRole("button", { name: "Start run" });
    start.focus();
    fireEvent.keyDown(start, { key: "Tab" });
    expect(document.activeElement).toBe(screen.getByLabelText(/^repo/));
    fireEvent.keyDown(document.activeElement as Element, { key: "Tab", shiftKey: true });
    expect(document.activeElement).toBe(start);
  });
});

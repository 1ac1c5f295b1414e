import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { CredentialForm } from "./CredentialForm";
import type { JsonSchema } from "./credentialForm";

const post = vi.hoisted(() => vi.fn());
vi.mock("../api/client", () => ({ http: { post }, problemsOf: () => [{ message: "refused" }] }));

const KINDS: Record<string, JsonSchema> = {
  bearer: {
    properties: { token: { format: "password", title: "Token", type: "string", writeOnly: true } },
    required: ["token"],
  },
  basic: {
    properties: {
      username: { title: "Username", type: "string" },
      password: { format: "password", title: "Password", type: "string", writeOnly: true },
    },
    required: ["username", "password"],
  },
};

function renderForm(onSaved = vi.fn()) {
  const client = new QueryClient({ defaultOptions: { mutations: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <CredentialForm kinds={KINDS} initialKind="basic" usedBy={{ basic: ["HTTP request"] }} onSaved={onSaved} onCancel={vi.fn()} />
    </QueryClientProvider>,
  );
  return onSaved;
}

function input(label: string): HTMLInputElement {
  return screen.getByLabelText(label, { exact: false }) as HTMLInputElement;
}

afterEach(() => {
  cleanup();
  post.mockReset();
});

describe("CredentialForm", () => {
  it("shows the chosen kind's fields, secrets as password inputs", () => {
    renderForm();
    expect((screen.getByLabelText("Kind") as HTMLSelectElement).value).toBe("basic");
    expect(input("Username").type).toBe("text");
    expect(input("Password").type).toBe("password");
  });

  it("drops what was typed when the kind changes", () => {
    renderForm();
    fireEvent.change(input("Password"), { target: { value: "hunter22" } });
    fireEvent.change(screen.getByLabelText("Kind"), { target: { value: "bearer" } });
    expect(screen.queryByLabelText("Password", { exact: false })).toBeNull();
    expect(input("Token").value).toBe("");
  });

  it("sends name, kind and data, then forgets the secret", async () => {
    post.mockResolvedValue({ data: { id: "1", name: "gh", kind: "basic", owner_id: "u", created_at: "", last_used_at: null } });
    const onSaved = renderForm();
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: " gh " } });
    fireEvent.change(input("Username"), { target: { value: "ana" } });
    fireEvent.change(input("Password"), { target: { value: "hunter22" } });
    fireEvent.click(screen.getByRole("button", { name: "Save credential" }));

    await waitFor(() => expect(onSaved).toHaveBeenCalled());
    expect(post).toHaveBeenCalledWith("/credentials", { name: "gh", kind: "basic", data: { username: "ana", password: "hunter22" } });
    expect(input("Password").value).toBe("");
    expect((screen.getByLabelText("Name") as HTMLInputElement).value).toBe("");
  });
});

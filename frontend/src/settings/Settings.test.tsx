import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";

import { Settings } from "../pages/Settings";

const role = vi.hoisted(() => ({ current: "editor" }));
vi.mock("../api/queries", () => ({
  keys: { me: ["me"] },
  useMe: () => ({
    isPending: false,
    isError: false,
    data: { id: "u1", email: "ana@example.com", full_name: "Ana", role: role.current, is_active: true, created_at: "2026-01-01T00:00:00Z" },
  }),
}));
vi.mock("../api/client", () => ({ http: { get: vi.fn(() => new Promise(() => {})) }, messageOf: String }));

function renderAt(path: string) {
  render(
    <QueryClientProvider client={new QueryClient()}>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          <Route path="/settings/*" element={<Settings />} />
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

afterEach(cleanup);

describe("Settings", () => {
  it("opens on the profile and hides the admin tabs from others", () => {
    role.current = "editor";
    renderAt("/settings");
    expect(screen.getByText("ana@example.com")).toBeTruthy();
    const tabs = screen.getAllByRole("link").map((link) => link.textContent);
    expect(tabs).toEqual(["Profile", "API keys"]);
  });

  it("shows admins every tab", () => {
    role.current = "admin";
    renderAt("/settings/profile");
    expect(screen.getAllByRole("link").map((link) => link.textContent)).toEqual(["Profile", "API keys", "Users and roles", "Audit log"]);
  });

  it("refuses an admin tab to a non-admin who follows its link", () => {
    role.current = "viewer";
    renderAt("/settings/audit");
    expect(screen.getByText("Only admins can see this page")).toBeTruthy();
  });
});

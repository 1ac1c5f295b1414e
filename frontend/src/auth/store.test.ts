import { afterEach, expect, it, vi } from "vitest";

import { useAuth } from "./store";

afterEach(() => {
  vi.unstubAllGlobals();
});

it("signing out forgets the token and asks the server to clear the codec cookie", () => {
  const fetch = vi.fn(() => Promise.resolve(new Response(null, { status: 204 })));
  vi.stubGlobal("fetch", fetch);
  useAuth.getState().signIn("a-token");

  useAuth.getState().signOut();

  expect(useAuth.getState().token).toBeNull();
  expect(fetch).toHaveBeenCalledWith("/api/auth/logout", { method: "POST" });
});

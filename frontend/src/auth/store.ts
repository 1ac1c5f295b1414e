/** Who is signed in: the bearer token, kept in localStorage so a reload stays signed in. */
import { create } from "zustand";
import { persist } from "zustand/middleware";

interface AuthState {
  token: string | null;
  signIn: (token: string) => void;
  signOut: () => void;
}

/** Signing out also clears the HttpOnly cookie the Temporal Web UI decodes payloads with,
 * which only the server can remove. Plain fetch: the API client imports this store. */
function forgetCodecCookie(): void {
  fetch("/api/auth/logout", { method: "POST" }).catch(() => undefined);
}

export const useAuth = create<AuthState>()(
  persist(
    (set) => ({
      token: null,
      signIn: (token) => set({ token }),
      signOut: () => {
        forgetCodecCookie();
        set({ token: null });
      },
    }),
    { name: "flowpilot.auth" },
  ),
);

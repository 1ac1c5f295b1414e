/** Who is signed in: the bearer token, kept in localStorage so a reload stays signed in. */
import { create } from "zustand";
import { persist } from "zustand/middleware";

interface AuthState {
  token: string | null;
  signIn: (token: string) => void;
  signOut: () => void;
}

export const useAuth = create<AuthState>()(
  persist(
    (set) => ({
      token: null,
      signIn: (token) => set({ token }),
      signOut: () => set({ token: null }),
    }),
    { name: "flowpilot.auth" },
  ),
);

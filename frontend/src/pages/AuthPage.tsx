/** Sign in and register: one form, two modes. */
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Link, Navigate, useLocation, useNavigate } from "react-router";

import { http, messageOf } from "../api/client";
import type { TokenResponse } from "../api/types";
import { useAuth } from "../auth/store";
import { Button } from "../components/ui";

export function AuthPage({ mode }: { mode: "login" | "register" }) {
  const token = useAuth((state) => state.token);
  const signIn = useAuth((state) => state.signIn);
  const navigate = useNavigate();
  const location = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [fullName, setFullName] = useState("");
  const from = (location.state as { from?: string } | null)?.from ?? "/";

  const submit = useMutation({
    mutationFn: async () => {
      if (mode === "register") {
        await http.post("/auth/register", { email, password, full_name: fullName });
      }
      return (await http.post<TokenResponse>("/auth/login", { email, password })).data;
    },
    onSuccess: (answer) => {
      signIn(answer.access_token);
      void navigate(from, { replace: true });
    },
  });

  if (token) return <Navigate to={from} replace />;

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    submit.mutate();
  };
  const registering = mode === "register";

  return (
    <div className="flex min-h-screen items-center justify-center bg-slate-100 p-4">
      <form onSubmit={onSubmit} className="w-full max-w-sm space-y-4 rounded-xl bg-white p-8 shadow">
        <div>
          <p className="text-2xl font-bold text-indigo-700">Flowpilot</p>
          <h1 className="mt-1 text-lg font-semibold">{registering ? "Create your account" : "Sign in"}</h1>
        </div>
        {registering && (
          <label className="block text-sm">
            Name
            <input
              className="input mt-1"
              value={fullName}
              onChange={(event) => setFullName(event.target.value)}
              autoComplete="name"
            />
          </label>
        )}
        <label className="block text-sm">
          Email
          <input
            className="input mt-1"
            type="email"
            required
            value={email}
            onChange={(event) => setEmail(event.target.value)}
            autoComplete="email"
          />
        </label>
        <label className="block text-sm">
          Password
          <input
            className="input mt-1"
            type="password"
            required
            minLength={registering ? 8 : undefined}
            value={password}
            onChange={(event) => setPassword(event.target.value)}
            autoComplete={registering ? "new-password" : "current-password"}
          />
        </label>
        {submit.isError && (
          <p role="alert" className="text-sm text-rose-700">
            {messageOf(submit.error)}
          </p>
        )}
        <Button tone="primary" type="submit" className="w-full justify-center" disabled={submit.isPending}>
          {registering ? "Create account" : "Sign in"}
        </Button>
        <p className="text-center text-sm text-slate-600">
          {registering ? (
            <>
              Have an account? <Link className="text-indigo-700 hover:underline" to="/login">Sign in</Link>
            </>
          ) : (
            <>
              New here? <Link className="text-indigo-700 hover:underline" to="/register">Create an account</Link>
            </>
          )}
        </p>
      </form>
    </div>
  );
}

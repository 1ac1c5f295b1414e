/** The signed-in frame: navigation on the left, the screen on the right. */
import { NavLink, Navigate, Outlet, useLocation } from "react-router";

import { useMe } from "../api/queries";
import { useAuth } from "../auth/store";
import { ErrorState, Spinner } from "./ui";

const LINKS = [
  { to: "/", label: "Dashboard", end: true },
  { to: "/workflows", label: "Workflows" },
  { to: "/runs", label: "Runs" },
  { to: "/connectors", label: "Connectors" },
  { to: "/settings", label: "Settings" },
];

export function Layout() {
  const token = useAuth((state) => state.token);
  const signOut = useAuth((state) => state.signOut);
  const location = useLocation();
  const me = useMe();

  if (!token) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  if (me.isPending) return <Spinner />;
  if (me.isError) return <ErrorState error={me.error} retry={() => void me.refetch()} />;

  return (
    <div className="flex min-h-screen">
      <nav aria-label="Main" className="flex w-52 shrink-0 flex-col border-r border-slate-200 bg-white">
        <div className="px-5 py-4 text-lg font-bold text-indigo-700">Flowpilot</div>
        <ul className="flex-1 space-y-0.5 px-2">
          {LINKS.map((link) => (
            <li key={link.to}>
              <NavLink
                to={link.to}
                end={link.end}
                className={({ isActive }) =>
                  `block rounded-md px-3 py-2 text-sm ${isActive ? "bg-indigo-50 font-medium text-indigo-700" : "text-slate-700 hover:bg-slate-100"}`
                }
              >
                {link.label}
              </NavLink>
            </li>
          ))}
        </ul>
        <div className="border-t border-slate-200 p-3 text-xs text-slate-500">
          <p className="truncate" title={me.data.email}>
            {me.data.email}
          </p>
          <p className="mb-2">{me.data.role}</p>
          <button type="button" className="text-indigo-700 hover:underline" onClick={signOut}>
            Sign out
          </button>
        </div>
      </nav>
      <main className="min-w-0 flex-1">
        <Outlet />
      </main>
    </div>
  );
}

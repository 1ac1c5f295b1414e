/** Settings, one tab per sub-route (/settings/profile …); the admin tabs exist only for admins. */
import type { ReactNode } from "react";
import { Navigate, NavLink, Route, Routes } from "react-router";

import { useMe } from "../api/queries";
import { EmptyState, PageHeader } from "../components/ui";
import { ApiKeysTab } from "../settings/ApiKeysTab";
import { AuditTab } from "../settings/AuditTab";
import { ProfileTab } from "../settings/ProfileTab";
import { UsersTab } from "../settings/UsersTab";

const TABS = [
  { path: "profile", label: "Profile", admin: false },
  { path: "api-keys", label: "API keys", admin: false },
  { path: "users", label: "Users and roles", admin: true },
  { path: "audit", label: "Audit log", admin: true },
];

function AdminOnly({ admin, children }: { admin: boolean; children: ReactNode }) {
  return admin ? children : <EmptyState title="Only admins can see this page" />;
}

export function Settings() {
  const me = useMe();
  const admin = me.data?.role === "admin";
  return (
    <div>
      <PageHeader title="Settings" />
      <nav aria-label="Settings" className="border-b border-slate-200 bg-white px-6">
        <ul className="flex gap-1">
          {TABS.filter((tab) => admin || !tab.admin).map((tab) => (
            <li key={tab.path}>
              <NavLink
                to={`/settings/${tab.path}`}
                className={({ isActive }) =>
                  `-mb-px inline-block border-b-2 px-3 py-2 text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 ${
                    isActive ? "border-indigo-600 font-medium text-indigo-700" : "border-transparent text-slate-600 hover:text-slate-900"
                  }`
                }
              >
                {tab.label}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <div className="p-6">
        <Routes>
          <Route index element={<Navigate to="profile" replace />} />
          <Route path="profile" element={<ProfileTab />} />
          <Route path="api-keys" element={<ApiKeysTab />} />
          <Route path="users" element={<AdminOnly admin={admin}><UsersTab /></AdminOnly>} />
          <Route path="audit" element={<AdminOnly admin={admin}><AuditTab /></AdminOnly>} />
          <Route path="*" element={<Navigate to="/settings/profile" replace />} />
        </Routes>
      </div>
    </div>
  );
}

/** Every account, with its role and whether it may sign in (admins only). */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";

import { http, messageOf } from "../api/client";
import { keys, useMe } from "../api/queries";
import type { Role, UserPublic } from "../api/types";
import { Button, EmptyState, ErrorState, formatTime, Spinner } from "../components/ui";

const ROLES: Role[] = ["admin", "editor", "viewer"];
export const userKeys = { all: ["users"] as const };

interface Change {
  id: string;
  role?: Role;
  is_active?: boolean;
}

export function UsersTab() {
  const client = useQueryClient();
  const me = useMe();
  const users = useQuery({
    queryKey: userKeys.all,
    queryFn: async () => (await http.get<UserPublic[]>("/users")).data,
  });
  const update = useMutation({
    mutationFn: async ({ id, ...change }: Change) => (await http.patch<UserPublic>(`/users/${id}`, change)).data,
    onSuccess: (user) => {
      client.setQueryData<UserPublic[]>(userKeys.all, (current) => current?.map((entry) => (entry.id === user.id ? user : entry)));
      if (user.id === me.data?.id) void client.invalidateQueries({ queryKey: keys.me });
    },
  });

  if (users.isPending) return <Spinner label="Loading users…" />;
  if (users.isError) return <ErrorState error={users.error} retry={() => void users.refetch()} />;
  if (users.data.length === 0) return <EmptyState title="No users" />;

  return (
    <section aria-labelledby="users-title" className="space-y-3">
      <div>
        <h2 id="users-title" className="font-semibold">
          Users and roles
        </h2>
        <p className="text-sm text-slate-600">Admins manage everything; editors build and run workflows; viewers only look.</p>
      </div>
      {update.isError && (
        <p role="alert" className="text-sm text-rose-700">
          Not changed: {messageOf(update.error)}
        </p>
      )}
      <div className="card overflow-x-auto">
        <table className="w-full text-sm" aria-label="Users">
          <thead className="border-b border-slate-200 text-left text-xs uppercase tracking-wide text-slate-500">
            <tr>
              <th scope="col" className="px-3 py-2">User</th>
              <th scope="col" className="px-3 py-2">Role</th>
              <th scope="col" className="px-3 py-2">Status</th>
              <th scope="col" className="px-3 py-2">Joined</th>
              <th scope="col" className="px-3 py-2"><span className="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {users.data.map((user) => {
              const self = user.id === me.data?.id;
              const busy = update.isPending && update.variables.id === user.id;
              return (
                <tr key={user.id} data-testid="user-row" data-email={user.email}>
                  <th scope="row" className="px-3 py-2 text-left font-normal">
                    <p className="font-medium">
                      {user.full_name || user.email}
                      {self && <span className="ml-1 text-xs font-normal text-slate-500">(you)</span>}
                    </p>
                    {user.full_name && <p className="text-xs text-slate-500">{user.email}</p>}
                    <p className="font-mono text-[10px] text-slate-400">{user.id}</p>
                  </th>
                  <td className="px-3 py-2">
                    <label className="sr-only" htmlFor={`role-${user.id}`}>
                      Role of {user.email}
                    </label>
                    <select
                      id={`role-${user.id}`}
                      className="input"
                      value={user.role}
                      disabled={self || busy}
                      title={self ? "You cannot change your own role" : undefined}
                      onChange={(event) => update.mutate({ id: user.id, role: event.target.value as Role })}
                    >
                      {ROLES.map((role) => (
                        <option key={role} value={role}>
                          {role}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td className="px-3 py-2">
                    <span className={user.is_active ? "text-emerald-700" : "text-slate-500"}>{user.is_active ? "Active" : "Deactivated"}</span>
                  </td>
                  <td className="px-3 py-2 text-slate-600">{formatTime(user.created_at)}</td>
                  <td className="space-x-2 whitespace-nowrap px-3 py-2 text-right">
                    <Link
                      to={`/settings/audit?actor_id=${user.id}`}
                      className="text-sm text-indigo-700 hover:underline"
                      aria-label={`Activity of ${user.email}`}
                    >
                      Activity
                    </Link>
                    {!self && (
                      <Button
                        tone={user.is_active ? "ghost" : "secondary"}
                        className={user.is_active ? "text-rose-700" : ""}
                        disabled={busy}
                        onClick={() => update.mutate({ id: user.id, is_active: !user.is_active })}
                        aria-label={`${user.is_active ? "Deactivate" : "Reactivate"} ${user.email}`}
                      >
                        {user.is_active ? "Deactivate" : "Reactivate"}
                      </Button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

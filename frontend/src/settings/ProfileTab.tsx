/** Who you are signed in as. */
import { useMe } from "../api/queries";
import { ErrorState, formatTime, Spinner } from "../components/ui";

const ROLE_MEANING = {
  admin: "Can do everything, including managing users and reading the audit log.",
  editor: "Can create, change and run workflows and store credentials.",
  viewer: "Can look at workflows and runs but not change them.",
} as const;

export function ProfileTab() {
  const me = useMe();
  if (me.isPending) return <Spinner />;
  if (me.isError) return <ErrorState error={me.error} retry={() => void me.refetch()} />;
  const user = me.data;
  return (
    <section aria-labelledby="profile-title" className="card max-w-xl p-4" data-testid="profile">
      <h2 id="profile-title" className="mb-3 font-semibold">
        Profile
      </h2>
      <dl className="grid grid-cols-[8rem_1fr] gap-y-2 text-sm">
        <dt className="text-slate-500">Email</dt>
        <dd data-testid="profile-email">{user.email}</dd>
        <dt className="text-slate-500">Name</dt>
        <dd>{user.full_name || <span className="text-slate-400">Not set</span>}</dd>
        <dt className="text-slate-500">Role</dt>
        <dd>
          <span className="font-medium" data-testid="profile-role">
            {user.role}
          </span>
          <p className="text-xs text-slate-500">{ROLE_MEANING[user.role]}</p>
        </dd>
        <dt className="text-slate-500">Member since</dt>
        <dd>{formatTime(user.created_at)}</dd>
      </dl>
    </section>
  );
}

/** Every screen and its shareable URL. Heavy screens (the editor, a run's graph) load on demand. */
import { lazy, Suspense, type ReactNode } from "react";
import { Navigate, Route, Routes } from "react-router";

import { Layout } from "./components/Layout";
import { Spinner } from "./components/ui";
import { AuthPage } from "./pages/AuthPage";
import { Connectors } from "./pages/Connectors";
import { Dashboard } from "./pages/Dashboard";
import { RunList } from "./pages/RunList";
import { Settings } from "./pages/Settings";
import { WorkflowList } from "./pages/WorkflowList";

const EditorPage = lazy(() => import("./editor/EditorPage"));
const RunView = lazy(() => import("./pages/RunView"));
const WorkflowCreator = lazy(() => import("./pages/WorkflowCreator"));

function Loading({ children }: { children: ReactNode }) {
  return <Suspense fallback={<Spinner />}>{children}</Suspense>;
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<AuthPage mode="login" />} />
      <Route path="/register" element={<AuthPage mode="register" />} />
      <Route element={<Layout />}>
        <Route index element={<Dashboard />} />
        <Route path="workflows" element={<WorkflowList />} />
        <Route path="workflows/new" element={<Loading><WorkflowCreator /></Loading>} />
        <Route path="workflows/draft" element={<Loading><EditorPage /></Loading>} />
        <Route path="workflows/:workflowId" element={<Loading><EditorPage /></Loading>} />
        <Route path="runs" element={<RunList />} />
        <Route path="runs/:runId" element={<Loading><RunView /></Loading>} />
        <Route path="connectors" element={<Connectors />} />
        <Route path="settings/*" element={<Settings />} />
        <Route path="*" element={<Navigate to="/" replace />} />
      </Route>
    </Routes>
  );
}

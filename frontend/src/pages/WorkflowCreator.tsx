/**
 * New workflow: describe it in plain words and get a generated draft to check, or start from a
 * template or a blank canvas. Nothing is saved here: every path ends in the editor's draft.
 */
import { type FormEvent, useEffect, useRef, useState } from "react";
import { Link, useNavigate } from "react-router";

import { useInstance, useMe } from "../api/queries";
import type { GeneratedWorkflow } from "../api/types";
import { Button, PageHeader } from "../components/ui";
import { useCredentials } from "../connectors/api";
import { useGenerate } from "../creator/api";
import { GeneratedResult } from "../creator/GeneratedResult";
import { describeGenerateError, type GenerateProblem } from "../creator/generateError";
import { GenerateProblemNotice } from "../creator/GenerateProblemNotice";
import { TemplateGallery } from "../creator/TemplateGallery";
import type { Definition } from "../lib/definition";

const MAX_PROMPT_CHARS = 4000;
const NOT_CONFIGURED: GenerateProblem = {
  kind: "not-configured",
  title: "Natural-language generation is not configured on this server",
  message:
    "An administrator can set OPENAI_API_KEY (and OPENAI_BASE_URL for any OpenAI-compatible server, OPENAI_MODEL for the model) and restart the API. Meanwhile, start from a template or a blank workflow.",
  reasons: [],
};
const EXAMPLE_PROMPTS = [
  "Every weekday at 9:00, fetch open GitHub issues labelled bug in acme/api and post a summary to Slack",
  "When a webhook receives a support email, classify it with an LLM and add urgent ones to a Notion database",
];

function useElapsedSeconds(running: boolean): number {
  const [seconds, setSeconds] = useState(0);
  useEffect(() => {
    if (!running) return;
    setSeconds(0);
    const started = Date.now();
    const timer = window.setInterval(() => setSeconds(Math.floor((Date.now() - started) / 1000)), 1000);
    return () => window.clearInterval(timer);
  }, [running]);
  return seconds;
}

export default function WorkflowCreator() {
  const navigate = useNavigate();
  const me = useMe();
  const instance = useInstance();
  const credentials = useCredentials();
  const generate = useGenerate();
  const [prompt, setPrompt] = useState("");
  const [change, setChange] = useState("");
  const [result, setResult] = useState<GeneratedWorkflow | null>(null);
  const [generateRefused, setGenerateRefused] = useState<GenerateProblem | null>(null);
  const abort = useRef<AbortController | null>(null);
  const elapsed = useElapsedSeconds(generate.isPending);
  const viewer = me.data?.role === "viewer";

  useEffect(() => () => abort.current?.abort(), []);

  const open = (definition: Definition) => void navigate("/workflows/draft", { state: { definition } });

  const run = (text: string, base?: Definition) => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    generate.mutate(
      { prompt: text, definition: base, signal: controller.signal },
      {
        onSuccess: (answer) => {
          setResult(answer);
          setChange("");
        },
        onError: (error) => {
          const described = describeGenerateError(error);
          if (described.kind === "not-configured") setGenerateRefused(described);
        },
      },
    );
  };

  const onGenerate = (event: FormEvent) => {
    event.preventDefault();
    setResult(null);
    run(prompt.trim());
  };

  const onRefine = (event: FormEvent) => {
    event.preventDefault();
    if (result) run(change.trim(), result.definition as unknown as Definition);
  };

  const cancel = () => {
    abort.current?.abort();
    generate.reset();
  };

  const aborted = generate.error instanceof Error && generate.error.name === "CanceledError";
  const problem = generate.isError && !aborted ? describeGenerateError(generate.error) : null;
  const tooShort = prompt.trim().length < 3;
  // Known up front from the server's settings; a refused attempt (settings changed since) says the same.
  const notConfigured = instance.data?.nl_generation === false ? NOT_CONFIGURED : generateRefused;

  return (
    <div>
      <PageHeader title="New workflow">
        <Link
          to="/workflows/draft"
          className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-800 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
        >
          Blank workflow
        </Link>
      </PageHeader>
      <div className="mx-auto max-w-6xl space-y-8 p-6">
        {notConfigured ? (
          <GenerateProblemNotice problem={notConfigured} />
        ) : (
          <section className="space-y-3">
            <h2 className="text-base font-semibold">
              {/* The heading is the textarea's label, so the two cannot drift apart. */}
              <label htmlFor="workflow-prompt">Describe your workflow</label>
            </h2>
            {viewer && (
              <p className="text-sm text-slate-600">Viewers can browse templates but cannot create workflows.</p>
            )}
            <form onSubmit={onGenerate} className="space-y-2">
              <textarea
                id="workflow-prompt"
                className="input min-h-28 w-full"
                placeholder={`For example: ${EXAMPLE_PROMPTS[0]}`}
                maxLength={MAX_PROMPT_CHARS}
                value={prompt}
                disabled={generate.isPending || viewer}
                onChange={(event) => setPrompt(event.target.value)}
                onKeyDown={(event) => {
                  if (event.key === "Enter" && (event.metaKey || event.ctrlKey) && !tooShort) onGenerate(event);
                }}
              />
              <div className="flex flex-wrap items-center gap-3">
                <Button tone="primary" type="submit" disabled={tooShort || generate.isPending || viewer}>
                  Generate
                </Button>
                <span className="text-xs text-slate-500">
                  {prompt.length}/{MAX_PROMPT_CHARS} · Ctrl+Enter to generate · nothing is saved until you save it in the
                  editor
                </span>
              </div>
            </form>
            {generate.isPending && (
              <div role="status" className="flex items-center gap-3 rounded-lg border border-indigo-100 bg-indigo-50 p-4 text-sm text-indigo-900" data-testid="generating">
                <span className="h-4 w-4 animate-spin rounded-full border-2 border-indigo-200 border-t-indigo-600" />
                <span>
                  Generating your workflow… {elapsed} s. The model checks and repairs its answer, which can take a minute.
                </span>
                <Button tone="ghost" onClick={cancel}>
                  Cancel
                </Button>
              </div>
            )}
            {problem && (
              <GenerateProblemNotice problem={problem}>
                {problem.kind !== "invalid-request" && (
                  <Button onClick={() => run(prompt.trim())} disabled={tooShort}>
                    Try again
                  </Button>
                )}
              </GenerateProblemNotice>
            )}
            {result && !generate.isPending && (
              <div className="card space-y-4 p-4">
                <GeneratedResult result={result} credentials={credentials.data ?? []} />
                <div className="flex flex-wrap gap-2 border-t border-slate-100 pt-4">
                  <Button tone="primary" onClick={() => open(result.definition as unknown as Definition)}>
                    Open in editor
                  </Button>
                  <Button onClick={() => run(prompt.trim())} disabled={tooShort}>
                    Try again
                  </Button>
                </div>
                <form onSubmit={onRefine} className="flex flex-wrap items-end gap-2">
                  <label className="min-w-64 flex-1 text-sm">
                    Ask for a change
                    <input
                      className="input mt-1 w-full"
                      placeholder="For example: also email me when it fails"
                      maxLength={MAX_PROMPT_CHARS}
                      value={change}
                      onChange={(event) => setChange(event.target.value)}
                    />
                  </label>
                  <Button type="submit" disabled={change.trim().length < 3}>
                    Refine
                  </Button>
                </form>
              </div>
            )}
          </section>
        )}
        <section aria-labelledby="templates-title" className="space-y-3">
          <h2 id="templates-title" className="text-base font-semibold">
            {notConfigured ? "Start from a template" : "Or start from a template"}
          </h2>
          <TemplateGallery onUse={open} />
        </section>
      </div>
    </div>
  );
}

/**
 * A text input or textarea for values that may hold templates. Typing `{{` (or Ctrl+Space) opens
 * a listbox of the names in scope; arrows move, Enter inserts `{{ name }}`, Escape closes. The
 * "{ }" button next to it opens the same names as a menu.
 */
import {
  type ChangeEvent,
  type KeyboardEvent,
  useId,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
} from "react";

import { filterNames, insertName, openTemplateAt, type ScopeName } from "./scope";

export interface TemplateInputProps {
  id: string;
  value: string;
  onChange: (value: string) => void;
  /** The names the user may insert. */
  names: readonly ScopeName[];
  /** The field's name, for the insert button's and the list's accessible names. */
  label: string;
  multiline?: boolean;
  rows?: number;
  monospace?: boolean;
  placeholder?: string;
  required?: boolean;
  invalid?: boolean;
  describedBy?: string;
  /** Only when no <label> points at `id`. */
  ariaLabel?: string;
  onBlur?: () => void;
}

type Field = HTMLInputElement | HTMLTextAreaElement;

interface Suggesting {
  /** "typed": filtering by what follows `{{`; "anywhere": Ctrl+Space outside a template. */
  mode: "typed" | "anywhere";
  query: string;
  active: number;
}

export function TemplateInput({
  id,
  value,
  onChange,
  names,
  label,
  multiline = false,
  rows,
  monospace = false,
  placeholder,
  required,
  invalid,
  describedBy,
  ariaLabel,
  onBlur,
}: TemplateInputProps) {
  const listId = useId();
  const fieldRef = useRef<Field>(null);
  const lastSelection = useRef<{ start: number; end: number } | null>(null);
  const pendingCaret = useRef<number | null>(null);
  const [suggesting, setSuggesting] = useState<Suggesting | null>(null);
  const matches = useMemo(() => (suggesting ? filterNames(names, suggesting.query) : []), [names, suggesting]);
  const open = suggesting !== null && matches.length > 0;
  const active = open ? Math.min(suggesting.active, matches.length - 1) : -1;

  useLayoutEffect(() => {
    const caret = pendingCaret.current;
    if (caret === null || !fieldRef.current) return;
    pendingCaret.current = null;
    fieldRef.current.setSelectionRange(caret, caret);
  });

  const selectionOf = (field: Field) => ({
    start: field.selectionStart ?? field.value.length,
    end: field.selectionEnd ?? field.value.length,
  });

  const insert = (name: string, selection: { start: number; end: number }) => {
    const next = insertName(value, selection, name);
    pendingCaret.current = next.caret;
    lastSelection.current = { start: next.caret, end: next.caret };
    setSuggesting(null);
    onChange(next.text);
    fieldRef.current?.focus();
  };

  const onFieldChange = (event: ChangeEvent<Field>) => {
    const field = event.target;
    onChange(field.value);
    const typed = openTemplateAt(field.value, field.selectionStart ?? field.value.length);
    setSuggesting(typed ? { mode: "typed", query: typed.query, active: 0 } : null);
  };

  const onKeyDown = (event: KeyboardEvent<Field>) => {
    if (event.key === " " && event.ctrlKey) {
      event.preventDefault();
      const field = event.currentTarget;
      const selection = selectionOf(field);
      const typed = selection.start === selection.end ? openTemplateAt(field.value, selection.start) : null;
      setSuggesting({ mode: typed ? "typed" : "anywhere", query: typed?.query ?? "", active: 0 });
      return;
    }
    if (!open) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      setSuggesting({ ...suggesting, active: (active + step + matches.length) % matches.length });
    } else if (event.key === "Enter" || event.key === "Tab") {
      const chosen = matches[active];
      if (!chosen) return;
      event.preventDefault();
      insert(chosen.name, selectionOf(event.currentTarget));
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      setSuggesting(null);
    }
  };

  const remember = (event: { currentTarget: Field }) => {
    lastSelection.current = selectionOf(event.currentTarget);
  };

  const optionId = (index: number) => `${listId}-option-${index}`;
  const common = {
    id,
    ref: (element: Field | null) => {
      fieldRef.current = element;
    },
    value,
    placeholder,
    "aria-required": required || undefined,
    role: "combobox",
    "aria-autocomplete": "list" as const,
    "aria-expanded": open,
    "aria-controls": listId,
    "aria-activedescendant": open ? optionId(active) : undefined,
    "aria-invalid": invalid ? true : undefined,
    "aria-describedby": describedBy,
    "aria-label": ariaLabel,
    autoComplete: "off",
    spellCheck: false,
    className: `input ${monospace ? "font-mono text-xs" : ""}`,
    onChange: onFieldChange,
    onKeyDown,
    onSelect: remember,
    onBlur: (event: { currentTarget: Field }) => {
      remember(event);
      setSuggesting(null);
      onBlur?.();
    },
  };

  return (
    <div className="relative flex items-start gap-1">
      <div className="min-w-0 flex-1">
        {multiline ? (
          <textarea {...common} rows={rows ?? Math.min(10, Math.max(2, value.split("\n").length))} />
        ) : (
          <input {...common} type="text" />
        )}
      </div>
      <InsertMenu
        label={label}
        names={names}
        onChoose={(name) => insert(name, lastSelection.current ?? { start: value.length, end: value.length })}
      />
      <ul
        id={listId}
        role="listbox"
        aria-label={`Names in scope for ${label}`}
        hidden={!open}
        className="absolute left-0 right-8 top-full z-30 mt-1 max-h-56 overflow-y-auto rounded-md border border-slate-200 bg-white py-1 text-xs shadow-lg"
      >
        {open &&
          matches.map((entry, index) => (
            <li
              key={entry.name}
              id={optionId(index)}
              role="option"
              aria-selected={index === active}
              className={`cursor-pointer px-2 py-1 ${index === active ? "bg-indigo-50 text-indigo-900" : "text-slate-700"}`}
              onMouseDown={(event) => {
                event.preventDefault();
                insert(entry.name, fieldRef.current ? selectionOf(fieldRef.current) : { start: value.length, end: value.length });
              }}
            >
              <span className="font-mono">{entry.name}</span>
              <span className="block truncate text-[11px] text-slate-500">{entry.detail}</span>
            </li>
          ))}
      </ul>
    </div>
  );
}

/** The "{ }" button: a menu of every name in scope, inserted where the caret last was. */
function InsertMenu({ label, names, onChoose }: { label: string; names: readonly ScopeName[]; onChoose: (name: string) => void }) {
  const menuId = useId();
  const [open, setOpen] = useState(false);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const itemRefs = useRef<(HTMLButtonElement | null)[]>([]);

  useLayoutEffect(() => {
    if (open) itemRefs.current[0]?.focus();
  }, [open]);

  const close = () => {
    setOpen(false);
    buttonRef.current?.focus();
  };

  const onMenuKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const items = itemRefs.current.filter((item): item is HTMLButtonElement => item !== null);
    const current = items.indexOf(document.activeElement as HTMLButtonElement);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      items[(current + step + items.length) % items.length]?.focus();
    } else if (event.key === "Home" || event.key === "End") {
      event.preventDefault();
      items[event.key === "Home" ? 0 : items.length - 1]?.focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close();
    } else if (event.key === "Tab") {
      setOpen(false);
    }
  };

  return (
    <>
      <button
        ref={buttonRef}
        type="button"
        aria-label={`Insert a name into ${label}`}
        title="Insert a name (Ctrl+Space)"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? menuId : undefined}
        disabled={names.length === 0}
        className="mt-0.5 shrink-0 rounded border border-slate-300 bg-white px-1.5 py-1 font-mono text-xs text-slate-600 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 disabled:text-slate-300"
        onClick={() => setOpen((was) => !was)}
      >
        {"{ }"}
      </button>
      {open && (
        <div
          id={menuId}
          role="menu"
          aria-label={`Names to insert into ${label}`}
          className="absolute right-0 top-full z-30 mt-1 max-h-64 w-full overflow-y-auto rounded-md border border-slate-200 bg-white py-1 text-xs shadow-lg"
          onKeyDown={onMenuKeyDown}
          onBlur={(event) => {
            if (!event.currentTarget.contains(event.relatedTarget as Node | null) && event.relatedTarget !== buttonRef.current) {
              setOpen(false);
            }
          }}
        >
          {names.map((entry, index) => (
            <button
              key={entry.name}
              ref={(element) => {
                itemRefs.current[index] = element;
              }}
              type="button"
              role="menuitem"
              tabIndex={-1}
              className="block w-full px-2 py-1 text-left hover:bg-indigo-50 focus:bg-indigo-50 focus:outline-none"
              onClick={() => {
                setOpen(false);
                onChoose(entry.name);
              }}
            >
              <span className="font-mono">{entry.name}</span>
              <span className="block truncate text-[11px] text-slate-500">{entry.detail}</span>
            </button>
          ))}
        </div>
      )}
    </>
  );
}

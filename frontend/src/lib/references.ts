/** Node references inside templates (`{{ nodes.fetch.output }}`), rewritten when a node is renamed. */

const TEMPLATE_SEGMENT = /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** `value` with every template's `nodes.<from>` turned into `nodes.<to>`; text outside templates is left as it is. */
export function renameNodeReferences<T>(value: T, from: string, to: string): T {
  const reference = new RegExp(`(\\bnodes\\.)${escapeRegExp(from)}(?![A-Za-z0-9_])`, "g");
  const rewrite = (item: unknown): unknown => {
    if (typeof item === "string") {
      return item.replace(TEMPLATE_SEGMENT, (segment) => segment.replace(reference, `$1${to}`));
    }
    if (Array.isArray(item)) return item.map(rewrite);
    if (item !== null && typeof item === "object") {
      return Object.fromEntries(Object.entries(item).map(([key, inner]) => [key, rewrite(inner)]));
    }
    return item;
  };
  return rewrite(value) as T;
}

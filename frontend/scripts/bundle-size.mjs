// The production build's first load: the JavaScript index.html loads (its entry script and
// the chunks it preloads), gzipped, against a budget; the editor must be a chunk of its own,
// fetched only when the editor opens. Prints a table; exits 1 over budget.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_KB = 300;
const dist = new URL("../dist/", import.meta.url).pathname;
const html = readFileSync(join(dist, "index.html"), "utf8");
const firstLoad = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((match) => match[1]);
const gzipKb = (file) => gzipSync(readFileSync(join(dist, file))).length / 1000;

const chunks = readdirSync(join(dist, "assets"))
  .filter((name) => name.endsWith(".js"))
  .map((name) => `assets/${name}`);
const editor = chunks.filter((file) => /\/EditorPage-[\w-]+\.js$/.test(file));

const rows = chunks
  .map((file) => ({ file, kb: gzipKb(file), first: firstLoad.includes(file) }))
  .sort((a, b) => b.kb - a.kb);
console.log("| chunk | gzipped kB | first load |\n| --- | --: | --- |");
for (const row of rows) console.log(`| ${row.file} | ${row.kb.toFixed(1)} | ${row.first ? "yes" : ""} |`);
const total = rows.filter((row) => row.first).reduce((sum, row) => sum + row.kb, 0);
console.log(`\nfirst load: ${total.toFixed(1)} kB gzipped JS (budget ${BUDGET_KB} kB)`);

const problems = [];
if (total > BUDGET_KB) problems.push(`first load ${total.toFixed(1)} kB is over ${BUDGET_KB} kB`);
if (editor.length !== 1) problems.push(`expected one EditorPage chunk, found ${editor.length}`);
if (editor.some((file) => firstLoad.includes(file))) problems.push("the editor chunk is loaded up front");
if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}

// Runs every compiled test file with node's own runner. Node 20 has no glob support in
// `node --test`, so the list is built here; the exit code is the runner's.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";

const root = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..");
const filter = process.argv.slice(2);

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith(".test.js") ? [join(dir, d.name)] : [],
  );
}

const files = walk(join(root, "dist", "test"))
  .filter((f) => filter.length === 0 || filter.some((word) => f.includes(word)))
  .sort()
  .map((f) => relative(root, f));
if (files.length === 0) {
  console.error("no test files found under dist/test");
  process.exit(1);
}
const result = spawnSync(process.execPath, ["--test", ...files], { cwd: root, stdio: "inherit" });
process.exit(result.status ?? 1);

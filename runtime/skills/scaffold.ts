import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SkillgateError } from "../errors.js";

/**
 * A new skill that packs, signs and runs as generated: one read-only tool, no
 * capabilities, and a test that runs the tool with node:test and a stand-in for the
 * `skillgate` host module.
 */
export function scaffoldFiles(name: string): Record<string, string> {
  const bare = name.slice(name.indexOf("/") + 1);
  const description = `Greets someone by name (a starting point for ${name}).`;
  const manifest = {
    name,
    version: "0.1.0",
    description,
    entry: "index.js",
    tools: [
      {
        name: "greet",
        description: "Return a greeting for a name.",
        input: {
          type: "object",
          properties: { name: { type: "string", minLength: 1, maxLength: 100 } },
          required: ["name"],
          additionalProperties: false,
        },
        effect: "read",
      },
    ],
    capabilities: { net: [], fs: [], credentials: [] },
    limits: { memoryMb: 16, cpuMs: 100, wallMs: 1000, outputBytes: 4096 },
  };
  return {
    "skill.json": `${JSON.stringify(manifest, null, 2)}\n`,
    "SKILL.md": `---\nname: ${bare}\ndescription: "${description}"\n---\nCall \`greet\` with the person's name when the user asks you to greet someone.\n`,
    "index.js": `import { log } from "skillgate";

/** Tools are the exported functions named in skill.json; input arrives already validated. */
export async function greet({ name }) {
  log.info("greeting", { name });
  return { greeting: \`Hello, \${name}!\` };
}
`,
    "test/greet.test.mjs": `// Runs the tool outside the sandbox with a stand-in for the "skillgate" host module:
//   node --test test/
import assert from "node:assert/strict";
import { register } from "node:module";
import { test } from "node:test";

register("./host-stub.mjs", import.meta.url);

test("greet greets by name", async () => {
  const { greet } = await import("../index.js");
  assert.deepEqual(await greet({ name: "Ada" }), { greeting: "Hello, Ada!" });
});
`,
    "test/host-stub.mjs": `// Module hook: resolves the sandbox's "skillgate" module to a local stand-in for tests.
const STUB = "data:text/javascript," + encodeURIComponent(
  "export const log = { info() {}, warn() {}, error() {} };" +
  "export const net = { fetch() { throw new Error('net is not granted in tests'); } };" +
  "export const fs = {}; export const kv = {};"
);

export async function resolve(specifier, context, next) {
  if (specifier === "skillgate") return { url: STUB, shortCircuit: true };
  return next(specifier, context);
}
`,
  };
}

export async function scaffoldSkill(dir: string, name: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0) throw new SkillgateError("SKILL_DIR_NOT_EMPTY", `${dir} is not empty`);
  const files = scaffoldFiles(name);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), content, { flag: "wx" });
  }
  return Object.keys(files);
}

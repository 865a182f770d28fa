import type { SandboxSkill } from "../sandbox/index.js";
import { parseManifest } from "../skills-registry/index.js";

const CODE = `
import { kv } from "skillgate";
let calls = 0;
export async function echo(input) { calls += 1; return { n: input.n, calls }; }
export async function kv_many(input) { for (let i = 0; i < input.times; i++) await kv.get("k"); return { n: input.times }; }
`;

const manifest = parseManifest(
  JSON.stringify({
    name: "@bench/echo",
    version: "1.0.0",
    description: "Benchmark skill.",
    entry: "index.js",
    tools: ["echo", "kv_many"].map((name) => ({ name, description: name, input: { type: "object" }, effect: "read" })),
    capabilities: { kv: {} },
    limits: { memoryMb: 32, cpuMs: 5000, wallMs: 60000 },
  }),
);

/** The smallest real skill: a tool that echoes, and one that makes capability calls in a loop. */
export const ECHO_SKILL: SandboxSkill = { name: manifest.name, digest: "b".repeat(64), code: CODE, manifest };

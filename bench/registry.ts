import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { x as extractTar } from "tar";
import {
  generateSigningKey,
  installSkill,
  packSkill,
  publicGoodTrustedRoot,
  signSkillWithKey,
  TrustPolicySchema,
  verifySkillPackage,
} from "../skills-registry/index.js";
import type { Row } from "./report.js";

/** A skill of about `bytes` of code and data: text that compresses like real source does. */
function writeSkill(dir: string, bytes: number): void {
  mkdirSync(join(dir, "data"), { recursive: true });
  writeFileSync(
    join(dir, "skill.json"),
    JSON.stringify({
      name: "@bench/big",
      version: "1.0.0",
      description: "A 1 MiB skill for the install benchmark.",
      entry: "index.js",
      tools: [{ name: "noop", description: "Does nothing.", input: { type: "object" }, effect: "read" }],
    }),
  );
  writeFileSync(join(dir, "index.js"), "export async function noop() { return {}; }\n");
  let seed = 1;
  const word = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed.toString(36);
  };
  const perFile = 64 * 1024;
  for (let i = 0; i * perFile < bytes; i++) {
    const parts: string[] = [];
    let size = 0;
    while (size < perFile) {
      const line = `export const v${word()} = "${word()} ${word()} ${word()}";\n`;
      parts.push(line);
      size += line.length;
    }
    writeFileSync(join(dir, "data", `part-${String(i).padStart(3, "0")}.js`), parts.join(""));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function timeRuns(runs: number, once: (i: number) => Promise<void> | void): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await once(i);
    times.push(performance.now() - start);
  }
  return median(times);
}

export async function benchRegistry(options: { quick: boolean }): Promise<Row[]> {
  const runs = options.quick ? 5 : 50;
  const root = mkdtempSync(join(tmpdir(), "sg-bench-registry-"));
  try {
    const src = join(root, "src");
    writeSkill(src, 1024 * 1024);
    const packed = await packSkill(src);
    const tgz = join(root, packed.fileName);
    writeFileSync(tgz, packed.tarball);
    const key = generateSigningKey();
    const bundleJson: unknown = JSON.parse(
      JSON.stringify(await signSkillWithKey({ name: packed.manifest.name, version: packed.manifest.version, sha256: packed.sha256 }, key.privatePem)),
    );
    const policy = TrustPolicySchema.parse({ publishers: [{ name: "bench", scopes: ["@bench/*"], keys: [{ id: key.keyId, pem: key.publicPem }] }] });
    const trustedRoot = publicGoodTrustedRoot();

    const verifyMs = await timeRuns(runs * 4, () => void verifySkillPackage(packed.tarball, bundleJson, policy, trustedRoot));
    const hashMs = await timeRuns(runs * 4, () => void createHash("sha256").update(packed.tarball).digest());
    const installMs = await timeRuns(runs, async (i) => {
      const home = join(root, `home-${i}`);
      await installSkill({ tarball: packed.tarball, bundleJson, source: tgz, policy, trustedRoot, storeDir: join(home, "skills"), lockfilePath: join(home, "lock.json") });
    });
    const extractMs = await timeRuns(runs, async (i) => {
      const out = join(root, `plain-${i}`);
      mkdirSync(out);
      await extractTar({ file: tgz, cwd: out });
    });
    const perSecond = (ms: number) => 1000 / ms;
    return [
      {
        what: `keyed verify, 1 MiB skill (${Math.round(packed.tarball.length / 1024)} KiB packed) (median ${verifyMs.toFixed(2)} ms)`,
        ours: perSecond(verifyMs),
        baseline: perSecond(hashMs),
        unit: "verifies/s",
        baselineName: "SHA-256 of the tarball alone",
        floor: 500,
      },
      {
        what: `verify + install, 1 MiB skill in ${packed.files.length} files (median ${installMs.toFixed(1)} ms)`,
        ours: perSecond(installMs),
        baseline: perSecond(extractMs),
        unit: "installs/s",
        baselineName: `plain tar extraction (median ${extractMs.toFixed(1)} ms)`,
        target: 1 / 3,
      },
    ];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

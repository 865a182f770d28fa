import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
import { type Area, figure } from "./figure.js";
import { picker, repeat, timeEach } from "./measure.js";

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
  const next = picker(1);
  const word = () => next(2 ** 31).toString(36);
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

export async function benchRegistry(options: { quick: boolean }): Promise<Area> {
  const runs = options.quick ? 2 : 5;
  const perRun = options.quick ? 4 : 20;
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

    let installs = 0;
    const measured = await repeat(runs, async () => ({
      verify: await timeEach(perRun * 4, () => void verifySkillPackage(packed.tarball, bundleJson, policy, trustedRoot)),
      hash: await timeEach(perRun * 4, () => void createHash("sha256").update(packed.tarball).digest()),
      install: await timeEach(perRun, async () => {
        const home = join(root, `home-${installs++}`);
        await installSkill({ tarball: packed.tarball, bundleJson, source: tgz, policy, trustedRoot, storeDir: join(home, "skills"), lockfilePath: join(home, "lock.json") });
      }),
      extract: await timeEach(perRun, async () => {
        const out = join(root, `plain-${installs++}`);
        mkdirSync(out);
        await extractTar({ file: tgz, cwd: out });
      }),
    }));
    const ms = (key: "verify" | "hash" | "install" | "extract") => measured.map((m) => m[key].map((us) => us / 1000));
    return {
      title: "Skill packages",
      command: `npm run bench -- --only registry${options.quick ? " --quick" : ""}`,
      figures: [
        figure({
          what: `keyed signature + digest verify, 1 MiB skill (${Math.round(packed.tarball.length / 1024)} KiB packed)`,
          unit: "ms",
          better: "lower",
          ours: ms("verify"),
          baseline: ms("hash"),
          baselineName: "SHA-256 of the tarball alone",
        }),
        figure({
          what: `verify + safe install, 1 MiB skill in ${packed.files.length} files`,
          unit: "ms",
          better: "lower",
          ours: ms("install"),
          baseline: ms("extract"),
          baselineName: "plain `tar` extraction of the same tarball",
          target: { ratio: 1 / 3 },
        }),
      ],
      notes: [],
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

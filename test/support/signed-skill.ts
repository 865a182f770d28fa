import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "./cli.js";

/**
 * Authors, packs, signs (with a per-home test publisher key, trusted for the scope) and
 * installs a skill through the real CLI, as a skill author and an operator would.
 */
export function installSignedSkill(home: string, workDir: string, skill: { name: string; manifest: Record<string, unknown>; code: string }): string {
  const sg = (...args: string[]) => {
    const run = runCli(["--home", home, "--json", ...args], { cwd: workDir });
    assert.equal(run.status, 0, `skillgate ${args.join(" ")}: ${run.stderr}`);
    return JSON.parse(run.stdout) as Record<string, unknown>;
  };
  const scope = skill.name.split("/")[0] as string;
  const keys = join(workDir, "test-publisher");
  if (!existsSync(join(keys, "skill-signing.key.pem"))) {
    sg("keys", "generate", "--out", keys);
  }
  const trust = runCli(["--home", home, "trust", "add", "--key", join(keys, "skill-signing.pub.pem"), "--scope", `${scope}/*`], { cwd: workDir });
  assert.ok(trust.status === 0 || /already/i.test(trust.stderr), trust.stderr);
  const dir = join(workDir, skill.name.replace(/[@/]/g, "_"));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "skill.json"), JSON.stringify({ name: skill.name, version: "1.0.0", entry: "index.js", ...skill.manifest }, null, 2));
  writeFileSync(join(dir, "index.js"), skill.code);
  const packed = sg("skill", "pack", dir, "--out", workDir);
  const tarball = packed.path as string;
  sg("skill", "sign", tarball, "--key", join(keys, "skill-signing.key.pem"));
  const installed = sg("skill", "install", tarball);
  return installed.sha256 as string;
}

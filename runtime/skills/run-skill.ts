import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { AuditLog } from "../../audit/index.js";
import type { InvokeResult, SandboxSkill } from "../../sandbox/index.js";
import { checkPackageContents, type Manifest, readLockfile, revocationOf, skillDir, storedContentDigest, type TrustPolicy } from "../../skills-registry/index.js";
import { readSkillDir } from "./read-dir.js";
import { startSandboxPool } from "../effects/sandbox-pool.js";
import { SkillgateError } from "../errors.js";
import type { Logger } from "pino";
import type { StatePaths } from "../state/state-dir.js";
import type { Config } from "../config/schema.js";

/** An installed skill as the sandbox runs it: code from the content-addressed store, manifest from the lockfile. */
export async function loadInstalledSkill(paths: StatePaths, policy: TrustPolicy, name: string): Promise<SandboxSkill> {
  const locked = (await readLockfile(paths.lockfile)).skills[name];
  if (!locked) throw new SkillgateError("SKILL_NOT_INSTALLED", `${name} is not installed`);
  const disabled = revocationOf(locked, policy);
  if (disabled) throw new SkillgateError("SKILL_DISABLED", `${name} is disabled: ${disabled}`);
  // The store is read-only, but not beyond the reach of whoever owns the files: check what is there now.
  if (locked.content) {
    let now: string;
    try {
      now = await storedContentDigest(paths.skillsDir, locked.sha256);
    } catch (err) {
      throw new SkillgateError("SKILL_TAMPERED", `${name}: its stored files cannot be read as a package (${(err as { code?: string }).code ?? "error"})`);
    }
    if (now !== locked.content) throw new SkillgateError("SKILL_TAMPERED", `${name}: its files changed after install; reinstall it from a signed package`);
  }
  const code = await readFile(join(skillDir(paths.skillsDir, locked.sha256), locked.manifest.entry), "utf8");
  return { name, digest: locked.sha256, code, manifest: locked.manifest };
}

/** An unsigned skill directory, for an author's inner loop (`skill run --dev`). */
export async function loadDevSkill(dir: string): Promise<SandboxSkill> {
  const files = await readSkillDir(dir);
  const manifest: Manifest = checkPackageContents(files.files);
  const entry = files.files.find((f) => f.path === manifest.entry);
  return { name: manifest.name, digest: `dev-${files.sha256}`, code: entry?.content.toString("utf8") ?? "", manifest };
}

export interface RunRequest {
  paths: StatePaths;
  sandbox: Config["sandbox"];
  audit: AuditLog;
  logger: Logger;
  skill: SandboxSkill;
  tool: string;
  input: unknown;
  session: string;
  actor: string;
  dev: boolean;
}

/** One tool call, no model involved, under the same manifest checks and audit as any other. */
export async function runSkillOnce(req: RunRequest): Promise<InvokeResult> {
  const pool = await startSandboxPool({ paths: req.paths, sandbox: req.sandbox, audit: req.audit, logger: req.logger, size: 1 });
  const call = { skill: req.skill.name, digest: req.skill.digest, tool: req.tool, dev: req.dev };
  try {
    await req.audit.append({ session: req.session, actor: req.actor, kind: "decided", type: "tool.call", data: call, blobs: [{ content: JSON.stringify(req.input ?? null), type: "application/json" }] });
    try {
      const result = await pool.invoke({ session: req.session, skill: req.skill, tool: req.tool, input: req.input, fresh: true });
      await req.audit.append({
        session: req.session,
        actor: `skill:${req.skill.name}`,
        kind: "saw",
        type: "tool.result",
        data: { ...call, ok: true, calls: result.stats.calls, cpuMs: Math.round(result.stats.cpuMs * 1000) / 1000 },
        blobs: [{ content: JSON.stringify(result.output), type: "application/json" }],
      });
      return result;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      await req.audit.append({
        session: req.session,
        actor: `skill:${req.skill.name}`,
        kind: "saw",
        type: "tool.result",
        data: { ...call, ok: false, code: typeof code === "string" ? code : "INTERNAL", message: (err as Error).message.split("\n")[0] ?? "" },
      });
      throw err;
    }
  } finally {
    await pool.close();
    await req.audit.settle();
  }
}

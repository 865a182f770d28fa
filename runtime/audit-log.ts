import { AuditLog, parseSignerKey } from "../audit/index.js";
import type { Config } from "./config/schema.js";
import { SkillgateError } from "./errors.js";
import { readTextIfExists } from "./state/files.js";
import { inHome, type StatePaths } from "./state/state-dir.js";

/** Opens the state dir's audit log as its single writer, with the configured checkpoint policy. */
export async function openAuditLog(paths: StatePaths, config: Config): Promise<AuditLog> {
  const skey = await readTextIfExists(paths.auditSigningKey);
  if (skey === undefined) {
    throw new SkillgateError("NOT_INITIALIZED", `no audit signing key at ${paths.auditSigningKey}; run 'skillgate init'`);
  }
  return AuditLog.open({
    path: paths.auditDb,
    signer: parseSignerKey(skey),
    checkpointFile: inHome(paths.home, config.audit.checkpointFile),
    checkpointEvery: config.audit.checkpointEvery,
    checkpointIntervalMs: config.audit.checkpointIntervalSeconds * 1000,
  });
}

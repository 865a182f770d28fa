import { mkdir } from "node:fs/promises";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { generateNoteKey } from "../../audit/index.js";
import { newToken } from "../gateway/auth.js";
import { defaultConfig, saveConfig } from "../config/load.js";
import { SkillgateError } from "../errors.js";
import { ensureMasterKeyFile } from "../secrets/master-key.js";
import { readTextIfExists, writePrivateFile } from "./files.js";
import { type StatePaths, statePaths } from "./state-dir.js";

export interface InitResult {
  paths: StatePaths;
  vkey: string;
  created: boolean;
  /** Only when it was just made: it is shown once. */
  operatorToken?: string;
}

/** A log origin unique to this installation, valid as a signed-note key name. */
function newOrigin(): string {
  const host = hostname().toLowerCase().replace(/[^a-z0-9.-]/g, "-").slice(0, 63) || "host";
  return `skillgate.local/${host}/${randomBytes(4).toString("hex")}`;
}

/** Creates the state dir with config and the audit signing key. Refuses to overwrite. */
export async function initState(home: string): Promise<InitResult> {
  const paths = statePaths(home);
  if ((await readTextIfExists(paths.config)) !== undefined) {
    throw new SkillgateError("ALREADY_INITIALIZED", `${home} is already initialized`);
  }
  await mkdir(home, { recursive: true, mode: 0o700 });
  await mkdir(paths.keysDir, { recursive: true, mode: 0o700 });
  const key = generateNoteKey(newOrigin());
  await writePrivateFile(paths.auditSigningKey, `${key.skey}\n`, { exclusive: true });
  await writePrivateFile(paths.auditVerifierKey, `${key.vkey}\n`);
  const operatorToken = newToken();
  await writePrivateFile(paths.operatorToken, `${operatorToken}\n`, { exclusive: true });
  await ensureMasterKeyFile(paths.masterKey);
  await saveConfig(paths.config, defaultConfig());
  return { paths, vkey: key.vkey, created: true, operatorToken };
}

/** The operator token, made now if this state dir predates it. */
export async function ensureOperatorToken(paths: StatePaths): Promise<{ token: string; created: boolean }> {
  const existing = (await readTextIfExists(paths.operatorToken))?.trim();
  if (existing) return { token: existing, created: false };
  const token = newToken();
  await writePrivateFile(paths.operatorToken, `${token}\n`, { exclusive: true });
  return { token, created: true };
}

/** For commands that should just work on embedded defaults (e.g. `npm start`). */
export async function ensureState(home: string): Promise<InitResult> {
  const paths = statePaths(home);
  const vkey = await readTextIfExists(paths.auditVerifierKey);
  if ((await readTextIfExists(paths.config)) !== undefined && vkey !== undefined) {
    await ensureMasterKeyFile(paths.masterKey);
    return { paths, vkey: vkey.trim(), created: false };
  }
  return initState(home);
}

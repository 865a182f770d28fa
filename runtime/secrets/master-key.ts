import { randomBytes } from "node:crypto";
import { SkillgateError } from "../errors.js";
import { readTextIfExists, writePrivateFile } from "../state/files.js";

export const MASTER_KEY_ENV = "SKILLGATE_MASTER_KEY";

/** 32 bytes, written as base64 or hex. */
function decodeKey(text: string, where: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, "hex") : /^[A-Za-z0-9+/_-]{43}=?$/.test(t) ? Buffer.from(t, "base64") : undefined;
  if (!key || key.length !== 32) throw new SkillgateError("VAULT_KEY_INVALID", `${where} must hold a 32-byte key as base64 or hex`);
  return key;
}

/**
 * The vault's master key: `SKILLGATE_MASTER_KEY` when set (so the key can live outside the
 * state dir, e.g. in a service manager's credential store), else the 0600 key file.
 */
export async function loadMasterKey(keyFile: string, env: NodeJS.ProcessEnv = process.env): Promise<Buffer | undefined> {
  const fromEnv = env[MASTER_KEY_ENV];
  if (fromEnv) return decodeKey(fromEnv, MASTER_KEY_ENV);
  const fromFile = await readTextIfExists(keyFile);
  return fromFile === undefined ? undefined : decodeKey(fromFile, keyFile);
}

/** Made by `skillgate init` (and by anything that needs the vault first) unless the env var is set. */
export async function ensureMasterKeyFile(keyFile: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (env[MASTER_KEY_ENV] || (await readTextIfExists(keyFile)) !== undefined) return false;
  await writePrivateFile(keyFile, `${randomBytes(32).toString("base64")}\n`, { exclusive: true });
  return true;
}

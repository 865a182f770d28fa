import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { SkillgateError } from "../errors.js";
import { writePrivateFile } from "../state/files.js";

export const HOOK_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const SIGNATURE_HEADER = "x-skillgate-signature";

export function hooksDir(keysDir: string): string {
  return join(keysDir, "hooks");
}

/** Creates a webhook's secret (0600) and returns it; it is shown once. */
export async function createHookSecret(keysDir: string, id: string): Promise<string> {
  if (!HOOK_ID.test(id)) throw new SkillgateError("USAGE", "hook id: lowercase letters, digits, - and _");
  const secret = `sgh_${randomBytes(32).toString("base64url")}`;
  try {
    await writePrivateFile(join(hooksDir(keysDir), `${id}.secret`), `${secret}\n`, { exclusive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new SkillgateError("HOOK_EXISTS", `hook ${id} already exists`);
    throw err;
  }
  return secret;
}

export async function loadHookSecrets(keysDir: string): Promise<Map<string, string>> {
  const secrets = new Map<string, string>();
  let names: string[] = [];
  try {
    names = await readdir(hooksDir(keysDir));
  } catch {
    return secrets;
  }
  for (const name of names.filter((n) => n.endsWith(".secret"))) {
    secrets.set(name.slice(0, -".secret".length), (await readFile(join(hooksDir(keysDir), name), "utf8")).trim());
  }
  return secrets;
}

/** `sha256=<hex>` of HMAC-SHA256(secret, raw body), compared in constant time. */
export function signatureValid(secret: string, body: Buffer, header: string | undefined): boolean {
  const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(body).digest("hex")}`);
  const given = Buffer.from(header ?? "");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export const HookBody = z.object({ text: z.string().min(1).max(65_536), agent: z.string().optional() }).strict();

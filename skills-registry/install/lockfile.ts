import { randomBytes } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { z } from "zod";
import { RegistryError } from "../errors.js";
import { ManifestSchema } from "../manifest/schema.js";

export const SignerSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("key"), keyId: z.string(), publisher: z.string() }).strict(),
  z.object({ type: z.literal("keyless"), san: z.string(), issuer: z.string(), publisher: z.string() }).strict(),
]);
export type SignerIdentity = z.infer<typeof SignerSchema>;

export const LockedSkillSchema = z
  .object({
    version: z.string(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    /** contentDigest of the installed files: checked at every load (absent in lockfiles from before it existed). */
    content: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    signer: SignerSchema,
    /** The manifest as installed: what the operator granted is exactly what it declares. */
    manifest: ManifestSchema,
    installedAt: z.string(),
    source: z.string(),
    disabled: z.object({ reason: z.string() }).strict().optional(),
  })
  .strict();
export type LockedSkill = z.infer<typeof LockedSkillSchema>;

export const LockfileSchema = z
  .object({
    lockfileVersion: z.literal(1),
    skills: z.record(z.string(), LockedSkillSchema),
  })
  .strict();
export type Lockfile = z.infer<typeof LockfileSchema>;

export async function readLockfile(path: string): Promise<Lockfile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { lockfileVersion: 1, skills: {} };
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RegistryError("SKILL_BAD_REGISTRY", `${path} is not valid JSON`);
  }
  const parsed = LockfileSchema.safeParse(value);
  if (!parsed.success) throw new RegistryError("SKILL_BAD_REGISTRY", `${path} is not a skills lockfile`);
  return parsed.data;
}

/** Replaces the lockfile atomically: a crash leaves the old one or the new one, never half. */
export async function writeLockfile(path: string, lock: Lockfile): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  const sorted: Lockfile = { lockfileVersion: 1, skills: Object.fromEntries(Object.entries(lock.skills).sort(([a], [b]) => (a < b ? -1 : 1))) };
  await writeFile(tmp, `${JSON.stringify(sorted, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  await rename(tmp, path);
}

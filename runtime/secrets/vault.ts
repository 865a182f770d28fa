import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { z } from "zod";
import { HostPattern } from "../../skills-registry/index.js";
import { SkillgateError } from "../errors.js";
import type { SecretRow, StateDb } from "../state/state-db.js";

export const SecretRefSchema = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, "must be a short lowercase id like github");

/** Where the operator lets a secret go: every field must match, on top of the skill's manifest. */
export const SecretBindingSchema = z
  .object({
    hosts: z.array(HostPattern).min(1).max(64),
    /** Skill names or scopes (`@acme/*`). */
    skills: z.array(z.string().regex(/^@[a-z0-9][a-z0-9._-]*\/(?:\*|[a-z0-9][a-z0-9._-]*)$/, "must be @scope/name or @scope/*")).min(1).max(64),
    methods: z.array(z.enum(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])).max(6).optional(),
    /** Path prefixes, as in a manifest; absent means any path the manifest allows. */
    paths: z.array(z.string().regex(/^\/[\x21-\x7e]*$/)).max(64).optional(),
  })
  .strict();
export type SecretBinding = z.infer<typeof SecretBindingSchema>;

export interface SecretInfo {
  ref: string;
  version: number;
  binding: SecretBinding;
  createdAt: string;
  updatedAt: string;
}

const CHECK_PLAINTEXT = "skillgate-vault-v1";
const CHECK_AAD = "skillgate-vault-check";

/** The record's ID (and version, so an old ciphertext cannot stand in for a new one) is the associated data. */
const aadOf = (ref: string, version: number) => Buffer.from(`skillgate-secret:${ref}:${version}`);

function seal(key: Buffer, plaintext: Buffer, aad: Buffer): { nonce: Buffer; sealed: Buffer } {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, nonce).setAAD(aad);
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { nonce, sealed };
}

function open(key: Buffer, nonce: Buffer, sealed: Buffer, aad: Buffer): Buffer | undefined {
  if (sealed.length < 16) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, nonce).setAAD(aad).setAuthTag(sealed.subarray(-16));
    return Buffer.concat([decipher.update(sealed.subarray(0, -16)), decipher.final()]);
  } catch {
    return undefined;
  }
}

/**
 * Secrets sealed with AES-256-GCM in `state.db`: a random nonce per write, the record's ID
 * as associated data. A check record sealed under the master key makes a wrong key fail
 * with a clear error at open, never with garbage later. Values leave only through
 * `reveal`, which the credential broker alone calls.
 */
export class Vault {
  private constructor(
    private readonly state: StateDb,
    private readonly key: Buffer | undefined,
  ) {}

  static async open(state: StateDb, key: Buffer | undefined): Promise<Vault> {
    const check = await state.vaultCheck();
    if (key && check && !open(key, check.nonce, check.sealed, Buffer.from(CHECK_AAD))) {
      throw new SkillgateError("VAULT_KEY_WRONG", "the master key does not open this vault (was SKILLGATE_MASTER_KEY or keys/master.key changed?)");
    }
    if (key && !check) {
      const sealed = seal(key, Buffer.from(CHECK_PLAINTEXT), Buffer.from(CHECK_AAD));
      await state.setVaultCheck(sealed.nonce, sealed.sealed);
    }
    return new Vault(state, key);
  }

  private requireKey(): Buffer {
    if (!this.key) throw new SkillgateError("VAULT_KEY_MISSING", "no master key: set SKILLGATE_MASTER_KEY or run skillgate init to make keys/master.key");
    return this.key;
  }

  async set(ref: string, value: string, binding: SecretBinding, now = new Date().toISOString()): Promise<SecretInfo> {
    SecretRefSchema.parse(ref);
    const b = SecretBindingSchema.parse(binding);
    if (value.length === 0 || value.length > 16_384) throw new SkillgateError("BAD_REQUEST", "a secret is 1 to 16384 characters");
    const existing = await this.state.secret(ref);
    const version = (existing?.version ?? 0) + 1;
    const { nonce, sealed } = seal(this.requireKey(), Buffer.from(value, "utf8"), aadOf(ref, version));
    const row: SecretRow = { ref, version, nonce, sealed, binding: JSON.stringify(b), created_at: existing?.created_at ?? now, updated_at: now };
    await this.state.putSecret(row);
    return info(row);
  }

  /** A new value under the same binding. */
  async rotate(ref: string, value: string, now = new Date().toISOString()): Promise<SecretInfo> {
    const existing = await this.state.secret(ref);
    if (!existing) throw new SkillgateError("SECRET_NOT_FOUND", `no secret cred:${ref}`);
    return this.set(ref, value, info(existing).binding, now);
  }

  async remove(ref: string): Promise<boolean> {
    return this.state.deleteSecret(ref);
  }

  async list(): Promise<SecretInfo[]> {
    return (await this.state.secrets()).map(info);
  }

  async binding(ref: string): Promise<SecretInfo | undefined> {
    const row = await this.state.secret(ref);
    return row ? info(row) : undefined;
  }

  /** The value, for the broker's outgoing request only. */
  async reveal(ref: string): Promise<string | undefined> {
    const row = await this.state.secret(ref);
    if (!row) return undefined;
    const plain = open(this.requireKey(), row.nonce, row.sealed, aadOf(row.ref, row.version));
    if (!plain) throw new SkillgateError("VAULT_CORRUPT", `cred:${ref} does not decrypt under this master key`);
    return plain.toString("utf8");
  }

  /** Every value, for the scrubber. */
  async values(): Promise<{ ref: string; value: string }[]> {
    const out: { ref: string; value: string }[] = [];
    for (const row of await this.state.secrets()) out.push({ ref: row.ref, value: (await this.reveal(row.ref)) as string });
    return out;
  }
}

function info(row: SecretRow): SecretInfo {
  return { ref: row.ref, version: row.version, binding: SecretBindingSchema.parse(JSON.parse(row.binding)), createdAt: row.created_at, updatedAt: row.updated_at };
}

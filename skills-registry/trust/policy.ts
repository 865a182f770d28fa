import { z } from "zod";
import { SkillName } from "../manifest/schema.js";

/** `@acme/*` (every skill in a scope) or one exact skill name. */
export const ScopePattern = z
  .string()
  .regex(/^@[a-z0-9][a-z0-9._-]*\/(\*|[a-z0-9][a-z0-9._-]*)$/, "must be @scope/* or @scope/name");

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "must be a lowercase hex SHA-256");

export const PinnedKey = z
  .object({
    /** SHA-256 of the key's DER SubjectPublicKeyInfo, hex: also the bundle's key hint. */
    id: Sha256Hex,
    pem: z.string().includes("BEGIN PUBLIC KEY"),
  })
  .strict();

/**
 * A keyless signer: the certificate's SAN matched exactly, or by a pattern that is
 * anchored at both ends before use, plus the OIDC issuer that vouched for it.
 */
export const KeylessIdentity = z
  .object({
    san: z.string().min(1).optional(),
    /** Must compile on its own (balanced groups), so the ^(?:…)$ wrapper cannot be escaped. */
    sanPattern: z
      .string()
      .min(1)
      .refine((p) => {
        try {
          new RegExp(p, "u");
          return true;
        } catch {
          return false;
        }
      }, "must be a valid regular expression")
      .optional(),
    issuer: z.url(),
    sourceRepository: z.string().optional(),
    sourceRef: z.string().optional(),
  })
  .strict()
  .refine((i) => (i.san === undefined) !== (i.sanPattern === undefined), "give exactly one of san or sanPattern");

export const Publisher = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
    scopes: z.array(ScopePattern).min(1),
    keys: z.array(PinnedKey).default([]),
    identities: z.array(KeylessIdentity).default([]),
  })
  .strict();

export const Revocations = z
  .object({
    digests: z.array(Sha256Hex).default([]),
    keys: z.array(Sha256Hex).default([]),
    /** Keyless SANs, matched exactly. */
    identities: z.array(z.string().min(1)).default([]),
  })
  .strict();

export const TrustPolicySchema = z
  .object({
    publishers: z.array(Publisher).default([]),
    revoked: Revocations.prefault({}),
    /** A Sigstore trusted_root.json to use instead of the public-good root shipped in the package. */
    trustedRootFile: z.string().optional(),
  })
  .strict();

export type TrustPolicy = z.infer<typeof TrustPolicySchema>;
export type TrustPublisher = z.infer<typeof Publisher>;
export type TrustIdentity = z.infer<typeof KeylessIdentity>;

/** Does a scope pattern cover this skill name? */
export function scopeCovers(pattern: string, name: z.infer<typeof SkillName>): boolean {
  if (pattern.endsWith("/*")) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

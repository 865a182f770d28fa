import { RegistryError } from "../errors.js";
import type { SignerIdentity } from "../install/lockfile.js";
import { identityMatches } from "../verify/identity.js";
import type { SignedBy } from "../verify/signature.js";
import { scopeCovers, type TrustPolicy } from "./policy.js";

/** Every pinned key in the policy, by id, for the signature check to pick from. */
export function pinnedKeys(policy: TrustPolicy): Map<string, string> {
  const keys = new Map<string, string>();
  for (const publisher of policy.publishers) for (const key of publisher.keys) keys.set(key.id, key.pem);
  return keys;
}

export function describeSigner(signedBy: SignedBy): string {
  return signedBy.type === "key" ? `key ${signedBy.keyId.slice(0, 16)}…` : `${signedBy.identity.san} (${signedBy.identity.issuer})`;
}

/** Refuses anything the policy has revoked: the package's digest, its key or its identity. */
export function checkRevocation(policy: TrustPolicy, sha256: string, signedBy?: SignedBy): void {
  if (policy.revoked.digests.includes(sha256)) throw new RegistryError("SKILL_REVOKED", `package ${sha256.slice(0, 16)}… is revoked`);
  if (signedBy?.type === "key" && policy.revoked.keys.includes(signedBy.keyId)) {
    throw new RegistryError("SKILL_REVOKED", `signing key ${signedBy.keyId.slice(0, 16)}… is revoked`);
  }
  if (signedBy?.type === "keyless" && policy.revoked.identities.includes(signedBy.identity.san)) {
    throw new RegistryError("SKILL_REVOKED", `signer ${signedBy.identity.san} is revoked`);
  }
}

/**
 * Which publisher vouches for this signer on this name: the signer must be one the
 * policy lists, and that publisher's scopes must cover the skill's name.
 */
export function decideTrust(policy: TrustPolicy, signedBy: SignedBy, skillName: string): SignerIdentity {
  const holders = policy.publishers.filter((p) =>
    signedBy.type === "key" ? p.keys.some((k) => k.id === signedBy.keyId) : p.identities.some((i) => identityMatches(i, signedBy.identity)),
  );
  if (holders.length === 0) throw new RegistryError("SKILL_UNTRUSTED_SIGNER", `signed by ${describeSigner(signedBy)}, which no trusted publisher holds`);
  const publisher = holders.find((p) => p.scopes.some((scope) => scopeCovers(scope, skillName)));
  if (!publisher) {
    const names = holders.map((p) => `${p.name} (${p.scopes.join(", ")})`).join("; ");
    throw new RegistryError("SKILL_OUT_OF_SCOPE", `${skillName} is outside what its signer may sign: ${names}`);
  }
  return signedBy.type === "key"
    ? { type: "key", keyId: signedBy.keyId, publisher: publisher.name }
    : { type: "keyless", san: signedBy.identity.san, issuer: signedBy.identity.issuer, publisher: publisher.name };
}

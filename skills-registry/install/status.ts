import type { TrustPolicy } from "../trust/policy.js";
import type { LockedSkill } from "./lockfile.js";

/** Why an installed skill must not run, or undefined when it may: revocation reaches installed skills too. */
export function revocationOf(skill: LockedSkill, policy: TrustPolicy): string | undefined {
  if (skill.disabled) return skill.disabled.reason;
  if (policy.revoked.digests.includes(skill.sha256)) return "package digest revoked";
  if (skill.signer.type === "key" && policy.revoked.keys.includes(skill.signer.keyId)) return "signing key revoked";
  if (skill.signer.type === "keyless" && policy.revoked.identities.includes(skill.signer.san)) return "signer identity revoked";
  return undefined;
}

import { packageDigest } from "../pack/pack.js";
import { RegistryError } from "../errors.js";
import type { SignerIdentity } from "../install/lockfile.js";
import { parseSkillStatement, type SkillSubject } from "../sign/statement.js";
import { checkRevocation, decideTrust, pinnedKeys } from "../trust/decide.js";
import type { TrustPolicy } from "../trust/policy.js";
import { parseBundle, verifyBundleSignature } from "./signature.js";
import type { TrustedRoot } from "./trusted-root.js";

export interface VerifiedPackage {
  subject: SkillSubject;
  signer: SignerIdentity;
  sha256: string;
}

/**
 * Everything that must hold before a byte of the package is read: the tarball is the
 * one the signature names, the signature verifies, the signer is trusted for this
 * name, and nothing involved is revoked. The tarball is only hashed here.
 */
export function verifySkillPackage(tarball: Buffer, bundleJson: unknown, policy: TrustPolicy, root: TrustedRoot): VerifiedPackage {
  if (bundleJson === undefined) throw new RegistryError("SKILL_UNSIGNED", "package has no signature bundle (.sigstore.json)");
  const sha256 = packageDigest(tarball);
  checkRevocation(policy, sha256);
  const bundle = parseBundle(bundleJson);
  const { signedBy, payload } = verifyBundleSignature(bundle, root, pinnedKeys(policy));
  checkRevocation(policy, sha256, signedBy);
  // @sigstore/verify checks the envelope only; binding it to this tarball is our job.
  const subject = parseSkillStatement(payload);
  if (subject.sha256 !== sha256) {
    throw new RegistryError("SKILL_DIGEST_MISMATCH", `the signature is for ${subject.name}@${subject.version} with digest ${subject.sha256.slice(0, 16)}…, not this tarball (${sha256.slice(0, 16)}…)`);
  }
  const signer = decideTrust(policy, signedBy, subject.name);
  return { subject, signer, sha256 };
}

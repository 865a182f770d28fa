import { type Bundle, bundleFromJSON } from "@sigstore/bundle";
import type { TrustedRoot } from "@sigstore/protobuf-specs";
import { toSignedEntity, toTrustMaterial, VerificationError, Verifier } from "@sigstore/verify";
import { createPublicKey } from "node:crypto";
import { RegistryError } from "../errors.js";
import { keyIdOf } from "../sign/keys.js";
import { IN_TOTO_PAYLOAD_TYPE } from "../sign/statement.js";
import { type CertIdentity, certIdentity } from "./identity.js";

export type SignedBy = { type: "key"; keyId: string } | { type: "keyless"; identity: CertIdentity };

export interface VerifiedSignature {
  signedBy: SignedBy;
  /** The DSSE payload the signature covers. */
  payload: Buffer;
}

export function parseBundle(json: unknown): Bundle {
  try {
    return bundleFromJSON(json);
  } catch {
    throw new RegistryError("SKILL_BAD_BUNDLE", "not a Sigstore bundle");
  }
}

function dsseOf(bundle: Bundle): { payload: Buffer; payloadType: string } {
  if (bundle.content.$case !== "dsseEnvelope") throw new RegistryError("SKILL_BAD_BUNDLE", "bundle does not hold a DSSE envelope");
  const env = bundle.content.dsseEnvelope;
  if (env.signatures.length !== 1) throw new RegistryError("SKILL_BAD_BUNDLE", "bundle must carry exactly one signature");
  return { payload: env.payload, payloadType: env.payloadType };
}

function runVerifier(verify: () => void): void {
  try {
    verify();
  } catch (err) {
    // Anything the verifier throws, typed or not, is a failed verification.
    const detail = err instanceof VerificationError ? `${err.code}: ${err.message}` : (err as Error).message;
    throw new RegistryError("SKILL_SIGNATURE_INVALID", `signature does not verify (${detail})`, { cause: err });
  }
}

/**
 * Checks the signature of a skill bundle: keyed bundles against the pinned key their
 * hint names (the caller supplies candidate keys), certificate bundles against the
 * trusted root's CA, CT log and timestamp authorities.
 */
export function verifyBundleSignature(
  bundle: Bundle,
  root: TrustedRoot,
  pinnedKeys: Map<string, string>,
): VerifiedSignature {
  const { payload, payloadType } = dsseOf(bundle);
  const material = bundle.verificationMaterial.content;
  let signedBy: SignedBy;
  if (material.$case === "publicKey") {
    const hint = material.publicKey.hint;
    const pem = pinnedKeys.get(hint);
    if (!pem) throw new RegistryError("SKILL_UNTRUSTED_SIGNER", `signed by key ${hint.slice(0, 16)}…, which no trusted publisher holds`);
    const key = createPublicKey(pem);
    if (keyIdOf(key) !== hint) throw new RegistryError("SKILL_BAD_TRUST_POLICY", `pinned key ${hint.slice(0, 16)}… does not match its id`);
    const trust = toTrustMaterial(root, (h) => {
      if (h !== hint) throw new VerificationError({ code: "PUBLIC_KEY_ERROR", message: "unknown key" });
      return { publicKey: key, validFor: () => true };
    });
    // A bare key has no certificate to time-bound, so no timestamps or logs are needed.
    runVerifier(() => new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundle)));
    signedBy = { type: "key", keyId: hint };
  } else {
    let signer: ReturnType<Verifier["verify"]> | undefined;
    // Never 0 timestamps for a certificate: the chain is only checked at a trusted time
    // (from a TSA or a transparency log entry), and the SCT proves CT logging.
    runVerifier(() => {
      signer = new Verifier(toTrustMaterial(root), { tlogThreshold: 0, ctlogThreshold: 1, timestampThreshold: 1 }).verify(toSignedEntity(bundle));
    });
    const identity = signer?.identity ? certIdentity(signer.identity) : undefined;
    if (!identity) throw new RegistryError("SKILL_SIGNATURE_INVALID", "certificate names no identity (SAN and OIDC issuer)");
    signedBy = { type: "keyless", identity };
  }
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) throw new RegistryError("SKILL_BAD_BUNDLE", `unexpected payload type ${payloadType}`);
  return { signedBy, payload };
}

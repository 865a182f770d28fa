import { createPublicKey, sign } from "node:crypto";
import type { Signer } from "@sigstore/sign";
import { type BundleJson, buildSkillBundle } from "./build-bundle.js";
import { keyIdOf, loadPrivateKey } from "./keys.js";
import type { SkillSubject } from "./statement.js";

/** Signs with an operator-held ECDSA P-256 key; the bundle names the key by its ID. */
export function signSkillWithKey(subject: SkillSubject, privatePem: string): Promise<BundleJson> {
  const privateKey = loadPrivateKey(privatePem);
  const publicKey = createPublicKey(privateKey);
  const hint = keyIdOf(publicKey);
  const signer: Signer = {
    // DSSEBundleBuilder hands us the DSSE pre-authentication encoding, which is what gets signed.
    sign: async (data) => ({
      signature: sign("sha256", data, privateKey),
      key: { $case: "publicKey", publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(), hint },
    }),
  };
  return buildSkillBundle(subject, signer, []);
}

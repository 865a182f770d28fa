import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { RegistryError } from "../errors.js";

export interface SigningKeyPair {
  /** PKCS#8 PEM; the caller stores it 0600. */
  privatePem: string;
  publicPem: string;
  keyId: string;
}

/** SHA-256 of the DER SubjectPublicKeyInfo: names the key in bundles and trust policies. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("hex");
}

export function generateSigningKey(): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

function requireP256(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new RegistryError("SKILL_BAD_KEY", `${what} is not an ECDSA P-256 key`);
  }
}

export function loadPrivateKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new RegistryError("SKILL_BAD_KEY", "not a PEM private key");
  }
  requireP256(key, "the signing key");
  return key;
}

export function loadPublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new RegistryError("SKILL_BAD_KEY", "not a PEM public key");
  }
  if (key.type !== "public") throw new RegistryError("SKILL_BAD_KEY", "expected a public key, got a private one");
  requireP256(key, "the public key");
  return key;
}

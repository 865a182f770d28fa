import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { AuditError } from "../errors.js";
import { sha256 } from "../merkle/hash.js";

/** C2SP signed-note algorithm byte for Ed25519. */
const ALG_ED25519 = 0x01;
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export interface NoteVerifierKey {
  name: string;
  keyId: Buffer;
  publicKey: KeyObject;
  /** The C2SP vkey text, e.g. `example.com/log+1a2b3c4d+AbC…`. */
  vkey: string;
}

export interface NoteSignerKey extends NoteVerifierKey {
  privateKey: KeyObject;
  /** The C2SP private key text; a secret, never to be logged. */
  skey: string;
}

/** Key names may not contain spaces or `+` (signed-note, "Verifier keys"). */
export function assertKeyName(name: string): void {
  if (name.length === 0 || /[\s+]/u.test(name)) {
    throw new AuditError("AUDIT_BAD_KEY", "key name must be non-empty without spaces or '+'");
  }
}

export function keyIdFor(name: string, rawPublicKey: Uint8Array): Buffer {
  return sha256(Buffer.from(`${name}\n`, "utf8"), Buffer.from([ALG_ED25519]), rawPublicKey).subarray(0, 4);
}

function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: "jwk" });
  if (typeof jwk.x !== "string") throw new AuditError("AUDIT_BAD_KEY", "not an Ed25519 key");
  return Buffer.from(jwk.x, "base64url");
}

function verifierFromRaw(name: string, raw: Buffer): NoteVerifierKey {
  const publicKey = createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") },
    format: "jwk",
  });
  const keyId = keyIdFor(name, raw);
  const material = Buffer.concat([Buffer.from([ALG_ED25519]), raw]).toString("base64");
  return { name, keyId, publicKey, vkey: `${name}+${keyId.toString("hex")}+${material}` };
}

function signerFromSeed(name: string, seed: Buffer): NoteSignerKey {
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: "der",
    type: "pkcs8",
  });
  const verifier = verifierFromRaw(name, rawPublicKey(createPublicKey(privateKey)));
  const material = Buffer.concat([Buffer.from([ALG_ED25519]), seed]).toString("base64");
  return { ...verifier, privateKey, skey: `PRIVATE+KEY+${name}+${verifier.keyId.toString("hex")}+${material}` };
}

export function generateNoteKey(name: string): NoteSignerKey {
  assertKeyName(name);
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  if (typeof jwk.d !== "string") throw new AuditError("AUDIT_BAD_KEY", "key generation failed");
  return signerFromSeed(name, Buffer.from(jwk.d, "base64url"));
}

/** Splits on the first `parts - 1` plus signs: the trailing base64 may contain `+` itself. */
function splitKey(text: string, parts: number, what: string): string[] {
  const all = text.trim().split("+");
  if (all.length < parts) throw new AuditError("AUDIT_BAD_KEY", `malformed ${what}`);
  return [...all.slice(0, parts - 1), all.slice(parts - 1).join("+")];
}

function decodeKeyMaterial(b64: string, what: string): Buffer {
  const bytes = Buffer.from(b64, "base64");
  if (bytes.length !== 33 || bytes[0] !== ALG_ED25519 || bytes.toString("base64") !== b64) {
    throw new AuditError("AUDIT_BAD_KEY", `${what} is not an Ed25519 key in C2SP form`);
  }
  return bytes.subarray(1);
}

export function parseVerifierKey(vkey: string): NoteVerifierKey {
  const [name, idHex, b64] = splitKey(vkey, 3, "verifier key") as [string, string, string];
  assertKeyName(name);
  const key = verifierFromRaw(name, decodeKeyMaterial(b64, "verifier key"));
  if (key.keyId.toString("hex") !== idHex) throw new AuditError("AUDIT_BAD_KEY", "verifier key ID does not match its key");
  return key;
}

export function parseSignerKey(skey: string): NoteSignerKey {
  const [p, k, name, idHex, b64] = splitKey(skey, 5, "private key") as [string, string, string, string, string];
  if (p !== "PRIVATE" || k !== "KEY") throw new AuditError("AUDIT_BAD_KEY", "malformed private key");
  assertKeyName(name);
  const key = signerFromSeed(name, decodeKeyMaterial(b64, "private key"));
  if (key.keyId.toString("hex") !== idHex) throw new AuditError("AUDIT_BAD_KEY", "private key ID does not match its key");
  return key;
}

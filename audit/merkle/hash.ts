import { hash } from "node:crypto";

export const HASH_SIZE = 32;

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

// One-shot `crypto.hash` skips building a Hash object per call, which is most of the
// cost of hashing inputs this small; every entry costs three of these on append.
function digest(data: Uint8Array): Buffer {
  return hash("sha256", data, "buffer");
}

/** RFC 6962 §2.1: the hash of an empty tree is SHA-256 of the empty string. */
export const EMPTY_ROOT: Buffer = digest(new Uint8Array(0));

export function sha256(...parts: Uint8Array[]): Buffer {
  return digest(parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts));
}

export function leafHash(leaf: Uint8Array): Buffer {
  const input = Buffer.allocUnsafe(leaf.length + 1);
  input[0] = LEAF_PREFIX;
  input.set(leaf, 1);
  return digest(input);
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  const input = Buffer.allocUnsafe(1 + left.length + right.length);
  input[0] = NODE_PREFIX;
  input.set(left, 1);
  input.set(right, 1 + left.length);
  return digest(input);
}

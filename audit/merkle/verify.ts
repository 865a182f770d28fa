import { HASH_SIZE, nodeHash } from "./hash.js";

/**
 * RFC 9162 §2.1.3.2 and §2.1.4.2 verification. Sizes are handled as bigint so that
 * the bit arithmetic is exact for every size a proof may claim, not just 32-bit ones.
 */
export class ProofError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProofError";
  }
}

type Size = number | bigint;

function big(n: Size, what: string): bigint {
  const v = BigInt(n);
  if (v < 0n) throw new ProofError(`${what} is negative`);
  return v;
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

function onesCount(n: bigint): number {
  let count = 0;
  for (const c of n.toString(2)) if (c === "1") count += 1;
  return count;
}

function trailingZeros(n: bigint): number {
  let count = 0;
  while (n > 0n && (n & 1n) === 0n) {
    n >>= 1n;
    count += 1;
  }
  return count;
}

function checkHash(h: Uint8Array, what: string): void {
  if (h.length !== HASH_SIZE) throw new ProofError(`${what} is ${h.length} bytes, want ${HASH_SIZE}`);
}

function decomposeInclusion(index: bigint, size: bigint): { inner: number; border: number } {
  const inner = bitLength(index ^ (size - 1n));
  return { inner, border: onesCount(index >> BigInt(inner)) };
}

function chainInner(seed: Uint8Array, proof: Uint8Array[], index: bigint): Uint8Array {
  proof.forEach((h, i) => {
    seed = ((index >> BigInt(i)) & 1n) === 0n ? nodeHash(seed, h) : nodeHash(h, seed);
  });
  return seed;
}

function chainInnerRight(seed: Uint8Array, proof: Uint8Array[], index: bigint): Uint8Array {
  proof.forEach((h, i) => {
    if (((index >> BigInt(i)) & 1n) === 1n) seed = nodeHash(h, seed);
  });
  return seed;
}

function chainBorderRight(seed: Uint8Array, proof: Uint8Array[]): Uint8Array {
  for (const h of proof) seed = nodeHash(h, seed);
  return seed;
}

export function rootFromInclusionProof(index: Size, size: Size, leaf: Uint8Array, proof: Uint8Array[]): Uint8Array {
  const i = big(index, "index");
  const n = big(size, "size");
  if (i >= n) throw new ProofError(`index ${i} is beyond size ${n}`);
  checkHash(leaf, "leaf hash");
  proof.forEach((h, k) => checkHash(h, `proof[${k}]`));
  const { inner, border } = decomposeInclusion(i, n);
  if (proof.length !== inner + border) {
    throw new ProofError(`proof has ${proof.length} hashes, want ${inner + border}`);
  }
  const res = chainInner(leaf, proof.slice(0, inner), i);
  return chainBorderRight(res, proof.slice(inner));
}

export function verifyInclusion(
  index: Size,
  size: Size,
  leaf: Uint8Array,
  proof: Uint8Array[],
  root: Uint8Array,
): void {
  checkHash(root, "root");
  const calculated = rootFromInclusionProof(index, size, leaf, proof);
  if (!Buffer.from(calculated).equals(root)) throw new ProofError("inclusion proof does not lead to the root");
}

export function verifyConsistency(
  size1: Size,
  size2: Size,
  proof: Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  const n1 = big(size1, "size1");
  const n2 = big(size2, "size2");
  proof.forEach((h, k) => checkHash(h, `proof[${k}]`));
  if (n2 < n1) throw new ProofError(`size2 ${n2} is smaller than size1 ${n1}`);
  if (n1 === 0n) throw new ProofError("consistency with an empty tree proves nothing");
  if (n1 === n2) {
    if (proof.length > 0) throw new ProofError("equal sizes need an empty proof");
    if (!Buffer.from(root1).equals(root2)) throw new ProofError("equal sizes but different roots");
    return;
  }
  if (proof.length === 0) throw new ProofError("empty consistency proof");

  const decomposed = decomposeInclusion(n1 - 1n, n2);
  const shift = trailingZeros(n1);
  const inner = decomposed.inner - shift;
  let seed = proof[0] as Uint8Array;
  let start = 1;
  if (n1 === 1n << BigInt(shift)) {
    seed = root1;
    start = 0;
  }
  if (proof.length !== start + inner + decomposed.border) {
    throw new ProofError(`proof has ${proof.length} hashes, want ${start + inner + decomposed.border}`);
  }
  const rest = proof.slice(start);
  const mask = (n1 - 1n) >> BigInt(shift);
  const hash1 = chainBorderRight(chainInnerRight(seed, rest.slice(0, inner), mask), rest.slice(inner));
  if (!Buffer.from(hash1).equals(root1)) throw new ProofError("consistency proof does not lead to root1");
  const hash2 = chainBorderRight(chainInner(seed, rest.slice(0, inner), mask), rest.slice(inner));
  if (!Buffer.from(hash2).equals(root2)) throw new ProofError("consistency proof does not lead to root2");
}

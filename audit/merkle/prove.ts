import { nodeHash } from "./hash.js";

/** Stored perfect-subtree node: `level` 0 is a leaf; index counts nodes within the level. */
export interface NodeId {
  level: number;
  index: number;
}

export type NodeReader = (id: NodeId) => Buffer;

/** Largest power of two strictly less than n (n ≥ 2): the RFC 6962 split point. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}

/** MTH(D[start:end]) from stored perfect subtrees; O(log n) reads for any range. */
export function subtreeHash(read: NodeReader, start: number, end: number): Buffer {
  const n = end - start;
  if (isPowerOfTwo(n) && start % n === 0) return read({ level: Math.log2(n), index: start / n });
  const k = splitPoint(n);
  return nodeHash(subtreeHash(read, start, start + k), subtreeHash(read, start + k, end));
}

/** RFC 6962 §2.1.1 PATH(m, D[start:end]), leaf-to-root order. */
export function inclusionPath(read: NodeReader, m: number, start: number, end: number): Buffer[] {
  const path: Buffer[] = [];
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (m < start + k) {
      path.push(subtreeHash(read, start + k, end));
      end = start + k;
    } else {
      path.push(subtreeHash(read, start, start + k));
      start += k;
    }
  }
  return path.reverse();
}

/** RFC 6962 §2.1.2 PROOF(m, D[n]) for 0 < m < n. */
export function consistencyPath(read: NodeReader, m: number, n: number): Buffer[] {
  const proof: Buffer[] = [];
  let start = 0;
  let end = n;
  let mRel = m;
  let complete = true;
  while (mRel !== end - start) {
    const k = splitPoint(end - start);
    if (mRel <= k) {
      proof.push(subtreeHash(read, start + k, end));
      end = start + k;
    } else {
      proof.push(subtreeHash(read, start, start + k));
      start += k;
      mRel -= k;
      complete = false;
    }
  }
  if (!complete) proof.push(subtreeHash(read, start, end));
  return proof.reverse();
}

/**
 * Runs a proof computation twice: once to learn which stored nodes it needs (the
 * shape of a proof never depends on hash values), then with those nodes fetched in one
 * batch. This keeps the store's API to a single bulk read per proof.
 */
export async function withFetchedNodes<T>(
  compute: (read: NodeReader) => T,
  fetch: (ids: NodeId[]) => Promise<Map<string, Buffer>>,
): Promise<T> {
  const wanted = new Map<string, NodeId>();
  const placeholder = Buffer.alloc(32);
  compute((id) => {
    wanted.set(nodeKey(id), id);
    return placeholder;
  });
  const nodes = await fetch([...wanted.values()]);
  return compute((id) => {
    const hash = nodes.get(nodeKey(id));
    if (!hash) throw new RangeError(`node ${id.level}/${id.index} is not stored`);
    return hash;
  });
}

export function nodeKey(id: NodeId): string {
  return `${id.level}/${id.index}`;
}

import { EMPTY_ROOT, nodeHash } from "./hash.js";

export interface CompletedNode {
  level: number;
  index: number;
  hash: Buffer;
}

/**
 * The right edge of an append-only Merkle tree: one hash per perfect subtree in the
 * binary decomposition of the size. Appending is O(1) amortised and yields exactly the
 * perfect-subtree nodes the new leaf completes, which is what the store persists.
 */
export class CompactRange {
  private readonly levels: number[] = [];
  private readonly hashes: Buffer[] = [];
  private count = 0;

  static fromPerfectSubtrees(size: number, hashes: Buffer[]): CompactRange {
    const range = new CompactRange();
    const levels = perfectSubtreeLevels(size);
    if (levels.length !== hashes.length) throw new RangeError("subtree count does not match size");
    levels.forEach((level, i) => {
      range.levels.push(level);
      range.hashes.push(hashes[i] as Buffer);
    });
    range.count = size;
    return range;
  }

  get size(): number {
    return this.count;
  }

  /** Appends a leaf hash; returns every node completed by it, the leaf itself first. */
  append(leaf: Buffer): CompletedNode[] {
    const completed: CompletedNode[] = [{ level: 0, index: this.count, hash: leaf }];
    let level = 0;
    let hash = leaf;
    let index = this.count;
    while (this.levels.length > 0 && this.levels[this.levels.length - 1] === level) {
      this.levels.pop();
      const left = this.hashes.pop() as Buffer;
      hash = nodeHash(left, hash);
      level += 1;
      index = Math.floor(index / 2);
      completed.push({ level, index, hash });
    }
    this.levels.push(level);
    this.hashes.push(hash);
    this.count += 1;
    return completed;
  }

  root(): Buffer {
    if (this.hashes.length === 0) return EMPTY_ROOT;
    let acc = this.hashes[this.hashes.length - 1] as Buffer;
    for (let i = this.hashes.length - 2; i >= 0; i--) acc = nodeHash(this.hashes[i] as Buffer, acc);
    return acc;
  }

  /** The perfect subtrees' hashes, left to right (what `fromPerfectSubtrees` takes back). */
  subtreeHashes(): Buffer[] {
    return [...this.hashes];
  }

  clone(): CompactRange {
    const copy = new CompactRange();
    copy.levels.push(...this.levels);
    copy.hashes.push(...this.hashes);
    copy.count = this.count;
    return copy;
  }
}

/** Levels of the perfect subtrees that make up a tree of `size` leaves, left to right. */
export function perfectSubtreeLevels(size: number): number[] {
  const levels: number[] = [];
  let rest = size;
  let level = 0;
  while (2 ** (level + 1) <= rest) level += 1;
  for (; rest > 0; level--) {
    if (2 ** level <= rest) {
      levels.push(level);
      rest -= 2 ** level;
    }
  }
  return levels;
}

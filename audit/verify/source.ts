/** What verification reads; implemented for the live database and for an export directory. */
export interface SourceEntry {
  /** Position in storage order (0-based), which is what seq must equal. */
  position: number;
  bytes: Buffer;
  /** Only a live database has these; an export carries entry bytes alone. */
  nodes?: Buffer;
}

/**
 * Storage that worker threads can read a range of entries from by themselves, given
 * only when its rows are exactly positions 0..size-1 (so position and seq coincide).
 */
export interface ChunkSource {
  kind: "sqlite";
  path: string;
  size: number;
}

export interface LogSource {
  readonly origin: string;
  /** The verifier key text the source carries (not trusted unless the caller pins it). */
  readonly vkey: string;
  /** Entries in storage order, a page at a time so the walk stays synchronous per entry. */
  pages(): AsyncIterable<SourceEntry[]>;
  blob(sha256: string): Promise<Buffer | undefined>;
  /** Signed checkpoint notes stored with the log, in any order. */
  checkpoints(): Promise<string[]>;
  /** Offered by sources whose entries workers can read directly; absent or undefined means walk in order. */
  chunkSource?(): Promise<ChunkSource | undefined>;
}

export async function* entriesOf(source: LogSource): AsyncGenerator<SourceEntry> {
  for await (const page of source.pages()) yield* page;
}

/** What verification reads; implemented for the live database and for an export directory. */
export interface SourceEntry {
  /** Position in storage order (0-based), which is what seq must equal. */
  position: number;
  bytes: Buffer;
  /** Only a live database has these; an export carries entry bytes alone. */
  nodes?: Buffer;
  chain?: Buffer;
}

export interface LogSource {
  readonly origin: string;
  /** The verifier key text the source carries (not trusted unless the caller pins it). */
  readonly vkey: string;
  entries(): AsyncIterable<SourceEntry>;
  blob(sha256: string): Promise<Buffer | undefined>;
  /** Signed checkpoint notes stored with the log, in any order. */
  checkpoints(): Promise<string[]>;
}

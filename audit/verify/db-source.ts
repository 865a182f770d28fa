import type { LogStore } from "../store/log-store.js";
import type { ChunkSource, LogSource, SourceEntry } from "./source.js";

/** Reads a live (or copied) audit database for verification and export. */
export class DatabaseSource implements LogSource {
  constructor(
    private readonly store: LogStore,
    readonly origin: string,
    readonly vkey: string,
  ) {}

  async *pages(): AsyncGenerator<SourceEntry[]> {
    let position = 0;
    for await (const rows of this.store.scan()) {
      yield rows.map((row) => ({ position: position++, bytes: row.bytes, nodes: row.nodes }));
    }
  }

  async blob(sha256: string): Promise<Buffer | undefined> {
    return (await this.store.blob(sha256))?.content;
  }

  async checkpoints(): Promise<string[]> {
    return (await this.store.checkpoints()).map((row) => row.note);
  }

  async chunkSource(): Promise<ChunkSource | undefined> {
    const { count, min, max } = await this.store.seqBounds();
    const exact = count > 0 && min === 0 && max === count - 1;
    return exact ? { kind: "sqlite", path: this.store.path, size: count } : undefined;
  }

  async blobType(sha256: string): Promise<string | undefined> {
    return (await this.store.blob(sha256))?.type;
  }
}

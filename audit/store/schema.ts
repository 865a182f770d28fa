// Every stored column costs on the append path (the binding marshals each parameter),
// so a row holds only what proofs need: the entry bytes and the tree nodes its leaf
// completes. The chain hash follows from the last entry's own `prev`; session and kind
// are read out of the bytes when queried, never stored twice.
function jsonField(name: string): string {
  return `CASE WHEN json_valid(CAST(bytes AS TEXT)) THEN json_extract(CAST(bytes AS TEXT), '$.${name}') END`;
}

/**
 * The audit tables. Triggers make entries, checkpoints and metadata append-only for
 * every writer that goes through SQLite; an attacker who edits the file directly can
 * drop them, which is why verification never trusts the database, only the hashes.
 */
export const AUDIT_SCHEMA = `
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS entries (
  seq INTEGER PRIMARY KEY,
  bytes BLOB NOT NULL,
  nodes BLOB NOT NULL,
  session TEXT GENERATED ALWAYS AS (${jsonField("session")}) VIRTUAL,
  kind TEXT GENERATED ALWAYS AS (${jsonField("kind")}) VIRTUAL
) STRICT;
CREATE TABLE IF NOT EXISTS blobs (
  sha256 TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  size INTEGER NOT NULL,
  content BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS checkpoints (
  size INTEGER PRIMARY KEY,
  note TEXT NOT NULL,
  created_at TEXT NOT NULL
) STRICT;
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
  BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
  BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS meta_no_update BEFORE UPDATE ON meta
  BEGIN SELECT RAISE(ABORT, 'log metadata is immutable'); END;
CREATE TRIGGER IF NOT EXISTS meta_no_delete BEFORE DELETE ON meta
  BEGIN SELECT RAISE(ABORT, 'log metadata is immutable'); END;
CREATE TRIGGER IF NOT EXISTS blobs_no_update BEFORE UPDATE ON blobs
  BEGIN SELECT RAISE(ABORT, 'blob content is immutable; redact instead'); END;
`;

/** Rows per INSERT statement; 3 columns × 500 stays far under SQLite's variable limit. */
export const ROWS_PER_STATEMENT = 500;

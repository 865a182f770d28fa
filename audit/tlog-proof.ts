import { type Checkpoint, parseCheckpoint } from "./checkpoint.js";
import { type AuditEntry, decodeEntry } from "./entry.js";
import { AuditError } from "./errors.js";
import { HASH_SIZE, leafHash } from "./merkle/hash.js";
import { ProofError, verifyInclusion } from "./merkle/verify.js";
import type { NoteVerifierKey } from "./note/keys.js";
import { openNote } from "./note/signed-note.js";

const HEADER = "c2sp.org/tlog-proof@v1";

/**
 * C2SP tlog-proof: header, optional `extra`, `index N`, the inclusion path one base64
 * hash per line, a blank line, then the signed checkpoint verbatim. We put the entry's
 * bytes in `extra`, so the proof file alone shows what was logged.
 */
export function formatTlogProof(p: { index: number; proof: Buffer[]; note: string; entryBytes: Buffer }): string {
  const lines = [HEADER, `extra ${p.entryBytes.toString("base64")}`, `index ${p.index}`];
  for (const h of p.proof) lines.push(h.toString("base64"));
  return `${lines.join("\n")}\n\n${p.note}`;
}

export interface CheckedTlogProof {
  index: number;
  entry: AuditEntry;
  checkpoint: Checkpoint;
}

function bad(message: string): never {
  throw new AuditError("AUDIT_BAD_PROOF", message);
}

export function verifyTlogProof(text: string, key: NoteVerifierKey): CheckedTlogProof {
  const split = text.indexOf("\n\n");
  if (split < 0) bad("proof has no checkpoint");
  const head = text.slice(0, split).split("\n");
  const note = text.slice(split + 2);
  if (head.shift() !== HEADER) bad(`proof does not start with ${HEADER}`);
  let extra: Buffer | undefined;
  if (head[0]?.startsWith("extra ")) extra = Buffer.from((head.shift() as string).slice(6), "base64");
  const indexLine = head.shift();
  if (!indexLine || !/^index (0|[1-9][0-9]*)$/.test(indexLine)) bad("proof has no valid index line");
  const index = Number(indexLine.slice(6));
  const proof = head.map((line) => {
    const h = Buffer.from(line, "base64");
    if (h.length !== HASH_SIZE || h.toString("base64") !== line) bad("proof hash is not base64 SHA-256");
    return h;
  });
  if (!extra) bad("proof carries no entry (extra line)");
  let checkpoint: Checkpoint;
  try {
    checkpoint = parseCheckpoint(openNote(note, [key]).text);
  } catch (err) {
    bad(`checkpoint: ${(err as Error).message}`);
  }
  if (checkpoint.origin !== key.name) bad(`checkpoint is for log "${checkpoint.origin}", not "${key.name}"`);
  try {
    verifyInclusion(index, checkpoint.size, leafHash(extra), proof, checkpoint.root);
  } catch (err) {
    if (err instanceof ProofError) bad(`inclusion: ${err.message}`);
    throw err;
  }
  const entry = decodeEntry(extra);
  if (entry.seq !== index) bad(`entry says seq ${entry.seq}, proof says index ${index}`);
  return { index, entry, checkpoint };
}

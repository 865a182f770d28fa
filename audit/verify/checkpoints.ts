import { type Checkpoint, parseCheckpoint } from "../checkpoint.js";
import type { NoteVerifierKey } from "../note/keys.js";
import { openNote } from "../note/signed-note.js";

export type CheckedCheckpoint = { ok: true; checkpoint: Checkpoint } | { ok: false; size: number; message: string };

/** Verifies a signed checkpoint note: signature by the pinned key, this log's origin, well-formed body. */
export function checkCheckpoint(note: string, origin: string, key: NoteVerifierKey): CheckedCheckpoint {
  let size = 0;
  try {
    const sizeLine = note.split("\n")[1];
    if (sizeLine && /^[0-9]+$/.test(sizeLine)) size = Number(sizeLine);
    const { text } = openNote(note, [key]);
    const checkpoint = parseCheckpoint(text);
    if (checkpoint.origin !== origin) {
      return { ok: false, size, message: `checkpoint is for log "${checkpoint.origin}", not "${origin}"` };
    }
    return { ok: true, checkpoint };
  } catch (err) {
    return { ok: false, size, message: `checkpoint at size ${size}: ${(err as Error).message}` };
  }
}

import { sign, verify } from "node:crypto";
import { AuditError } from "../errors.js";
import type { NoteSignerKey, NoteVerifierKey } from "./keys.js";

const SIG_PREFIX = "\u2014 ";
const MAX_SIGNATURES = 100;

export interface VerifiedNote {
  text: string;
  /** Names of the keys whose signatures verified. */
  verifiedBy: string[];
}

function assertNoteText(text: string): void {
  if (!text.endsWith("\n")) throw new AuditError("AUDIT_BAD_NOTE", "note text must end with a newline");
  if (text.includes("\n\n")) throw new AuditError("AUDIT_BAD_NOTE", "note text must not contain a blank line");
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(text)) throw new AuditError("AUDIT_BAD_NOTE", "note text has control characters");
}

/** C2SP signed-note: text, a blank line, then `— name base64(keyID ‖ signature)` lines. */
export function signNote(text: string, signer: NoteSignerKey): string {
  assertNoteText(text);
  const signature = sign(null, Buffer.from(text, "utf8"), signer.privateKey);
  const blob = Buffer.concat([signer.keyId, signature]).toString("base64");
  return `${text}\n${SIG_PREFIX}${signer.name} ${blob}\n`;
}

/**
 * Opens a note and checks it carries a valid signature from at least one of `verifiers`.
 * Signatures by unknown keys are ignored, as the spec requires; a signature that claims a
 * known key but does not verify is an error, since it means forgery or corruption.
 */
export function openNote(note: string, verifiers: NoteVerifierKey[]): VerifiedNote {
  if (!note.endsWith("\n")) throw new AuditError("AUDIT_BAD_NOTE", "note must end with a newline");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new AuditError("AUDIT_BAD_NOTE", "note has no signature block");
  const text = note.slice(0, split + 1);
  assertNoteText(text);
  const lines = note.slice(split + 2, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw new AuditError("AUDIT_BAD_NOTE", "note has too many signatures");
  const verifiedBy: string[] = [];
  for (const line of lines) {
    if (!line.startsWith(SIG_PREFIX)) throw new AuditError("AUDIT_BAD_NOTE", "malformed signature line");
    const [name, b64, ...rest] = line.slice(SIG_PREFIX.length).split(" ");
    if (!name || !b64 || rest.length > 0) throw new AuditError("AUDIT_BAD_NOTE", "malformed signature line");
    const blob = Buffer.from(b64, "base64");
    if (blob.length < 5 || blob.toString("base64") !== b64) throw new AuditError("AUDIT_BAD_NOTE", "malformed signature");
    const keyId = blob.subarray(0, 4);
    const key = verifiers.find((v) => v.name === name && v.keyId.equals(keyId));
    if (!key) continue;
    if (!verify(null, Buffer.from(text, "utf8"), key.publicKey, blob.subarray(4))) {
      throw new AuditError("AUDIT_BAD_NOTE", `signature by ${name} does not verify`);
    }
    verifiedBy.push(name);
  }
  if (verifiedBy.length === 0) throw new AuditError("AUDIT_BAD_NOTE", "no signature by a trusted key");
  return { text, verifiedBy };
}

/** Splits a file of concatenated notes (as the external checkpoint file holds them). */
export function splitNotes(file: string): string[] {
  const notes: string[] = [];
  let current: string[] = [];
  let inSignatures = false;
  for (const line of file.split("\n")) {
    if (inSignatures && !line.startsWith(SIG_PREFIX)) {
      notes.push(`${current.join("\n")}\n`);
      current = [];
      inSignatures = false;
    }
    if (line === "" && current.length > 0 && !inSignatures) {
      inSignatures = true;
      current.push(line);
      continue;
    }
    if (line === "" && current.length === 0) continue;
    current.push(line);
  }
  if (current.length > 0) throw new AuditError("AUDIT_BAD_NOTE", "checkpoint file ends in the middle of a note");
  return notes;
}

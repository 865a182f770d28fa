import { open, readFile } from "node:fs/promises";
import { splitNotes } from "../note/signed-note.js";

/** Appends a signed checkpoint to a file another party can hold, synced before returning. */
export async function appendCheckpointFile(path: string, note: string): Promise<void> {
  const handle = await open(path, "a", 0o644);
  try {
    await handle.appendFile(note, "utf8");
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

export async function readCheckpointFile(path: string): Promise<string[]> {
  return splitNotes(await readFile(path, "utf8"));
}

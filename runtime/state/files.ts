import { chmod, mkdir, open, readFile } from "node:fs/promises";
import { dirname } from "node:path";

/** Writes a file readable by its owner only, creating parent directories 0700. */
export async function writePrivateFile(path: string, content: string, options: { exclusive?: boolean } = {}): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const handle = await open(path, options.exclusive ? "wx" : "w", 0o600);
  try {
    await handle.writeFile(content, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  // The mode passed to open() is filtered by umask and ignored for existing files.
  await chmod(path, 0o600);
}

export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

import { lstat, mkdir, open, readdir, rm } from "node:fs/promises";
import { constants } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { safeWorkspacePath } from "../../sandbox/index.js";
import { SkillgateError } from "../errors.js";

const MAX_FILE_BYTES = 8 * 1024 * 1024;

/** A session's workspace directory: named by a hash, so a session key can never steer the path. */
export function workspaceDir(workspacesRoot: string, session: string): string {
  return join(workspacesRoot, createHash("sha256").update(session).digest("hex").slice(0, 32));
}

function refused(message: string): SkillgateError {
  return new SkillgateError("FS_REFUSED", message);
}

/**
 * Resolves a workspace-relative path, refusing `..`, absolute paths and any symlink on
 * the way: a link planted in the workspace must not lead a later call outside it.
 * Skills cannot create links or rename directories, so the remaining race (another
 * local process swapping a parent directory between this check and the open) needs
 * someone already on the host; O_NOFOLLOW covers the last component.
 */
async function resolveInside(root: string, path: string, options: { create?: boolean } = {}): Promise<string> {
  if (!safeWorkspacePath(path)) throw refused(`${JSON.stringify(path)} is not a relative path inside the workspace`);
  await mkdir(root, { recursive: true, mode: 0o700 });
  const parts = path.replace(/\/$/, "").split("/");
  let current = root;
  for (const [i, part] of parts.entries()) {
    current = join(current, part);
    let info;
    try {
      info = await lstat(current);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Never the raw error: its message names the host's absolute workspace path.
      if (code !== "ENOENT") throw refused(`${JSON.stringify(path)} cannot be used (${code ?? "error"})`);
      if (options.create && i < parts.length - 1) {
        await mkdir(current, { mode: 0o700 });
        continue;
      }
      return current;
    }
    if (info.isSymbolicLink()) throw refused(`${JSON.stringify(path)} goes through a symbolic link`);
    if (i < parts.length - 1 && !info.isDirectory()) throw refused(`${JSON.stringify(parts.slice(0, i + 1).join("/"))} is not a directory`);
  }
  return current;
}

export async function readText(root: string, path: string): Promise<string> {
  const target = await resolveInside(root, path);
  // O_NOFOLLOW closes the gap between the check above and the open.
  const handle = await open(target, constants.O_RDONLY | constants.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
    throw refused(err.code === "ENOENT" ? `${path} does not exist` : `${path} cannot be read (${err.code})`);
  });
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw refused(`${path} is not a file`);
    if (info.size > MAX_FILE_BYTES) throw refused(`${path} is larger than ${MAX_FILE_BYTES} bytes`);
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}

export async function writeText(root: string, path: string, text: string): Promise<null> {
  if (Buffer.byteLength(text) > MAX_FILE_BYTES) throw refused(`writing more than ${MAX_FILE_BYTES} bytes`);
  const target = await resolveInside(root, path, { create: true });
  const handle = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600).catch(
    (err: NodeJS.ErrnoException) => {
      throw refused(`${path} cannot be written (${err.code})`);
    },
  );
  try {
    await handle.writeFile(text, "utf8");
  } finally {
    await handle.close();
  }
  return null;
}

export async function listDir(root: string, path: string): Promise<string[]> {
  const target = await resolveInside(root, path);
  try {
    const entries = await readdir(target, { withFileTypes: true });
    return entries.filter((e) => e.isFile() || e.isDirectory()).map((e) => (e.isDirectory() ? `${e.name}/` : e.name)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw refused(`${path} cannot be listed (${(err as NodeJS.ErrnoException).code})`);
  }
}

export async function removeFile(root: string, path: string): Promise<null> {
  const target = await resolveInside(root, path);
  const info = await lstat(target).catch(() => undefined);
  if (!info) return null;
  if (!info.isFile()) throw refused(`${path} is not a file`);
  await rm(target);
  return null;
}

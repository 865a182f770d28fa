import { rm } from "node:fs/promises";
import { RegistryError } from "../errors.js";
import { type LockedSkill, readLockfile, writeLockfile } from "./lockfile.js";
import { bundlePath, skillDir } from "./store.js";

/** Drops a skill from the lockfile, then its files (unless another entry shares the digest). */
export async function removeSkill(name: string, storeDir: string, lockfilePath: string): Promise<LockedSkill> {
  const lock = await readLockfile(lockfilePath);
  const skill = lock.skills[name];
  if (!skill) throw new RegistryError("SKILL_NOT_INSTALLED", `${name} is not installed`);
  delete lock.skills[name];
  await writeLockfile(lockfilePath, lock);
  if (!Object.values(lock.skills).some((s) => s.sha256 === skill.sha256)) {
    await rm(skillDir(storeDir, skill.sha256), { recursive: true, force: true });
    await rm(bundlePath(storeDir, skill.sha256), { force: true });
  }
  return skill;
}

import { packSkill, readPackage } from "../../skills-registry/index.js";

/** A skill directory read through the same rules as packing (so --dev runs what would be packed). */
export async function readSkillDir(dir: string): Promise<{ files: Awaited<ReturnType<typeof readPackage>>; sha256: string }> {
  const packed = await packSkill(dir);
  return { files: await readPackage(packed.tarball), sha256: packed.sha256 };
}

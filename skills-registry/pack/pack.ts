import { createHash } from "node:crypto";
import { RegistryError } from "../errors.js";
import { parseManifest } from "../manifest/parse.js";
import type { Manifest } from "../manifest/schema.js";
import { checkSkillMdAgrees, parseSkillMd } from "../manifest/skill-md.js";
import { collectSkillFiles, type PackFile } from "./collect.js";
import { MANIFEST_FILE, PACKAGE_LIMITS, type PackageLimits, SKILL_DOC_FILE } from "./limits.js";
import { buildTarball } from "./tarball.js";

export interface PackedSkill {
  manifest: Manifest;
  /** `acme-weather-1.2.0.tgz` for `@acme/weather@1.2.0`, as npm names them. */
  fileName: string;
  tarball: Buffer;
  sha256: string;
  files: string[];
}

/** A package is named by the sha256 of its tarball bytes: signatures, the store and revocations all use it. */
export function packageDigest(tarball: Uint8Array): string {
  return createHash("sha256").update(tarball).digest("hex");
}

export function tarballName(name: string, version: string): string {
  return `${name.slice(1).replace("/", "-")}-${version}.tgz`;
}

/** Checks the package as a whole: a valid manifest, its entry present, SKILL.md in agreement. */
export function checkPackageContents(files: PackFile[]): Manifest {
  const byPath = new Map(files.map((f) => [f.path, f.content]));
  const manifestBytes = byPath.get(MANIFEST_FILE);
  if (!manifestBytes) throw new RegistryError("SKILL_BAD_MANIFEST", `no ${MANIFEST_FILE} at the package root`);
  const manifest = parseManifest(manifestBytes.toString("utf8"));
  if (!byPath.has(manifest.entry)) throw new RegistryError("SKILL_BAD_MANIFEST", `entry ${manifest.entry} is not in the package`);
  const doc = byPath.get(SKILL_DOC_FILE);
  if (doc) checkSkillMdAgrees(parseSkillMd(doc.toString("utf8")), manifest);
  return manifest;
}

/** Packs a skill directory: same tree in, same bytes out. */
export async function packSkill(dir: string, limits: PackageLimits = PACKAGE_LIMITS): Promise<PackedSkill> {
  const files = await collectSkillFiles(dir, limits);
  const manifest = checkPackageContents(files);
  const tarball = buildTarball(files);
  return {
    manifest,
    fileName: tarballName(manifest.name, manifest.version),
    tarball,
    sha256: packageDigest(tarball),
    files: files.map((f) => f.path),
  };
}

import { copyFile, mkdir, rename, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { randomBytes } from "node:crypto";
import semver from "semver";
import { z } from "zod";
import { RegistryError } from "../errors.js";
import { parseWith } from "../manifest/parse.js";
import { checkPackageContents, packageDigest, tarballName } from "../pack/pack.js";
import { readPackage } from "../install/read-package.js";
import { joinLocation, readLocation, readPackageAndBundle } from "./fetch-source.js";
import { parseBundle } from "../verify/signature.js";

export const INDEX_FILE = "index.json";

const VersionEntry = z
  .object({
    tarball: z.string().regex(/^[a-z0-9][a-z0-9._-]*\.tgz$/),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    publishedAt: z.string(),
  })
  .strict();

export const RegistryIndexSchema = z
  .object({
    registryVersion: z.literal(1),
    skills: z.record(z.string(), z.object({ versions: z.record(z.string(), VersionEntry) }).strict()),
  })
  .strict();
export type RegistryIndex = z.infer<typeof RegistryIndexSchema>;

async function readIndex(location: string): Promise<RegistryIndex> {
  const bytes = await readLocation(joinLocation(location, INDEX_FILE), 8 * 1024 * 1024);
  if (!bytes) return { registryVersion: 1, skills: {} };
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new RegistryError("SKILL_BAD_REGISTRY", `${INDEX_FILE} is not JSON`);
  }
  return parseWith(RegistryIndexSchema, value, "SKILL_BAD_REGISTRY", INDEX_FILE);
}

/**
 * Adds a signed package to a static registry directory: the tarball, its bundle and an
 * index entry. Publishing does not judge trust (installers do), but it refuses an
 * unsigned package, a malformed one, or a version that is already published.
 */
export async function publishToRegistry(pkgPath: string, registryDir: string, clock: () => Date = () => new Date()): Promise<{ name: string; version: string; sha256: string }> {
  const { tarball, bundleJson } = await readPackageAndBundle(pkgPath);
  if (bundleJson === undefined) throw new RegistryError("SKILL_UNSIGNED", `${basename(pkgPath)} has no ${basename(pkgPath)}.sigstore.json; sign it first`);
  parseBundle(bundleJson);
  const manifest = checkPackageContents(await readPackage(tarball));
  const sha256 = packageDigest(tarball);
  await mkdir(registryDir, { recursive: true });
  const index = await readIndex(registryDir);
  const entry = (index.skills[manifest.name] ??= { versions: {} });
  const existing = entry.versions[manifest.version];
  if (existing && existing.sha256 !== sha256) {
    throw new RegistryError("SKILL_ALREADY_INSTALLED", `${manifest.name}@${manifest.version} is already published with other content`);
  }
  const fileName = tarballName(manifest.name, manifest.version);
  await copyFile(pkgPath, join(registryDir, fileName));
  await copyFile(`${pkgPath}.sigstore.json`, join(registryDir, `${fileName}.sigstore.json`));
  entry.versions[manifest.version] = { tarball: fileName, sha256, publishedAt: existing?.publishedAt ?? clock().toISOString() };
  const tmp = join(registryDir, `.${INDEX_FILE}.${randomBytes(6).toString("hex")}`);
  await writeFile(tmp, `${JSON.stringify(index, null, 2)}\n`);
  await rename(tmp, join(registryDir, INDEX_FILE));
  return { name: manifest.name, version: manifest.version, sha256 };
}

/** `@scope/name@1.2.3`, or `@scope/name` / `@scope/name@latest` for the highest version. */
export function parseSkillRef(ref: string): { name: string; version?: string } {
  const at = ref.lastIndexOf("@");
  if (at <= 0) return { name: ref };
  const version = ref.slice(at + 1);
  return { name: ref.slice(0, at), version: version === "latest" ? undefined : version };
}

export async function resolveFromRegistry(
  registry: string,
  ref: string,
): Promise<{ tarball: Buffer; bundleJson: unknown; source: string }> {
  const { name, version } = parseSkillRef(ref);
  const index = await readIndex(registry);
  const versions = index.skills[name]?.versions ?? {};
  const chosen = version ?? semver.rsort(Object.keys(versions).filter((v) => semver.valid(v)))[0];
  const entry = chosen ? versions[chosen] : undefined;
  if (!chosen || !entry) throw new RegistryError("SKILL_NOT_FOUND", `${ref} is not in the registry at ${registry}`);
  const location = joinLocation(registry, entry.tarball);
  const { tarball, bundleJson } = await readPackageAndBundle(location);
  // The index is untrusted: the signature check at install binds name, version and digest.
  return { tarball, bundleJson, source: `${name}@${chosen} from ${registry}` };
}

import type { AuditLog } from "../../audit/index.js";
import {
  installSkill,
  type InstallResult,
  type LockedSkill,
  publicGoodTrustedRoot,
  readPackageAndBundle,
  removeSkill,
  resolveFromRegistry,
  type TrustedRoot,
  trustedRootFromFile,
  type TrustPolicy,
  verifySkillPackage,
  type VerifiedPackage,
  readPackage,
  checkPackageContents,
  type Manifest,
} from "../../skills-registry/index.js";
import { inHome, type StatePaths } from "../state/state-dir.js";

export async function trustedRootFor(paths: StatePaths, policy: TrustPolicy): Promise<TrustedRoot> {
  return policy.trustedRootFile ? trustedRootFromFile(inHome(paths.home, policy.trustedRootFile)) : publicGoodTrustedRoot();
}

/** A package path or URL, or `@scope/name[@version]` looked up in a registry. */
export async function fetchPackage(
  target: string,
  registry: string | undefined,
): Promise<{ tarball: Buffer; bundleJson: unknown; source: string }> {
  if (registry !== undefined && target.startsWith("@")) return resolveFromRegistry(registry, target);
  const { tarball, bundleJson } = await readPackageAndBundle(target);
  return { tarball, bundleJson, source: target };
}

/** Verifies a package against the policy and reads its manifest (nothing is stored). */
export async function inspectPackage(
  tarball: Buffer,
  bundleJson: unknown,
  policy: TrustPolicy,
  root: TrustedRoot,
): Promise<VerifiedPackage & { manifest: Manifest }> {
  const verified = verifySkillPackage(tarball, bundleJson, policy, root);
  const manifest = checkPackageContents(await readPackage(tarball));
  return { ...verified, manifest };
}

/** Installs and leaves evidence: every install and every refusal is a `system` audit entry. */
export async function installAudited(
  paths: StatePaths,
  policy: TrustPolicy,
  log: AuditLog,
  request: { tarball: Buffer; bundleJson: unknown; source: string; approveCapabilities?: boolean; allowDowngrade?: boolean; actor: string },
): Promise<InstallResult> {
  try {
    const result = await installSkill({
      ...request,
      policy,
      trustedRoot: await trustedRootFor(paths, policy),
      storeDir: paths.skillsDir,
      lockfilePath: paths.lockfile,
    });
    if (!result.unchanged) {
      await log.append({
        actor: request.actor,
        kind: "system",
        type: "skill.installed",
        data: {
          name: result.name,
          version: result.version,
          sha256: result.sha256,
          signer: result.signer,
          source: request.source,
          replaced: result.replaced ? { version: result.replaced.version, sha256: result.replaced.sha256 } : null,
          capabilityChanges: result.replaced?.changes.map((c) => c.text) ?? [],
        },
      });
    }
    return result;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    await log.append({
      actor: request.actor,
      kind: "system",
      type: "skill.install_refused",
      data: { source: request.source, code: typeof code === "string" ? code : "INTERNAL", reason: (err as Error).message.split("\n")[0] ?? "" },
    });
    throw err;
  }
}

export async function removeAudited(paths: StatePaths, log: AuditLog, name: string, actor: string): Promise<LockedSkill> {
  const removed = await removeSkill(name, paths.skillsDir, paths.lockfile);
  await log.append({ actor, kind: "system", type: "skill.removed", data: { name, version: removed.version, sha256: removed.sha256 } });
  return removed;
}

import semver from "semver";
import { RegistryError } from "../errors.js";
import type { Manifest } from "../manifest/schema.js";
import { checkPackageContents } from "../pack/pack.js";
import type { TrustPolicy } from "../trust/policy.js";
import { type VerifiedPackage, verifySkillPackage } from "../verify/verify-package.js";
import type { TrustedRoot } from "../verify/trusted-root.js";
import { type CapabilityChange, capabilityDiff } from "./capability-diff.js";
import { type LockedSkill, readLockfile, writeLockfile } from "./lockfile.js";
import { readPackage } from "./read-package.js";
import { contentDigest, storePackage } from "./store.js";

export interface InstallRequest {
  tarball: Buffer;
  bundleJson: unknown;
  /** Where it came from, for the lockfile: a path, URL or registry reference. */
  source: string;
  policy: TrustPolicy;
  trustedRoot: TrustedRoot;
  storeDir: string;
  lockfilePath: string;
  approveCapabilities?: boolean;
  allowDowngrade?: boolean;
  clock?: () => Date;
}

export interface InstallResult {
  name: string;
  version: string;
  sha256: string;
  signer: LockedSkill["signer"];
  manifest: Manifest;
  dir: string;
  /** The version it replaced, and what the new one may do that the old could not. */
  replaced?: { version: string; sha256: string; changes: CapabilityChange[] };
  unchanged: boolean;
}

/**
 * Verify, then read, then store: the signature and trust decision come first, the
 * archive is only opened once they hold, and nothing in it is ever executed.
 */
export async function installSkill(req: InstallRequest): Promise<InstallResult> {
  const verified: VerifiedPackage = verifySkillPackage(req.tarball, req.bundleJson, req.policy, req.trustedRoot);
  const { subject } = verified;
  const files = await readPackage(req.tarball);
  const manifest = checkPackageContents(files);
  if (manifest.name !== subject.name || manifest.version !== subject.version) {
    throw new RegistryError(
      "SKILL_SUBJECT_MISMATCH",
      `package holds ${manifest.name}@${manifest.version} but was signed as ${subject.name}@${subject.version}`,
    );
  }
  const lock = await readLockfile(req.lockfilePath);
  const previous = lock.skills[manifest.name];
  const base = { name: manifest.name, version: manifest.version, sha256: verified.sha256, signer: verified.signer, manifest };
  if (previous?.sha256 === verified.sha256 && !previous.disabled) {
    return { ...base, dir: "", unchanged: true };
  }
  let replaced: InstallResult["replaced"];
  if (previous) {
    if (semver.lt(manifest.version, previous.version) && !req.allowDowngrade) {
      throw new RegistryError("SKILL_DOWNGRADE", `${manifest.name} ${previous.version} is installed; ${manifest.version} is older (use --allow-downgrade)`);
    }
    const changes = capabilityDiff(previous.manifest, manifest);
    if (changes.length > 0 && !req.approveCapabilities) {
      throw new RegistryError(
        "SKILL_CAPABILITIES_CHANGED",
        `${manifest.name} ${manifest.version} asks for more than ${previous.version}: ${changes.map((c) => c.text).join("; ")} (review, then use --approve-capabilities)`,
      );
    }
    replaced = { version: previous.version, sha256: previous.sha256, changes };
  }
  const dir = await storePackage(req.storeDir, verified.sha256, files, JSON.stringify(req.bundleJson));
  lock.skills[manifest.name] = {
    version: manifest.version,
    sha256: verified.sha256,
    content: contentDigest(files),
    signer: verified.signer,
    manifest,
    installedAt: (req.clock?.() ?? new Date()).toISOString(),
    source: req.source,
  };
  await writeLockfile(req.lockfilePath, lock);
  return { ...base, dir, replaced, unchanged: false };
}

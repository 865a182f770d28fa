/**
 * One set of limits for packing and installing, so that everything an author can pack,
 * an operator can install, and nothing larger gets past either.
 */
export const PACKAGE_LIMITS = {
  maxFiles: 1000,
  maxFileBytes: 8 * 1024 * 1024,
  maxTotalBytes: 32 * 1024 * 1024,
  /** Compressed tarball size accepted for install. */
  maxTarballBytes: 32 * 1024 * 1024,
  /**
   * Fits ustar's 100-byte name field with room to spare (tar writes a 100-byte root
   * name with a "." prefix); longer paths would need pax headers, which we never write.
   */
  maxPathBytes: 99,
} as const;

export type PackageLimits = { -readonly [K in keyof typeof PACKAGE_LIMITS]: number };

/** Files every package has at its root. */
export const MANIFEST_FILE = "skill.json";
export const SKILL_DOC_FILE = "SKILL.md";

/** npm lifecycle scripts: a package.json naming any of them is refused, even though we never run npm. */
export const LIFECYCLE_SCRIPTS = [
  "preinstall",
  "install",
  "postinstall",
  "prepublish",
  "preprepare",
  "prepare",
  "postprepare",
  "prepack",
  "postpack",
  "prepublishOnly",
  "publish",
  "postpublish",
  "preuninstall",
  "uninstall",
  "postuninstall",
  "dependencies",
] as const;

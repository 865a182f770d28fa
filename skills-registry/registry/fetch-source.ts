import { readFile } from "node:fs/promises";
import { RegistryError } from "../errors.js";
import { PACKAGE_LIMITS } from "../pack/limits.js";

const MAX_BUNDLE_BYTES = 1024 * 1024;

function isUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/** Reads a file or http(s) URL with a size cap; `undefined` when it does not exist. */
export async function readLocation(location: string, maxBytes: number): Promise<Buffer | undefined> {
  if (!isUrl(location)) {
    try {
      const bytes = await readFile(location);
      if (bytes.length > maxBytes) throw new RegistryError("SKILL_BAD_PACKAGE", `${location} is larger than ${maxBytes} bytes`);
      return bytes;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }
  let response: Response;
  try {
    response = await fetch(location, { redirect: "error", signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new RegistryError("SKILL_BAD_REGISTRY", `cannot fetch ${location}: ${(err as Error).message}`);
  }
  if (response.status === 404) return undefined;
  if (!response.ok || !response.body) throw new RegistryError("SKILL_BAD_REGISTRY", `${location}: HTTP ${response.status}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.length;
    if (size > maxBytes) throw new RegistryError("SKILL_BAD_PACKAGE", `${location} is larger than ${maxBytes} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

export function joinLocation(base: string, file: string): string {
  return isUrl(base) ? new URL(file, base.endsWith("/") ? base : `${base}/`).href : `${base.replace(/\/+$/, "")}/${file}`;
}

/** A package and its bundle, which sits beside it as `<pkg>.sigstore.json`. */
export async function readPackageAndBundle(location: string): Promise<{ tarball: Buffer; bundleJson: unknown }> {
  const tarball = await readLocation(location, PACKAGE_LIMITS.maxTarballBytes);
  if (!tarball) throw new RegistryError("SKILL_NOT_FOUND", `no package at ${location}`);
  const bundleBytes = await readLocation(`${location}.sigstore.json`, MAX_BUNDLE_BYTES);
  if (!bundleBytes) return { tarball, bundleJson: undefined };
  try {
    return { tarball, bundleJson: JSON.parse(bundleBytes.toString("utf8")) };
  } catch {
    throw new RegistryError("SKILL_BAD_BUNDLE", `${location}.sigstore.json is not JSON`);
  }
}

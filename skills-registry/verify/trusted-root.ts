import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { TrustedRoot } from "@sigstore/protobuf-specs";
import { RegistryError } from "../errors.js";

const PUBLIC_GOOD_TUF = "https://tuf-repo-cdn.sigstore.dev";

/**
 * The Sigstore public-good trusted root as shipped inside @sigstore/tuf (its TUF seed),
 * so verification is offline and pinned to the installed package version.
 */
export function publicGoodTrustedRoot(): TrustedRoot {
  const seeds = createRequire(import.meta.url)("@sigstore/tuf/seeds.json") as Record<string, { targets?: Record<string, string> }>;
  const encoded = seeds[PUBLIC_GOOD_TUF]?.targets?.["trusted_root.json"];
  if (!encoded) throw new RegistryError("SKILL_BAD_TRUST_POLICY", "the bundled Sigstore trusted root is missing");
  return TrustedRoot.fromJSON(JSON.parse(Buffer.from(encoded, "base64").toString("utf8")));
}

/** A trusted_root.json from a file (a private Sigstore deployment, or a newer root). */
export async function trustedRootFromFile(path: string): Promise<TrustedRoot> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, "utf8"));
  } catch {
    throw new RegistryError("SKILL_BAD_TRUST_POLICY", `cannot read trusted root ${path}`);
  }
  try {
    return TrustedRoot.fromJSON(value);
  } catch {
    throw new RegistryError("SKILL_BAD_TRUST_POLICY", `${path} is not a Sigstore trusted root`);
  }
}

export type { TrustedRoot };

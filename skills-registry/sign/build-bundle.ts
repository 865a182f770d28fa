import { bundleToJSON } from "@sigstore/bundle";
import type { Signer, Witness } from "@sigstore/sign";
import { RegistryError } from "../errors.js";
import { IN_TOTO_PAYLOAD_TYPE, type SkillSubject, skillStatement } from "./statement.js";

/** The bundle as it is written to `<pkg>.sigstore.json`. */
export type BundleJson = ReturnType<typeof bundleToJSON>;

/** A DSSE envelope over the skill's in-toto statement, signed and witnessed as given. */
export async function buildSkillBundle(subject: SkillSubject, signer: Signer, witnesses: Witness[]): Promise<BundleJson> {
  const payload = Buffer.from(JSON.stringify(skillStatement(subject)), "utf8");
  try {
    // Loaded on use: only signing needs it, and the gateway starts faster without it.
    const { DSSEBundleBuilder } = await import("@sigstore/sign");
    const bundle = await new DSSEBundleBuilder({ signer, witnesses }).create({ data: payload, type: IN_TOTO_PAYLOAD_TYPE });
    return bundleToJSON(bundle);
  } catch (err) {
    if (err instanceof RegistryError) throw err;
    throw new RegistryError("SKILL_SIGN_FAILED", `signing failed: ${(err as Error).message.split("\n")[0]}`, { cause: err });
  }
}

import type { IdentityProvider, Signer, Witness } from "@sigstore/sign";
import { type BundleJson, buildSkillBundle } from "./build-bundle.js";
import type { SkillSubject } from "./statement.js";

export const DEFAULT_TSA_URL = "https://timestamp.sigstore.dev";

export interface KeylessOptions {
  fulcioURL?: string;
  rekorURL?: string;
  tsaURL?: string;
  /** Defaults to the ambient CI identity (GitHub Actions, GitLab, …) as a release job has it. */
  identityProvider?: IdentityProvider;
  /** Replaces the Fulcio signer and Rekor/TSA witnesses (tests use an in-process CA). */
  signer?: Signer;
  witnesses?: Witness[];
}

/**
 * Keyless signing: an ephemeral key certified by Fulcio for the OIDC identity, the
 * signature timestamped by a TSA and logged in Rekor, so a verifier needs no key of ours.
 */
export async function signSkillKeyless(subject: SkillSubject, options: KeylessOptions = {}): Promise<BundleJson> {
  // Loaded on use: the gateway and the verifier never sign, and start faster without it.
  const { CIContextProvider, DEFAULT_FULCIO_URL, DEFAULT_REKOR_URL, FulcioSigner, RekorWitness, TSAWitness } = await import("@sigstore/sign");
  const signer =
    options.signer ??
    new FulcioSigner({
      fulcioBaseURL: options.fulcioURL ?? DEFAULT_FULCIO_URL,
      identityProvider: options.identityProvider ?? new CIContextProvider("sigstore"),
    });
  const witnesses = options.witnesses ?? [
    new RekorWitness({ rekorBaseURL: options.rekorURL ?? DEFAULT_REKOR_URL }),
    new TSAWitness({ tsaBaseURL: options.tsaURL ?? DEFAULT_TSA_URL }),
  ];
  return buildSkillBundle(subject, signer, witnesses);
}

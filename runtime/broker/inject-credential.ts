import type { Manifest } from "../../skills-registry/index.js";
import { scopeCovers } from "../../skills-registry/index.js";
import { hostMatches, pathMatches } from "../../sandbox/index.js";
import { SkillgateError } from "../errors.js";
import type { SecretBinding } from "../secrets/vault.js";

export interface CredentialTarget {
  skill: string;
  ref: string;
  url: URL;
  host: string;
  method: string;
  path: string;
}

/**
 * The (skill, ref, host, method, path) tuple must be allowed by the skill's manifest and by
 * the operator's binding of the ref; plain http only to a host the operator allowed.
 */
export function credentialAllowed(manifest: Manifest, binding: SecretBinding | undefined, t: CredentialTarget, allowedHosts: readonly string[]): string | undefined {
  const declared = manifest.capabilities.credentials.find((c) => c.ref === t.ref);
  if (!declared || !declared.hosts.some((h) => hostMatches(h, t.host))) return `the manifest does not declare cred:${t.ref} for ${t.host}`;
  if (!binding) return `no secret is stored as cred:${t.ref} (skillgate secret set ${t.ref} …)`;
  if (!binding.skills.some((s) => scopeCovers(s, t.skill))) return `cred:${t.ref} is not bound to ${t.skill}`;
  if (!binding.hosts.some((h) => hostMatches(h, t.host))) return `cred:${t.ref} is not bound to host ${t.host}`;
  if (binding.methods && !binding.methods.includes(t.method as never)) return `cred:${t.ref} is not bound to ${t.method}`;
  if (binding.paths && !binding.paths.some((p) => pathMatches(p, t.path))) return `cred:${t.ref} is not bound to path ${t.path}`;
  if (t.url.protocol !== "https:" && !allowedHosts.includes(t.host)) return `cred:${t.ref} travels only over https`;
  return undefined;
}

/** Puts the secret where the manifest says: a header (templated), basic auth, or a query parameter. */
export function injectCredential(manifest: Manifest, ref: string, value: string, url: URL, headers: Record<string, string>): URL {
  const declared = manifest.capabilities.credentials.find((c) => c.ref === ref);
  if (!declared) throw new SkillgateError("CREDENTIAL_UNAVAILABLE", `cred:${ref} is not declared`);
  const inject = declared.inject;
  if (inject.type === "header") {
    headers[inject.name.toLowerCase()] = inject.template.replace("{secret}", value);
    return url;
  }
  if (inject.type === "basic") {
    headers.authorization = `Basic ${Buffer.from(`${inject.username ?? ""}:${value}`).toString("base64")}`;
    return url;
  }
  const next = new URL(url.href);
  next.searchParams.set(inject.param, value);
  return next;
}

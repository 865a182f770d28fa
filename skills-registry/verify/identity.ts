import type { ObjectIdentifierValuePair } from "@sigstore/protobuf-specs";
import type { TrustIdentity } from "../trust/policy.js";

/** Fulcio certificate extensions (OID 1.3.6.1.4.1.57264.1.x) that a policy can pin. */
const FULCIO = "1.3.6.1.4.1.57264.1";
const SOURCE_REPOSITORY_URI = `${FULCIO}.12`;
const SOURCE_REPOSITORY_REF = `${FULCIO}.14`;

export interface CertIdentity {
  san: string;
  issuer: string;
  sourceRepository?: string;
  sourceRef?: string;
}

/** Fulcio's newer extensions hold a DER UTF8String; this reads its contents. */
function derUtf8(value: Buffer): string | undefined {
  if (value.length < 2 || value[0] !== 0x0c) return undefined;
  let length = value[1] as number;
  let offset = 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes < 1 || bytes > 3 || value.length < 2 + bytes) return undefined;
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + (value[2 + i] as number);
    offset = 2 + bytes;
  }
  if (offset + length !== value.length) return undefined;
  return value.subarray(offset).toString("utf8");
}

export function extensionValue(oids: ObjectIdentifierValuePair[] | undefined, oid: string): string | undefined {
  const found = oids?.find((o) => o.oid?.id.join(".") === oid);
  return found ? derUtf8(Buffer.from(found.value)) : undefined;
}

export function certIdentity(identity: { subjectAlternativeName?: string; extensions?: { issuer?: string }; oids?: ObjectIdentifierValuePair[] }): CertIdentity | undefined {
  const san = identity.subjectAlternativeName;
  const issuer = identity.extensions?.issuer;
  if (!san || !issuer) return undefined;
  return {
    san,
    issuer,
    sourceRepository: extensionValue(identity.oids, SOURCE_REPOSITORY_URI),
    sourceRef: extensionValue(identity.oids, SOURCE_REPOSITORY_REF),
  };
}

/**
 * Whole-string matching only. @sigstore/verify treats a SAN policy as an unanchored
 * regex, so `acme/skills` would accept `…/acme/skills-evil/…`; we never hand it the
 * policy and match here instead: exact strings, or a pattern anchored at both ends.
 */
export function identityMatches(rule: TrustIdentity, cert: CertIdentity): boolean {
  if (rule.issuer !== cert.issuer) return false;
  if (rule.san !== undefined && rule.san !== cert.san) return false;
  if (rule.sanPattern !== undefined && !fullMatch(rule.sanPattern, cert.san)) return false;
  if (rule.sourceRepository !== undefined && rule.sourceRepository !== cert.sourceRepository) return false;
  if (rule.sourceRef !== undefined && rule.sourceRef !== cert.sourceRef) return false;
  return true;
}

function fullMatch(pattern: string, value: string): boolean {
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${pattern})$`, "u");
  } catch {
    return false;
  }
  return re.test(value);
}

import { z } from "zod";
import { RegistryError } from "../errors.js";
import { SkillName, SkillVersion } from "../manifest/schema.js";

export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";
export const STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
export const SKILL_PREDICATE_TYPE = "https://skillgate.dev/attestation/skill/v1";

/** What a signature over a skill package says: this tarball is this skill at this version. */
export const SkillStatementSchema = z.object({
  _type: z.literal(STATEMENT_TYPE),
  subject: z
    .array(z.object({ name: z.string(), digest: z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/) }).loose() }).loose())
    .length(1),
  predicateType: z.literal(SKILL_PREDICATE_TYPE),
  predicate: z.object({ name: SkillName, version: SkillVersion }).loose(),
});
export type SkillStatement = z.infer<typeof SkillStatementSchema>;

export interface SkillSubject {
  name: string;
  version: string;
  sha256: string;
}

export function skillStatement(s: SkillSubject): SkillStatement {
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: `${s.name}@${s.version}`, digest: { sha256: s.sha256 } }],
    predicateType: SKILL_PREDICATE_TYPE,
    predicate: { name: s.name, version: s.version },
  };
}

/** Reads the signed statement back; only call this on a payload whose signature verified. */
export function parseSkillStatement(payload: Buffer): SkillSubject {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString("utf8"));
  } catch {
    throw new RegistryError("SKILL_BAD_BUNDLE", "signed payload is not JSON");
  }
  const parsed = SkillStatementSchema.safeParse(value);
  if (!parsed.success) throw new RegistryError("SKILL_BAD_BUNDLE", "signed payload is not a skillgate skill statement");
  const s = parsed.data;
  const subject = s.subject[0] as SkillStatement["subject"][number];
  if (subject.name !== `${s.predicate.name}@${s.predicate.version}`) {
    throw new RegistryError("SKILL_BAD_BUNDLE", "statement subject and predicate name different skills");
  }
  return { name: s.predicate.name, version: s.predicate.version, sha256: subject.digest.sha256 };
}

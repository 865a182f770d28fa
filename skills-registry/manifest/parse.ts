import type { z } from "zod";
import { RegistryError, type RegistryErrorCode } from "../errors.js";
import { type Manifest, ManifestSchema } from "./schema.js";

/** The first zod issue as one line: `capabilities.net.0.host: must be …`. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue?.path.map(String).join(".") ?? "";
  return `${path || "(root)"}: ${issue?.message ?? "invalid"}`;
}

export function parseWith<T>(schema: z.ZodType<T>, value: unknown, code: RegistryErrorCode, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new RegistryError(code, `${what}: ${firstIssue(parsed.error)}`);
  return parsed.data;
}

/** Parses skill.json text; every failure is SKILL_BAD_MANIFEST naming the field. */
export function parseManifest(text: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RegistryError("SKILL_BAD_MANIFEST", "skill.json is not valid JSON");
  }
  return parseWith(ManifestSchema, value, "SKILL_BAD_MANIFEST", "skill.json");
}

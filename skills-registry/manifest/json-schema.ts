import { z } from "zod";
import { ManifestSchema } from "./schema.js";

/** JSON Schema for skill.json, generated from the same zod definition the runtime enforces. */
export function manifestJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(ManifestSchema, { io: "input", unrepresentable: "any" }),
    $id: "https://skillgate.dev/schemas/skill.json",
    title: "skillgate skill manifest (skill.json)",
  };
}

import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { RegistryError } from "../errors.js";
import { parseWith } from "./parse.js";
import type { Manifest } from "./schema.js";

/** AgentSkills-style frontmatter; other keys (license, metadata, …) are allowed and kept. */
const FrontmatterSchema = z.looseObject({
  name: z.string().min(1).max(214),
  description: z.string().min(1).max(1024),
});

export interface SkillDoc {
  frontmatter: z.infer<typeof FrontmatterSchema>;
  /** Instructions for the model. */
  body: string;
}

const FRONTMATTER = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?([\s\S]*)$/;

export function parseSkillMd(text: string): SkillDoc {
  const match = FRONTMATTER.exec(text);
  if (!match) throw new RegistryError("SKILL_BAD_SKILL_MD", "SKILL.md must start with YAML frontmatter between --- lines");
  let value: unknown;
  try {
    // Plain YAML only: no custom tags, and aliases are capped against billion-laughs input.
    value = parseYaml(match[1] ?? "", { schema: "core", maxAliasCount: 16 });
  } catch (err) {
    throw new RegistryError("SKILL_BAD_SKILL_MD", `SKILL.md frontmatter is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const frontmatter = parseWith(FrontmatterSchema, value, "SKILL_BAD_SKILL_MD", "SKILL.md frontmatter");
  return { frontmatter, body: match[2] ?? "" };
}

/** The frontmatter must describe the same skill: its name (scoped or bare) and description. */
export function checkSkillMdAgrees(doc: SkillDoc, manifest: Manifest): void {
  const bare = manifest.name.slice(manifest.name.indexOf("/") + 1);
  if (doc.frontmatter.name !== manifest.name && doc.frontmatter.name !== bare) {
    throw new RegistryError("SKILL_BAD_SKILL_MD", `SKILL.md names '${doc.frontmatter.name}' but skill.json names '${manifest.name}'`);
  }
  if (doc.frontmatter.description.trim() !== manifest.description.trim()) {
    throw new RegistryError("SKILL_BAD_SKILL_MD", "SKILL.md description differs from skill.json description");
  }
}

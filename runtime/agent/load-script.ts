import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { SkillgateError } from "../errors.js";
import { ScriptSchema, type Script } from "./script.js";

/** Reads a scripted model's script (YAML or JSON) and validates it. */
export async function loadScript(path: string): Promise<Script> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new SkillgateError("SCRIPT_INVALID", `cannot read script ${path}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 16 });
  } catch (err) {
    throw new SkillgateError("SCRIPT_INVALID", `script ${path}: ${(err as Error).message.split("\n")[0]}`);
  }
  const parsed = ScriptSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SkillgateError("SCRIPT_INVALID", `script ${path}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return parsed.data;
}

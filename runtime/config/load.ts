import { SkillgateError } from "../errors.js";
import { readTextIfExists, writePrivateFile } from "../state/files.js";
import { type Config, ConfigSchema } from "./schema.js";

export async function loadConfig(path: string): Promise<Config> {
  const text = await readTextIfExists(path);
  if (text === undefined) {
    throw new SkillgateError("NOT_INITIALIZED", `no config at ${path}; run 'skillgate init' first`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new SkillgateError("CONFIG_INVALID", `${path} is not valid JSON`);
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") : "(root)";
    throw new SkillgateError("CONFIG_INVALID", `${path}: ${where}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}

export function defaultConfig(): Config {
  return ConfigSchema.parse({ version: 1 });
}

export async function saveConfig(path: string, config: Config): Promise<void> {
  await writePrivateFile(path, `${JSON.stringify(config, null, 2)}\n`);
}

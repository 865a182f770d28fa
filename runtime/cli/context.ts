import type { Command } from "commander";
import { z } from "zod";
import { loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { SkillgateError } from "../errors.js";
import { resolveHome, type StatePaths, statePaths } from "../state/state-dir.js";

const GlobalOptionsSchema = z.object({ home: z.string().min(1).optional(), json: z.boolean().optional() });

export interface CliContext {
  json: boolean;
  paths: StatePaths;
  config(): Promise<Config>;
  /** Prints a result: the human lines, or the JSON value with --json. */
  print(human: string | string[], json: unknown): void;
  /** Prints to stderr in human mode only (progress, warnings). */
  note(line: string): void;
}

export function contextOf(command: Command): CliContext {
  const parsed = GlobalOptionsSchema.safeParse(command.optsWithGlobals());
  if (!parsed.success) throw new SkillgateError("USAGE", "invalid global options");
  const json = parsed.data.json ?? false;
  const paths = statePaths(resolveHome(parsed.data.home));
  return {
    json,
    paths,
    config: () => loadConfig(paths.config),
    print(human, value) {
      if (json) process.stdout.write(`${JSON.stringify(value)}\n`);
      else process.stdout.write(`${Array.isArray(human) ? human.join("\n") : human}\n`);
    },
    note(line) {
      if (!json) process.stderr.write(`${line}\n`);
    },
  };
}

/** Validates one CLI argument with zod; failures are USAGE errors naming the argument. */
export function parseArg<T>(schema: z.ZodType<T>, value: unknown, name: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new SkillgateError("USAGE", `${name}: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  return parsed.data;
}

export const NonNegativeIntArg = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,14})$/, "must be a non-negative integer")
  .transform(Number);

export const PositiveIntArg = z
  .string()
  .regex(/^[1-9][0-9]{0,14}$/, "must be a positive integer")
  .transform(Number);

#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { summarizeError } from "../errors.js";
import { registerApprovals } from "./commands/approvals.js";
import { registerAudit } from "./commands/audit.js";
import { registerChat } from "./commands/chat.js";
import { registerDemo } from "./commands/demo.js";
import { registerDoctor } from "./commands/doctor.js";
import { registerInit } from "./commands/init.js";
import { registerKeys } from "./commands/keys.js";
import { registerPolicy } from "./commands/policy.js";
import { registerRegistry } from "./commands/registry.js";
import { registerSecret } from "./commands/secret.js";
import { registerServe } from "./commands/serve.js";
import { registerSkill } from "./commands/skill.js";
import { registerStatus } from "./commands/status.js";
import { registerTrust } from "./commands/trust.js";

function buildProgram(): Command {
  const program = new Command("skillgate")
    .description("A security-hardened runtime for AI-agent skills")
    .version("0.1.0")
    .option("--home <dir>", "state directory (default: $SKILLGATE_HOME or ./.skillgate)")
    .option("--json", "machine-readable output: one JSON value on stdout")
    .showSuggestionAfterError(true)
    .exitOverride();
  // Commander prints its own usage errors; we print one line of our own instead.
  program.configureOutput({ outputError: () => {} });
  registerInit(program);
  registerServe(program);
  registerChat(program);
  registerStatus(program);
  registerSkill(program);
  registerKeys(program);
  registerTrust(program);
  registerRegistry(program);
  registerSecret(program);
  registerPolicy(program);
  registerApprovals(program);
  registerAudit(program);
  registerDoctor(program);
  registerDemo(program);
  for (const command of program.commands) {
    command.exitOverride().configureOutput({ outputError: () => {} });
    for (const sub of command.commands) sub.exitOverride().configureOutput({ outputError: () => {} });
  }
  return program;
}

function oneLine(message: string): string {
  return (message.split("\n")[0] ?? "").replace(/[\u0000-\u001f\u007f]/g, "?").slice(0, 1000);
}

function fail(code: string, message: string, exitCode: number, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: { code, message } })}\n`);
  process.stderr.write(`skillgate: ${code}: ${message}\n`);
  process.exitCode = exitCode;
}

async function main(argv: string[]): Promise<void> {
  const json = argv.includes("--json");
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help (asked for, or shown for a bare command group) has already been printed.
      if (err.exitCode === 0 || err.code === "commander.help") {
        process.exitCode = err.exitCode;
        // A bare command group is a usage error too; a --json caller still gets its one object.
        if (err.exitCode !== 0 && json) {
          process.stdout.write(`${JSON.stringify({ ok: false, error: { code: "USAGE", message: "a subcommand is required (usage is on stderr)" } })}\n`);
        }
        return;
      }
      // One line, and no control characters from the argument that caused it.
      fail("USAGE", oneLine(err.message.replace(/^error: /, "")), 2, json);
      return;
    }
    const summary = summarizeError(err);
    fail(summary.code, summary.message, summary.code === "USAGE" ? 2 : 1, json);
  }
}

await main(process.argv);

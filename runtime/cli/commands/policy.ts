import type { Command } from "commander";
import { z } from "zod";
import { FRESH_CONTEXT } from "../../policy/context.js";
import { PolicyEngine, type PolicyRequest } from "../../policy/engine.js";
import { canonicalHost } from "../../policy/governor.js";
import { inHome } from "../../state/state-dir.js";
import { type CliContext, contextOf, parseArg } from "../context.js";

const CedarValue: z.ZodType<string | number | boolean> = z.union([z.string().max(4096), z.number().int(), z.boolean()]);

/** A request as `policy test` takes it; context fields left out get the values a fresh session has. */
const TestRequest = z
  .object({
    agent: z.string().min(1).max(64).default("demo"),
    action: z.enum(["tool.call", "net.fetch", "fs.read", "fs.write", "kv", "log", "messages.send", "credential.use"]),
    resource: z.object({ type: z.enum(["Tool", "Host", "Path", "Credential", "Skill"]), id: z.string().min(1).max(1024) }).strict(),
    context: z.record(z.string(), CedarValue).default({}),
  })
  .strict();

async function engineFor(cli: CliContext, files: string[] | undefined): Promise<{ engine: PolicyEngine; from: string }> {
  const chosen = files ?? (await cli.config()).policy.files.map((f) => inHome(cli.paths.home, f));
  return { engine: await PolicyEngine.load(chosen), from: chosen.length ? chosen.join(", ") : "the shipped defaults (runtime/policy/default.cedar)" };
}

export function registerPolicy(program: Command): void {
  const policy = program.command("policy").description("the Cedar policies every tool call and capability request passes");
  policy
    .command("check")
    .option("--file <path...>", "check these files instead of the configured ones")
    .description("parse the policies and list them")
    .action(async (raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const o = parseArg(z.object({ file: z.array(z.string().min(1)).optional() }), raw, "options");
      const { engine, from } = await engineFor(cli, o.file);
      cli.print([`${engine.ids.length} policies from ${from}: all parse.`, ...engine.ids.map((id) => `  ${id}`)], { ok: true, policies: engine.ids });
    });
  policy
    .command("test")
    .requiredOption("--request <json>", 'e.g. {"action":"tool.call","resource":{"type":"Tool","id":"@demo/github-issues.open_issue"},"context":{"effect":"external"}}')
    .option("--file <path...>", "use these files instead of the configured ones")
    .description("show the decision for one request and the policies that made it")
    .action(async (raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const o = parseArg(z.object({ request: z.string().min(2).max(65_536), file: z.array(z.string().min(1)).optional() }), raw, "options");
      let json: unknown;
      try {
        json = JSON.parse(o.request);
      } catch {
        json = undefined;
      }
      const r = parseArg(TestRequest, json, "--request");
      const { engine } = await engineFor(cli, o.file);
      const resource = r.resource.type === "Host" ? { ...r.resource, id: canonicalHost(r.resource.id) } : r.resource;
      const request: PolicyRequest = { principal: { type: "Agent", id: r.agent }, action: r.action, resource, context: { ...FRESH_CONTEXT, ...r.context } };
      const d = engine.decide(request);
      cli.print(`${d.decision}: ${d.reason}`, d);
    });
}

import type { Command } from "commander";
import { z } from "zod";
import { openAuditLog } from "../../audit-log.js";
import { SkillgateError } from "../../errors.js";
import { secretMethods } from "../../gateway/control-methods.js";
import { loadMasterKey } from "../../secrets/master-key.js";
import { Scrubber } from "../../secrets/scrubber.js";
import { SecretRefSchema, Vault } from "../../secrets/vault.js";
import { ensureState } from "../../state/init.js";
import { StateDb } from "../../state/state-db.js";
import { type CliContext, contextOf, parseArg } from "../context.js";
import { connectOperator } from "./chat.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const List = z
  .string()
  .min(1)
  .transform((s) => s.split(",").map((x) => x.trim()).filter(Boolean));
const SetOptions = z.object({ hosts: List, skills: List, methods: List.optional(), paths: List.optional(), fromStdin: z.boolean().optional() });

/** Reads the value from stdin (piped, or typed without echo on a terminal): never from argv, where `ps` would show it. */
async function readValue(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write("Secret value (input hidden), then Enter: ");
  const chunks: Buffer[] = [];
  if (process.stdin.isTTY) process.stdin.setRawMode(true);
  try {
    for await (const chunk of process.stdin) {
      const b = chunk as Buffer;
      if (process.stdin.isTTY) {
        const end = b.indexOf(13) >= 0 ? b.indexOf(13) : b.indexOf(10);
        if (b.includes(3)) throw new SkillgateError("CANCELLED", "cancelled");
        if (end >= 0) {
          chunks.push(b.subarray(0, end));
          break;
        }
      }
      chunks.push(b);
    }
  } finally {
    if (process.stdin.isTTY) {
      process.stdin.setRawMode(false);
      process.stderr.write("\n");
    }
  }
  const value = Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
  if (!value) throw new SkillgateError("USAGE", "empty secret value");
  return value;
}

/**
 * A vault method, on the running gateway when there is one (it is the single writer of
 * state), otherwise directly on the state dir — audited either way.
 */
async function vaultCall(cli: CliContext, method: string, params: Record<string, Json>): Promise<Json> {
  await ensureState(cli.paths.home);
  let audit;
  try {
    audit = await openAuditLog(cli.paths, await cli.config());
  } catch (err) {
    if ((err as { code?: string }).code !== "AUDIT_LOCKED") throw err;
    const { client } = await connectOperator(cli, undefined, undefined, "admin");
    try {
      return (await client.call(method, params)) as Json;
    } finally {
      client.close();
    }
  }
  const state = await StateDb.open(cli.paths.stateDb);
  try {
    const vault = await Vault.open(state, await loadMasterKey(cli.paths.masterKey));
    const methods = secretMethods({ vault, scrubber: new Scrubber(), audit });
    return await methods[method]!({ connectionId: "cli", role: "admin", client: "cli", emit: () => undefined }, params);
  } finally {
    await state.close();
    await audit.close();
  }
}

export function registerSecret(program: Command): void {
  const secret = program.command("secret").description("the credential vault: secrets skills use by reference (cred:<ref>) and never see");
  secret
    .command("set")
    .argument("<ref>", "reference id, e.g. github (skills name it cred:github)")
    .requiredOption("--hosts <list>", "comma-separated hosts it may be sent to (api.example.com, *.example.com)")
    .requiredOption("--skills <list>", "comma-separated skills that may use it (@acme/weather, @acme/*)")
    .option("--methods <list>", "only these HTTP methods (default: what the manifest declares)")
    .option("--paths <list>", "only these path prefixes (default: what the manifest declares)")
    .option("--from-stdin", "read the value from stdin (the default; the value is never an argument)")
    .description("store or replace a secret (AES-256-GCM in state.db); the value is read from stdin")
    .action(async (ref: string, raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const r = parseArg(SecretRefSchema, ref, "ref");
      const o = parseArg(SetOptions, raw, "options");
      const value = await readValue();
      const info = (await vaultCall(cli, "secrets.set", { ref: r, value, hosts: o.hosts, skills: o.skills, ...(o.methods ? { methods: o.methods } : {}), ...(o.paths ? { paths: o.paths } : {}) })) as { version: number };
      cli.print(`Stored cred:${r} (version ${info.version}) for ${o.hosts.join(", ")}; skills ${o.skills.join(", ")}`, info);
    });
  secret
    .command("list")
    .description("list secrets and their bindings (never values)")
    .action(async (_raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const list = (await vaultCall(cli, "secrets.list", {})) as { ref: string; version: number; binding: { hosts: string[]; skills: string[] }; updatedAt: string }[];
      cli.print(list.length ? list.map((s) => `cred:${s.ref}\tv${s.version}\thosts ${s.binding.hosts.join(",")}\tskills ${s.binding.skills.join(",")}\t${s.updatedAt}`) : "No secrets.", list);
    });
  secret
    .command("rotate")
    .argument("<ref>", "reference id")
    .description("replace a secret's value (read from stdin), keeping its binding")
    .action(async (ref: string, _raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const r = parseArg(SecretRefSchema, ref, "ref");
      const value = await readValue();
      const info = (await vaultCall(cli, "secrets.rotate", { ref: r, value })) as { version: number };
      cli.print(`Rotated cred:${r} (version ${info.version})`, info);
    });
  secret
    .command("rm")
    .argument("<ref>", "reference id")
    .description("delete a secret")
    .action(async (ref: string, _raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const r = parseArg(SecretRefSchema, ref, "ref");
      const out = await vaultCall(cli, "secrets.remove", { ref: r });
      cli.print(`Removed cred:${r}`, out);
    });
}

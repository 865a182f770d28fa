import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { z } from "zod";
import { SkillgateError } from "../../errors.js";
import { GatewayClient } from "../../gateway/client.js";
import { readTextIfExists } from "../../state/files.js";
import { type CliContext, contextOf, parseArg } from "../context.js";

/** `--url` of the commands that talk to the running gateway: a WebSocket URL, nothing else. */
export const GatewayUrlOptions = z.object({ url: z.string().url().regex(/^wss?:\/\//i, "must be a ws:// or wss:// URL").optional() });

const Options = GatewayUrlOptions.extend({
  agent: z.string().optional(),
  session: z.string().optional(),
  message: z.string().min(1).optional(),
});

/** The address the running gateway wrote at start, if its process is still alive. */
async function runningGatewayUrl(cli: CliContext): Promise<string | undefined> {
  const text = await readTextIfExists(cli.paths.gatewayAddress);
  if (!text) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = z.object({ url: z.string().regex(/^ws:\/\/[^\s]+\/ws$/), pid: z.number().int().positive() }).safeParse(json);
  if (!parsed.success) return undefined;
  try {
    process.kill(parsed.data.pid, 0);
  } catch {
    return undefined;
  }
  return parsed.data.url;
}

/** The running gateway, as the operator (or admin): URL from config (or --url), token from the state dir. */
export async function connectOperator(
  cli: CliContext,
  url: string | undefined,
  onEvent?: Parameters<typeof GatewayClient.connect>[3],
  role: "operator" | "admin" = "operator",
): Promise<{ client: GatewayClient; url: string }> {
  const config = await cli.config();
  const token = (await readTextIfExists(cli.paths.operatorToken))?.trim();
  if (!token) throw new SkillgateError("NOT_INITIALIZED", "no operator token; run 'skillgate init'");
  const target = url ?? (await runningGatewayUrl(cli)) ?? `ws://${config.gateway.host}:${config.gateway.port}/ws`;
  return { client: await GatewayClient.connect(target, token, role, onEvent), url: target };
}

export function registerChat(program: Command): void {
  program
    .command("chat")
    .description("talk to an agent through the running gateway (interactive, or one --message)")
    .option("--agent <id>", "agent id (default: the first configured)")
    .option("--session <key>", "session key (default: agent:<id>:main)")
    .option("--message <text>", "send one message, print the reply, and exit")
    .option("--url <ws-url>", "gateway URL (default from config)")
    .action(async (raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const o = parseArg(Options, raw, "options");
      const { client, url } = await connectOperator(cli, o.url, (f) => {
        if (cli.json) return;
        if (f.event === "tool.call") process.stderr.write(`  · ${String(f.payload?.tool)} (${String(f.payload?.decision)})\n`);
        if (f.event === "tool.result") process.stderr.write(`  · ${String(f.payload?.tool)} → ${f.payload?.ok ? "ok" : "failed"}\n`);
      });
      const send = async (text: string) =>
        (await client.call("chat.send", { text, ...(o.agent ? { agent: o.agent } : {}), ...(o.session ? { session: o.session } : {}) })) as { reply?: string };
      try {
        if (o.message !== undefined) {
          const result = await send(o.message);
          cli.print(result.reply ?? "", result);
          return;
        }
        const rl = createInterface({ input: process.stdin, output: process.stdout });
        process.stdout.write(`Connected to ${url}. Type a message; an empty line or Ctrl-D ends.\n`);
        for (;;) {
          const line = await rl.question("you> ").catch(() => "");
          if (!line.trim()) break;
          try {
            process.stdout.write(`agent> ${(await send(line)).reply ?? ""}\n`);
          } catch (err) {
            process.stdout.write(`error: ${(err as Error).message}\n`);
          }
        }
        rl.close();
      } finally {
        client.close();
      }
    });
}

import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { WebSocket } from "ws";
import { z } from "zod";
import { SkillgateError } from "../../errors.js";
import { readTextIfExists } from "../../state/files.js";
import { contextOf, parseArg } from "../context.js";

const Options = z.object({
  agent: z.string().optional(),
  session: z.string().optional(),
  message: z.string().min(1).optional(),
  url: z.string().url().optional(),
});

type Frame = { type: string; id?: unknown; ok?: boolean; result?: { reply?: string; session?: string }; error?: { code: string; message: string }; event?: string; payload?: Record<string, unknown> };

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
      const config = await cli.config();
      const token = (await readTextIfExists(cli.paths.operatorToken))?.trim();
      if (!token) throw new SkillgateError("NOT_INITIALIZED", "no operator token; run 'skillgate init'");
      const url = o.url ?? `ws://${config.gateway.host}:${config.gateway.port}/ws`;
      const ws = new WebSocket(url);
      await new Promise<void>((resolve, reject) => {
        ws.once("open", () => resolve());
        ws.once("error", (err) => reject(new SkillgateError("GATEWAY_UNREACHABLE", `cannot reach ${url} (${(err as NodeJS.ErrnoException).code ?? err.message}); is 'skillgate serve' running?`)));
      });
      const waiting = new Map<unknown, (f: Frame) => void>();
      ws.on("message", (data) => {
        const f = JSON.parse(data.toString()) as Frame;
        if (f.type === "event" && !cli.json) {
          if (f.event === "tool.call") process.stderr.write(`  · ${String(f.payload?.tool)} (${String(f.payload?.decision)})\n`);
          if (f.event === "tool.result") process.stderr.write(`  · ${String(f.payload?.tool)} → ${f.payload?.ok ? "ok" : "failed"}\n`);
        }
        if (f.type === "res") waiting.get(f.id ?? null)?.(f);
      });
      let next = 0;
      const call = (method: string, params: unknown) =>
        new Promise<Frame>((resolve) => {
          const id = ++next;
          waiting.set(id, resolve);
          ws.send(JSON.stringify({ type: "req", id, method, params }));
        });
      const hello = await new Promise<Frame>((resolve) => {
        waiting.set(null, resolve);
        ws.send(JSON.stringify({ type: "connect", protocol: 1, token, client: { name: "skillgate-chat", version: "0.1.0" }, role: "operator" }));
      });
      if (!hello.ok) throw new SkillgateError(hello.error?.code ?? "UNAUTHORIZED", hello.error?.message ?? "connect refused");
      const send = async (text: string): Promise<Frame> => {
        const res = await call("chat.send", { text, ...(o.agent ? { agent: o.agent } : {}), ...(o.session ? { session: o.session } : {}) });
        if (!res.ok) throw new SkillgateError(res.error?.code ?? "INTERNAL", res.error?.message ?? "failed");
        return res;
      };
      try {
        if (o.message !== undefined) {
          const res = await send(o.message);
          cli.print(res.result?.reply ?? "", res.result ?? {});
          return;
        }
        const rl = createInterface({ input: process.stdin, output: process.stdout });
        process.stdout.write(`Connected to ${url}. Type a message; an empty line or Ctrl-D ends.\n`);
        for (;;) {
          const line = await rl.question("you> ").catch(() => "");
          if (!line.trim()) break;
          try {
            const res = await send(line);
            process.stdout.write(`agent> ${res.result?.reply ?? ""}\n`);
          } catch (err) {
            process.stdout.write(`error: ${(err as Error).message}\n`);
          }
        }
        rl.close();
      } finally {
        ws.close();
      }
    });
}

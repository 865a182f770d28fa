import type { Command } from "commander";
import { z } from "zod";
import { contextOf, parseArg } from "../context.js";
import { connectOperator, GatewayUrlOptions } from "./chat.js";

interface Pending {
  id: string;
  session: string;
  skill: string;
  digest: string;
  tool: string;
  args: unknown;
  reason: string;
  hash: string;
  expiresAt: string;
}

const Id = z.string().min(1).max(64);

export function registerApprovals(program: Command): void {
  const approvals = program.command("approvals").description("answer the running gateway's approval requests (as the operator)");
  approvals
    .command("list")
    .option("--url <ws-url>", "gateway URL (default from config)")
    .description("pending approvals, with the exact arguments each would run with")
    .action(async (raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const o = parseArg(GatewayUrlOptions, raw, "options");
      const { client } = await connectOperator(cli, o.url);
      try {
        const list = (await client.call("approvals.list")) as unknown as Pending[];
        cli.print(
          list.length
            ? list.map((a) => `${a.id}\t${a.session}\t${a.tool}\t${JSON.stringify(a.args)}\t${a.reason}\texpires ${a.expiresAt}`)
            : "No pending approvals.",
          list,
        );
      } finally {
        client.close();
      }
    });
  for (const [name, decision] of [
    ["allow", "allow-once"],
    ["deny", "deny"],
  ] as const) {
    approvals
      .command(name)
      .argument("<id>", "approval id (from approvals list)")
      .option("--url <ws-url>", "gateway URL (default from config)")
      .description(decision === "allow-once" ? "allow that one call, with exactly the arguments listed, once" : "deny it")
      .action(async (id: string, raw: unknown, command: Command) => {
        const cli = contextOf(command);
        const o = parseArg(GatewayUrlOptions, raw, "options");
        const { client } = await connectOperator(cli, o.url);
        try {
          const out = await client.call("approval.resolve", { id: parseArg(Id, id, "id"), decision });
          cli.print(`${decision === "allow-once" ? "Allowed once" : "Denied"}: ${id}`, out);
        } finally {
          client.close();
        }
      });
  }
}

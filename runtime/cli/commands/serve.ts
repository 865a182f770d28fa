import { rm } from "node:fs/promises";
import type { Command } from "commander";
import { z } from "zod";
import { openAuditLog } from "../../audit-log.js";
import { createHookSecret, SIGNATURE_HEADER } from "../../gateway/hooks.js";
import { startGateway } from "../../gateway/running-gateway.js";
import { createLogger } from "../../logger.js";
import { Scrubber } from "../../secrets/scrubber.js";
import { writePrivateFile } from "../../state/files.js";
import { ensureOperatorToken, ensureState } from "../../state/init.js";
import { type CliContext, contextOf, parseArg } from "../context.js";
import { installExampleSkills } from "../../skills/example-registry.js";

const Options = z.object({
  host: z.string().min(1).optional(),
  port: z
    .string()
    .regex(/^\d{1,5}$/)
    .transform(Number)
    .refine((p) => p <= 65535, "must be a port number")
    .optional(),
  insecurePublic: z.boolean().optional(),
});

export function registerServe(program: Command): void {
  program
    .command("hook")
    .description("webhooks: POST /hooks/<id> signed with HMAC-SHA256 runs a turn in a new hook:<uuid> session")
    .command("add")
    .argument("<id>", "hook id")
    .description("create a webhook and print its secret (once; kept in keys/hooks/<id>.secret, 0600)")
    .action(async (id: string, _raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const secret = await createHookSecret(cli.paths.keysDir, id);
      cli.print(
        [`Webhook ${id}: POST /hooks/${id} with header ${SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of the body>`, `Secret (shown once): ${secret}`, "Restart the gateway to load it."],
        { id, secret, header: SIGNATURE_HEADER },
      );
    });
  program
    .command("serve")
    .description("run the gateway: HTTP /healthz and the WebSocket control plane (127.0.0.1 by default)")
    .option("--host <address>", "bind address (default from config: 127.0.0.1)")
    .option("--port <n>", "port (default from config: 18789)")
    .option("--insecure-public", "allow a non-loopback bind without TLS in front (still needs the token)")
    .action(async (raw: unknown, command: Command) => {
      await runGateway(contextOf(command), parseArg(Options, raw, "options"));
    });
  program
    .command("start")
    .description("what `npm start` runs: make the state dir if needed, install the signed example skills, run the gateway")
    .option("--port <n>", "port (default from config: 18789)")
    .action(async (raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const o = parseArg(Options, raw, "options");
      const state = await ensureState(cli.paths.home);
      if (state.operatorToken) cli.note(`Initialized ${state.paths.home}. Operator token (shown once; kept in keys/operator.token): ${state.operatorToken}`);
      const log = await openAuditLog(cli.paths, await cli.config());
      try {
        for (const s of await installExampleSkills(cli.paths, log)) {
          cli.note(`${s.installed ? "Installed" : "Installed already:"} ${s.name}@${s.version} (signature verified before extraction)`);
        }
      } finally {
        await log.close();
      }
      cli.note("Chat with the demo agent from another terminal: npx skillgate chat   (or: npx skillgate chat --message 'note: buy milk')");
      await runGateway(cli, o);
    });
}

async function runGateway(cli: CliContext, o: z.infer<typeof Options>): Promise<void> {
  const config = await cli.config();
  const scrubber = new Scrubber();
  const logger = createLogger({ level: config.log.level, scrub: (line) => scrubber.scrub(line) });
  const { token, created } = await ensureOperatorToken(cli.paths);
  if (created) cli.note(`Operator token (shown once; kept in keys/operator.token, 0600): ${token}`);
  const running = await startGateway({
    paths: cli.paths,
    config,
    logger,
    scrubber,
    token,
    host: o.host ?? config.gateway.host,
    port: o.port ?? config.gateway.port,
    insecurePublic: o.insecurePublic ?? false,
  });
  const { gateway } = running;
  const address = gateway.address;
  await writePrivateFile(cli.paths.gatewayAddress, `${JSON.stringify({ url: `ws://${address.host}:${address.port}/ws`, pid: process.pid })}\n`);
  cli.print(`skillgate gateway listening on ws://${address.host}:${address.port}/ws (health: http://${address.host}:${address.port}/healthz)`, { ok: true, host: address.host, port: address.port });
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, "shutting down");
      resolve();
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  await rm(cli.paths.gatewayAddress, { force: true });
  await running.close();
}

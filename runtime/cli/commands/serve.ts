import { randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import type { Command } from "commander";
import { z } from "zod";
import { readLockfile } from "../../../skills-registry/index.js";
import { openAuditLog } from "../../audit-log.js";
import { AgentHost } from "../../gateway/agent-host.js";
import { Gateway, type HttpRoute, type MethodHandler } from "../../gateway/server.js";
import { createHookSecret, HookBody, loadHookSecrets, SIGNATURE_HEADER, signatureValid } from "../../gateway/hooks.js";
import { createLogger } from "../../logger.js";
import { controlMethods } from "../../gateway/control-methods.js";
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
  const audit = await openAuditLog(cli.paths, config);
  const started = Date.now();
  const methods: Record<string, MethodHandler> = {
    ping: async () => ({ pong: true }),
    "gateway.info": async () => ({ version: "0.1.0", protocol: 1, uptimeMs: Date.now() - started, auditEntries: audit.size }),
    "skills.list": async () => {
      const lock = await readLockfile(cli.paths.lockfile);
      return Object.entries(lock.skills).map(([name, s]) => ({ name, version: s.version, sha256: s.sha256, publisher: s.signer.publisher }));
    },
    "audit.checkpoint": async () => {
      const c = await audit.checkpoint();
      return { size: c.size, rootHex: c.rootHex };
    },
  };
  let gateway: Gateway;
  let host: AgentHost;
  try {
    host = await AgentHost.start({ paths: cli.paths, config, audit, logger, scrubber });
  } catch (err) {
    await audit.close();
    throw err;
  }
  Object.assign(methods, host.methods(), controlMethods({ ...host.control, audit }));
  const hookSecrets = await loadHookSecrets(cli.paths.keysDir);
  const hooks: HttpRoute = async (req, body): ReturnType<HttpRoute> => {
    const id = (req.url ?? "").slice("/hooks/".length);
    const secret = hookSecrets.get(id);
    if (!secret || !signatureValid(secret, body, req.headers[SIGNATURE_HEADER] as string | undefined)) {
      await audit.append({ actor: "gateway", kind: "system", type: "auth.failed", data: { channel: "webhook", hook: id.slice(0, 64), remote: req.socket.remoteAddress ?? "unknown" } });
      return { status: 401, body: { ok: false, error: { code: "UNAUTHORIZED", message: "unknown hook or bad signature" } } };
    }
    let parsed;
    try {
      parsed = HookBody.safeParse(JSON.parse(body.toString("utf8")));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) return { status: 400, body: { ok: false, error: { code: "BAD_REQUEST", message: "body must be {\"text\": …}" } } };
    // A webhook's sender is not the session's owner: what it says is untrusted input.
    const result = await host.turn(host.agent(parsed.data.agent), `hook:${randomUUID()}`, parsed.data.text, () => {}, undefined, `webhook ${id}`);
    return { status: 200, body: { ok: true, session: result.session, turn: result.turn, reply: result.reply, toolCalls: result.toolCalls } };
  };
  try {
    gateway = await Gateway.start({
      host: o.host ?? config.gateway.host,
      port: o.port ?? config.gateway.port,
      token,
      insecurePublic: o.insecurePublic ?? false,
      logger,
      audit,
      methods,
      http: { "/hooks/": hooks },
    });
  } catch (err) {
    await host.close();
    await audit.close();
    throw err;
  }
  host.control.approvals.setNotifier((approval) => gateway.broadcast("approval.requested", approval as unknown as Parameters<typeof gateway.broadcast>[1], ["operator", "admin"]));
  const address = gateway.address;
  await audit.append({ actor: "gateway", kind: "system", type: "gateway.start", data: { host: address.host, port: address.port } });
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
  await gateway.close();
  await rm(cli.paths.gatewayAddress, { force: true });
  await host.close();
  await audit.append({ actor: "gateway", kind: "system", type: "gateway.stop", data: { uptimeMs: Date.now() - started } });
  // close() signs the final checkpoint.
  await audit.close();
}

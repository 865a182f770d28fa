import type { Command } from "commander";
import { z } from "zod";
import { readLockfile } from "../../../skills-registry/index.js";
import { openAuditLog } from "../../audit-log.js";
import { Gateway, type MethodHandler } from "../../gateway/server.js";
import { createLogger } from "../../logger.js";
import { ensureOperatorToken } from "../../state/init.js";
import { contextOf, parseArg } from "../context.js";

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
    .command("serve")
    .description("run the gateway: HTTP /healthz and the WebSocket control plane (127.0.0.1 by default)")
    .option("--host <address>", "bind address (default from config: 127.0.0.1)")
    .option("--port <n>", "port (default from config: 18789)")
    .option("--insecure-public", "allow a non-loopback bind without TLS in front (still needs the token)")
    .action(async (raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const o = parseArg(Options, raw, "options");
      const config = await cli.config();
      const logger = createLogger({ level: config.log.level });
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
      try {
        gateway = await Gateway.start({
          host: o.host ?? config.gateway.host,
          port: o.port ?? config.gateway.port,
          token,
          insecurePublic: o.insecurePublic ?? false,
          logger,
          audit,
          methods,
        });
      } catch (err) {
        await audit.close();
        throw err;
      }
      const { host, port } = gateway.address;
      await audit.append({ actor: "gateway", kind: "system", type: "gateway.start", data: { host, port } });
      cli.print(`skillgate gateway listening on ws://${host}:${port}/ws (health: http://${host}:${port}/healthz)`, { ok: true, host, port });
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          logger.info({ signal }, "shutting down");
          resolve();
        };
        process.once("SIGTERM", stop);
        process.once("SIGINT", stop);
      });
      await gateway.close();
      await audit.append({ actor: "gateway", kind: "system", type: "gateway.stop", data: { uptimeMs: Date.now() - started } });
      // close() signs the final checkpoint.
      await audit.close();
    });
}

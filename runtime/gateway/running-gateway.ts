import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { AuditLog } from "../../audit/index.js";
import { readLockfile } from "../../skills-registry/index.js";
import { openAuditLog } from "../audit-log.js";
import type { Resolver } from "../broker/pinned-dispatcher.js";
import type { Config } from "../config/schema.js";
import type { Scrubber } from "../secrets/scrubber.js";
import type { StatePaths } from "../state/state-dir.js";
import { AgentHost, type HostedInvoker } from "./agent-host.js";
import { approvalMethods, secretMethods } from "./control-methods.js";
import { HookBody, loadHookSecrets, SIGNATURE_HEADER, signatureValid } from "./hooks.js";
import { type ConnectionLimits, Gateway, type HttpRoute, type MethodHandler } from "./server.js";

export interface RunningGateway {
  gateway: Gateway;
  host: AgentHost;
  audit: AuditLog;
  /** Stops accepting, lets runs finish, and writes the final audit checkpoint. */
  close(): Promise<void>;
}

export interface GatewayStartOptions {
  paths: StatePaths;
  config: Config;
  logger: Logger;
  scrubber: Scrubber;
  token: string;
  host: string;
  port: number;
  insecurePublic?: boolean;
  limits?: Partial<ConnectionLimits>;
  /** Tests and the security suite: a resolver that plays DNS for fake hosts. */
  resolver?: Resolver;
  /** The gateway benchmark's unsandboxed baseline only. */
  invoker?: HostedInvoker;
}

/** Webhooks: an HMAC-signed POST runs a turn in a fresh `hook:<uuid>` session, as untrusted input. */
async function hookRoute(paths: StatePaths, audit: AuditLog, host: AgentHost): Promise<HttpRoute> {
  const hookSecrets = await loadHookSecrets(paths.keysDir);
  return async (req, body): ReturnType<HttpRoute> => {
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
    if (!parsed?.success) return { status: 400, body: { ok: false, error: { code: "BAD_REQUEST", message: 'body must be {"text": …}' } } };
    // A webhook's sender is not the session's owner: what it says is untrusted input.
    const result = await host.turn(host.agent(parsed.data.agent), `hook:${randomUUID()}`, parsed.data.text, () => {}, undefined, `webhook ${id}`);
    return { status: 200, body: { ok: true, session: result.session, turn: result.turn, reply: result.reply, toolCalls: result.toolCalls } };
  };
}

/** The whole gateway in this process: audit log, agents and control layer, transport. */
export async function startGateway(o: GatewayStartOptions): Promise<RunningGateway> {
  const audit = await openAuditLog(o.paths, o.config);
  const started = Date.now();
  let host: AgentHost;
  try {
    host = await AgentHost.start({
      paths: o.paths,
      config: o.config,
      audit,
      logger: o.logger,
      scrubber: o.scrubber,
      ...(o.resolver ? { resolver: o.resolver } : {}),
      ...(o.invoker ? { invoker: o.invoker } : {}),
    });
  } catch (err) {
    await audit.close();
    throw err;
  }
  const methods: Record<string, MethodHandler> = {
    ping: async () => ({ pong: true }),
    "gateway.info": async () => ({ version: "0.1.0", protocol: 1, uptimeMs: Date.now() - started, auditEntries: audit.size }),
    "skills.list": async () => {
      const lock = await readLockfile(o.paths.lockfile);
      return Object.entries(lock.skills).map(([name, s]) => ({ name, version: s.version, sha256: s.sha256, publisher: s.signer.publisher }));
    },
    "audit.checkpoint": async () => {
      const c = await audit.checkpoint();
      return { size: c.size, rootHex: c.rootHex };
    },
    ...host.methods(),
    ...approvalMethods(host.control.approvals),
    ...secretMethods({ ...host.control, audit }),
  };
  let gateway: Gateway;
  try {
    gateway = await Gateway.start({
      host: o.host,
      port: o.port,
      token: o.token,
      insecurePublic: o.insecurePublic ?? false,
      logger: o.logger,
      audit,
      methods,
      ...(o.limits ? { limits: o.limits } : {}),
      http: { "/hooks/": await hookRoute(o.paths, audit, host) },
    });
  } catch (err) {
    await host.close();
    await audit.close();
    throw err;
  }
  host.control.approvals.setNotifier((approval) => gateway.broadcast("approval.requested", approval as unknown as Parameters<typeof gateway.broadcast>[1], ["operator", "admin"]));
  const address = gateway.address;
  await audit.append({ actor: "gateway", kind: "system", type: "gateway.start", data: { host: address.host, port: address.port } });
  return {
    gateway,
    host,
    audit,
    close: async () => {
      await gateway.close();
      await host.close();
      await audit.append({ actor: "gateway", kind: "system", type: "gateway.stop", data: { uptimeMs: Date.now() - started } });
      // close() signs the final checkpoint.
      await audit.close();
    },
  };
}

import { createServer, type IncomingMessage, type Server } from "node:http";
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { WebSocket, WebSocketServer } from "ws";
import type { AuditLog } from "../../audit/index.js";
import { SkillgateError, summarizeError } from "../errors.js";
import { roleMayCall, tokenMatches } from "./auth.js";
import { ConnectFrame, PROTOCOL_VERSION, ReqFrame, type Role } from "./frames.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface MethodContext {
  connectionId: string;
  role: Role;
  client: string;
  /** Pushes an event frame to this connection. */
  emit(event: string, payload: Json): void;
}

export type MethodHandler = (ctx: MethodContext, params: Json | undefined) => Promise<Json>;

export interface ConnectionLimits {
  maxFrameBytes: number;
  maxInFlight: number;
  /** Sustained requests per second, with a burst of twice that. */
  ratePerSecond: number;
  /** Protocol violations before the connection is closed. */
  maxStrikes: number;
  connectTimeoutMs: number;
}

export const DEFAULT_LIMITS: ConnectionLimits = { maxFrameBytes: 1024 * 1024, maxInFlight: 16, ratePerSecond: 50, maxStrikes: 10, connectTimeoutMs: 5000 };

export interface GatewayOptions {
  host: string;
  port: number;
  token: string;
  /** Required for a non-loopback bind without TLS in front. */
  insecurePublic?: boolean;
  logger: Logger;
  audit: AuditLog;
  methods: Record<string, MethodHandler>;
  limits?: Partial<ConnectionLimits>;
  /** Plain HTTP routes by path prefix (e.g. `/hooks/`), given the raw request body. */
  http?: Record<string, HttpRoute>;
}

export type HttpRoute = (req: IncomingMessage, body: Buffer) => Promise<{ status: number; body: Json }>;

const MAX_HTTP_BODY = 64 * 1024;

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Close codes: 1008 policy violation, 1001 going away. */
const POLICY = 1008;
const GOING_AWAY = 1001;

/**
 * The control plane's transport: HTTP for `/healthz`, WebSocket for everything else.
 * Every frame is validated; the first must authenticate; abuse is rate-limited, counted
 * and eventually disconnected; nothing a client sends can crash the process.
 */
export class Gateway {
  private readonly wss: WebSocketServer;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Authenticated connections, for events addressed to a role (e.g. approval requests to operators). */
  private readonly connected = new Map<string, { role: Role; send: (frame: Json) => void; seq: () => number }>();
  private accepting = true;
  private readonly limits: ConnectionLimits;

  private constructor(
    private readonly http: Server,
    private readonly options: GatewayOptions,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxFrameBytes });
    http.on("upgrade", (req, socket, head) => {
      if (!this.accepting || req.url !== "/ws") {
        socket.destroy();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req));
    });
  }

  static async start(options: GatewayOptions): Promise<Gateway> {
    if (!isLoopback(options.host)) {
      if (!options.token) throw new SkillgateError("GATEWAY_PUBLIC_BIND", `refusing to bind ${options.host} without token auth`);
      if (!options.insecurePublic) {
        throw new SkillgateError("GATEWAY_PUBLIC_BIND", `refusing to bind ${options.host} without TLS in front; put a TLS proxy before it and pass --insecure-public`);
      }
      options.logger.warn({ host: options.host }, "gateway bound to a public address without TLS (--insecure-public)");
    }
    const http = createServer((req, res) => {
      if (req.method === "GET" && req.url === "/healthz") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true, protocol: PROTOCOL_VERSION }));
        return;
      }
      const prefix = Object.keys(options.http ?? {}).find((p) => req.url?.startsWith(p));
      const route = prefix ? options.http?.[prefix] : undefined;
      if (!route || req.method !== "POST") {
        res.writeHead(404).end();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_HTTP_BODY) {
          res.writeHead(413).end();
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      req.on("end", () => {
        if (size > MAX_HTTP_BODY) return;
        route(req, Buffer.concat(chunks)).then(
          (out) => res.writeHead(out.status, { "content-type": "application/json" }).end(JSON.stringify(out.body)),
          (err: unknown) => {
            const e = summarizeError(err);
            res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ ok: false, error: e }));
          },
        );
      });
    });
    const gateway = new Gateway(http, options);
    await new Promise<void>((resolve, reject) => {
      http.once("error", (err: NodeJS.ErrnoException) =>
        reject(new SkillgateError("GATEWAY_BIND_FAILED", `cannot listen on ${options.host}:${options.port}: ${err.code ?? err.message}`)),
      );
      http.listen(options.port, options.host, () => resolve());
    });
    return gateway;
  }

  get address(): { host: string; port: number } {
    const a = this.http.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  private audit(type: string, data: Record<string, Json>): void {
    void this.options.audit.append({ actor: "gateway", kind: "system", type, data }).catch((err: unknown) => {
      this.options.logger.error({ err: summarizeError(err) }, "audit append failed");
    });
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const connectionId = randomUUID();
    const remote = req.socket.remoteAddress ?? "unknown";
    const state = { role: undefined as Role | undefined, client: "", inFlight: 0, strikes: 0, tokens: this.limits.ratePerSecond * 2, last: Date.now(), seq: 0 };
    const send = (frame: Json) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
    };
    const fail = (id: Json, code: string, message: string) => send({ type: "res", id, ok: false, error: { code, message } });
    const strike = (id: Json, code: string, message: string) => {
      fail(id, code, message);
      state.strikes += 1;
      if (state.strikes >= this.limits.maxStrikes) ws.close(POLICY, "too many protocol errors");
    };
    const connectTimer = setTimeout(() => ws.close(POLICY, "connect frame expected"), this.limits.connectTimeoutMs);
    ws.on("close", () => {
      clearTimeout(connectTimer);
      this.connected.delete(connectionId);
    });
    ws.on("error", () => ws.terminate());
    ws.on("message", (data, isBinary) => {
      // Token bucket: refill by elapsed time, spend one per frame.
      const now = Date.now();
      state.tokens = Math.min(this.limits.ratePerSecond * 2, state.tokens + ((now - state.last) / 1000) * this.limits.ratePerSecond);
      state.last = now;
      if (state.tokens < 1) return strike(null, "RATE_LIMITED", "too many frames");
      state.tokens -= 1;
      if (isBinary) return strike(null, "BAD_FRAME", "frames are JSON text");
      let value: unknown;
      try {
        value = JSON.parse(data.toString());
      } catch {
        return strike(null, "BAD_FRAME", "frame is not JSON");
      }
      if (!state.role) {
        this.onConnect(ws, value, state, remote, connectionId, connectTimer, fail);
        if (state.role) this.connected.set(connectionId, { role: state.role, send, seq: () => state.seq++ });
        return;
      }
      const id = typeof value === "object" && value !== null && "id" in value ? (value as { id: unknown }).id : null;
      // Echo the id only if it is one the protocol allows (so every reply is a valid frame).
      const safeId: Json = ReqFrame.shape.id.safeParse(id).success ? (id as string | number) : null;
      const parsed = ReqFrame.safeParse(value);
      if (!parsed.success) return strike(safeId, "BAD_FRAME", `not a request frame: ${parsed.error.issues[0]?.path.join(".") || "(root)"} ${parsed.error.issues[0]?.message ?? ""}`.trim());
      const frame = parsed.data;
      const handler = Object.hasOwn(this.options.methods, frame.method) ? this.options.methods[frame.method] : undefined;
      if (!handler) return strike(frame.id, "METHOD_NOT_FOUND", `no method ${frame.method}`);
      if (!roleMayCall(state.role, frame.method)) return fail(frame.id, "FORBIDDEN", `role ${state.role} may not call ${frame.method}`);
      if (state.inFlight >= this.limits.maxInFlight) return fail(frame.id, "BUSY", `more than ${this.limits.maxInFlight} requests in flight`);
      state.inFlight += 1;
      const ctx: MethodContext = {
        connectionId,
        role: state.role,
        client: state.client,
        emit: (event, payload) => send({ type: "event", event, payload, seq: state.seq++ }),
      };
      const run = handler(ctx, frame.params as Json | undefined).then(
        (result) => send({ type: "res", id: frame.id, ok: true, result }),
        (err: unknown) => {
          const e = summarizeError(err);
          fail(frame.id, e.code, e.message);
        },
      );
      this.inFlight.add(run);
      void run.finally(() => {
        state.inFlight -= 1;
        this.inFlight.delete(run);
      });
    });
  }

  private onConnect(
    ws: WebSocket,
    value: unknown,
    state: { role: Role | undefined; client: string },
    remote: string,
    connectionId: string,
    connectTimer: NodeJS.Timeout,
    fail: (id: Json, code: string, message: string) => void,
  ): void {
    const parsed = ConnectFrame.safeParse(value);
    if (!parsed.success) {
      fail(null, "CONNECT_REQUIRED", "the first frame must be connect {protocol, token, client, role}");
      ws.close(POLICY, "connect frame expected");
      return;
    }
    const frame = parsed.data;
    if (frame.protocol !== PROTOCOL_VERSION) {
      fail(null, "PROTOCOL_MISMATCH", `this gateway speaks protocol ${PROTOCOL_VERSION}`);
      ws.close(POLICY, "protocol mismatch");
      return;
    }
    if (!tokenMatches(frame.token, this.options.token)) {
      this.audit("auth.failed", { remote, client: frame.client.name, role: frame.role, connection: connectionId });
      fail(null, "UNAUTHORIZED", "invalid token");
      ws.close(POLICY, "unauthorized");
      return;
    }
    clearTimeout(connectTimer);
    state.role = frame.role;
    state.client = frame.client.name;
    ws.send(JSON.stringify({ type: "res", id: null, ok: true, result: { protocol: PROTOCOL_VERSION, role: frame.role, connection: connectionId } }));
  }

  /** Sends an event to every connection of the given roles; returns how many got it. */
  broadcast(event: string, payload: Json, roles: readonly Role[]): number {
    let sent = 0;
    for (const c of this.connected.values()) {
      if (!roles.includes(c.role)) continue;
      c.send({ type: "event", event, payload, seq: c.seq() });
      sent++;
    }
    return sent;
  }

  /** Stops accepting, lets running requests finish up to the deadline, then closes every socket. */
  async close(deadlineMs = 5000): Promise<void> {
    this.accepting = false;
    const stopped = new Promise<void>((resolve) => this.http.close(() => resolve()));
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => setTimeout(r, deadlineMs).unref())]);
    for (const ws of this.wss.clients) ws.close(GOING_AWAY, "gateway shutting down");
    setTimeout(() => {
      for (const ws of this.wss.clients) ws.terminate();
    }, 1000).unref();
    this.http.closeAllConnections();
    await stopped;
  }
}

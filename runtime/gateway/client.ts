import { WebSocket } from "ws";
import { SkillgateError } from "../errors.js";
import { PROTOCOL_VERSION, type Role } from "./frames.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Frame {
  type: string;
  id?: unknown;
  ok?: boolean;
  result?: Json;
  error?: { code: string; message: string };
  event?: string;
  payload?: Record<string, Json>;
}

/** A small protocol client for the CLI (chat, status): connect, call, listen for events. */
export class GatewayClient {
  private readonly waiting = new Map<unknown, (f: Frame) => void>();
  private next = 0;

  private constructor(
    private readonly ws: WebSocket,
    onEvent: (f: Frame) => void,
  ) {
    ws.on("message", (data) => {
      let f: Frame;
      try {
        f = JSON.parse(data.toString()) as Frame;
      } catch {
        return;
      }
      if (f.type === "event") onEvent(f);
      else if (f.type === "res") this.waiting.get(f.id ?? null)?.(f);
    });
  }

  static async connect(url: string, token: string, role: Role, onEvent: (f: Frame) => void = () => {}): Promise<GatewayClient> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", (err) =>
        reject(new SkillgateError("GATEWAY_UNREACHABLE", `cannot reach ${url} (${(err as NodeJS.ErrnoException).code ?? err.message}); is the gateway running?`)),
      );
    });
    const client = new GatewayClient(ws, onEvent);
    const hello = await new Promise<Frame>((resolve) => {
      client.waiting.set(null, resolve);
      ws.send(JSON.stringify({ type: "connect", protocol: PROTOCOL_VERSION, token, client: { name: "skillgate-cli", version: "0.1.0" }, role }));
    });
    if (!hello.ok) {
      ws.close();
      throw new SkillgateError(hello.error?.code ?? "UNAUTHORIZED", hello.error?.message ?? "connect refused");
    }
    return client;
  }

  /** Calls a method; a gateway error becomes a SkillgateError with its code. */
  async call(method: string, params?: Json): Promise<Json> {
    const id = ++this.next;
    const res = await new Promise<Frame>((resolve) => {
      this.waiting.set(id, resolve);
      this.ws.send(JSON.stringify({ type: "req", id, method, ...(params === undefined ? {} : { params }) }));
    });
    this.waiting.delete(id);
    if (!res.ok) throw new SkillgateError(res.error?.code ?? "INTERNAL", res.error?.message ?? "failed");
    return res.result ?? null;
  }

  close(): void {
    this.ws.close();
  }
}

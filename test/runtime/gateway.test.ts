import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { WebSocket } from "ws";
import { assertCleanFailure, runCli } from "../support/cli.js";
import { CLI_PATH } from "../support/paths.js";

type Frame = { type: string; id?: unknown; ok?: boolean; result?: unknown; error?: { code: string; message: string } };

/** A real `skillgate serve` process on an ephemeral loopback port. */
async function startGateway(home: string, extra: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [CLI_PATH, "--home", home, "--json", "serve", "--port", "0", ...extra], {
    env: { PATH: process.env.PATH },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> });
    rl.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`serve exited ${code}`)));
  });
  return { child, port: (JSON.parse(line) as { port: number }).port };
}

class Client {
  private readonly queue: Frame[] = [];
  private waiters: ((f: Frame) => void)[] = [];
  closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      const w = this.waiters.shift();
      if (w) w(frame);
      else this.queue.push(frame);
    });
    this.closed = new Promise((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async open(port: number): Promise<Client> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    return new Client(ws);
  }

  next(): Promise<Frame> {
    const f = this.queue.shift();
    return f ? Promise.resolve(f) : new Promise((resolve) => this.waiters.push(resolve));
  }

  send(value: unknown): void {
    this.ws.send(typeof value === "string" ? value : JSON.stringify(value));
  }

  async call(id: number, method: string, params?: unknown): Promise<Frame> {
    this.send({ type: "req", id, method, ...(params === undefined ? {} : { params }) });
    return this.next();
  }
}

describe("gateway server (real process, real WebSocket)", () => {
  let dir: string;
  let home: string;
  let token: string;
  let gw: { child: ChildProcess; port: number };
  const connect = async (role = "admin", presented = token): Promise<Client> => {
    const c = await Client.open(gw.port);
    c.send({ type: "connect", protocol: 1, token: presented, client: { name: "test" }, role });
    return c;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sg-gateway-"));
    home = join(dir, "home");
    const init = runCli(["--home", home, "--json", "init"]);
    assert.equal(init.status, 0, init.stderr);
    token = (JSON.parse(init.stdout) as { operatorToken: string }).operatorToken;
    assert.match(token, /^sgt_/);
    assert.equal(readFileSync(join(home, "keys", "operator.token"), "utf8").trim(), token);
    gw = await startGateway(home);
  });
  after(() => {
    gw.child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers /healthz", async () => {
    const res = await fetch(`http://127.0.0.1:${gw.port}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true, protocol: 1 });
  });

  it("authenticates with the operator token and scopes methods by role", async () => {
    const admin = await connect("admin");
    const hello = await admin.next();
    assert.equal(hello.ok, true);
    assert.deepEqual((await admin.call(1, "ping")).result, { pong: true });
    assert.deepEqual((await admin.call(2, "skills.list")).result, []);
    assert.equal((await admin.call(3, "nope.method")).error?.code, "METHOD_NOT_FOUND");
    admin.ws.close();
    const client = await connect("client");
    await client.next();
    const forbidden = await client.call(4, "skills.list");
    assert.equal(forbidden.error?.code, "FORBIDDEN");
    assert.equal(forbidden.id, 4);
    client.ws.close();
  });

  it("closes on a wrong token, and on anything but connect first", async () => {
    const bad = await connect("admin", "sgt_wrong");
    assert.equal((await bad.next()).error?.code, "UNAUTHORIZED");
    assert.equal((await bad.closed).code, 1008);
    const early = await Client.open(gw.port);
    early.send({ type: "req", id: 1, method: "ping" });
    assert.equal((await early.next()).error?.code, "CONNECT_REQUIRED");
    assert.equal((await early.closed).code, 1008);
    const wrongProtocol = await Client.open(gw.port);
    wrongProtocol.send({ type: "connect", protocol: 2, token, client: { name: "t" }, role: "admin" });
    assert.equal((await wrongProtocol.next()).error?.code, "PROTOCOL_MISMATCH");
  });

  it("survives protocol fuzz: random, truncated, wrongly typed and oversized frames", async () => {
    const arbitraryFrame = fc.oneof(
      fc.string(),
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify({ type: "req", id: v, method: v, params: v })),
      fc.record({ type: fc.constantFrom("req", "res", "event", "connect"), id: fc.anything() }, { noNullPrototype: true }).map((v) => {
        try {
          return JSON.stringify(v);
        } catch {
          return "{";
        }
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(arbitraryFrame, { minLength: 1, maxLength: 8 }), async (frames) => {
        const c = await connect("admin");
        await c.next();
        for (const f of frames) c.send(f);
        c.send({ type: "req", id: "probe", method: "ping" });
        // Every frame gets an answer or the connection is closed for abuse; the server lives on.
        for (;;) {
          const next = await Promise.race([c.next(), c.closed.then(() => undefined)]);
          if (!next || next.id === "probe") break;
          assert.equal(next.type, "res");
        }
        c.ws.close();
      }),
      { numRuns: 30 },
    );
    const big = await connect("admin");
    await big.next();
    big.send({ type: "req", id: 1, method: "ping", params: "x".repeat(2 * 1024 * 1024) });
    assert.equal((await big.closed).code, 1009, "an oversized frame closes the connection");
    const binary = await connect("admin");
    await binary.next();
    binary.ws.send(Buffer.from([1, 2, 3]));
    assert.equal((await binary.next()).error?.code, "BAD_FRAME");
    assert.equal((await fetch(`http://127.0.0.1:${gw.port}/healthz`)).status, 200);
  });

  it("rate-limits a flood and closes the connection after repeated abuse", async () => {
    const c = await connect("admin");
    await c.next();
    for (let i = 0; i < 400; i++) c.send({ type: "req", id: i, method: "ping" });
    const codes = new Set<string>();
    for (;;) {
      const f = await Promise.race([c.next(), c.closed.then(() => undefined)]);
      if (!f) break;
      if (f.error) codes.add(f.error.code);
    }
    assert.ok(codes.has("RATE_LIMITED"), [...codes].join(","));
    assert.equal((await c.closed).code, 1008);
  });

  it("shuts down on SIGTERM, leaving a verifiable audit log that recorded the auth failure", async () => {
    gw.child.kill("SIGTERM");
    const code = await new Promise((resolve) => gw.child.once("exit", resolve));
    assert.equal(code, 0);
    const show = runCli(["--home", home, "audit", "show", "--kind", "system"]);
    assert.match(show.stdout, /auth\.failed/);
    assert.match(show.stdout, /gateway\.stop/);
    assert.doesNotMatch(show.stdout, new RegExp(token), "the token never enters the audit log");
    assert.equal(runCli(["--home", home, "audit", "verify"]).status, 0);
  });

  it("refuses a public bind without --insecure-public", () => {
    assertCleanFailure(runCli(["--home", home, "serve", "--host", "0.0.0.0", "--port", "0"]), "GATEWAY_PUBLIC_BIND");
  });
});

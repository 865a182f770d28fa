// Capability enforcement end to end: a real sandbox worker, the runtime's real effects
// handler, a real audit log and real loopback HTTP servers. Everything a skill's manifest
// does not declare is refused, and the refused target sees nothing at all.
//
// A worker that forges IPC requests (a compromised worker, not a guest) is covered in
// walls.test.ts with a hostile worker entry; here the gateway's re-check is exercised as
// the pure function it is (checkCapability) and through the real pool.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AuditLog, type AuditEntry, AuditReader, generateNoteKey } from "../../audit/index.js";
import { CredentialBroker } from "../../runtime/broker/broker.js";
import { auditSandboxEvent, defaultCapabilityHandler } from "../../runtime/effects/capability-handler.js";
import { Scrubber } from "../../runtime/secrets/scrubber.js";
import { workspaceDir } from "../../runtime/effects/workspace.js";
import { createLogger } from "../../runtime/logger.js";
import { checkCapability, SandboxError, type SandboxEvent, SandboxPool, type SandboxSkill } from "../../sandbox/index.js";
import { type Manifest, parseManifest } from "../../skills-registry/index.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Seen {
  method: string;
  url: string;
}

interface Recorder {
  server: Server;
  port: number;
  seen: Seen[];
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** A loopback HTTP server that records every request it receives. */
async function recorder(host: string, handle: (req: IncomingMessage, port: number) => Reply): Promise<Recorder> {
  const seen: Seen[] = [];
  let port = 0;
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "" });
    req.resume();
    req.on("end", () => {
      const out = handle(req, port);
      res.writeHead(out.status, out.headers ?? { "content-type": "text/plain" });
      res.end(out.body ?? "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  port = (server.address() as AddressInfo).port;
  return { server, port, seen };
}

async function stop(r: Recorder): Promise<void> {
  r.server.closeAllConnections();
  await new Promise<void>((resolve) => r.server.close(() => resolve()));
}

/** What the guest reports from a call: its value, or the error it caught. */
interface GuestError {
  name: string;
  message: string;
  code: string | null;
  capability: string | null;
  request: string | null;
  need: string | null;
}
interface GuestResult {
  ok?: Json;
  error?: GuestError;
}

const CAPS_SKILL = `
import { net, fs, kv } from "skillgate";

const report = (e) => ({
  error: { name: e.name, message: e.message, code: e.code ?? null, capability: e.capability ?? null, request: e.request ?? null, need: e.need ?? null },
});

export async function fetch_url({ url, method, body, credential }) {
  try {
    return { ok: await net.fetch(url, { method, body, credential }) };
  } catch (e) {
    return report(e);
  }
}

export async function file({ op, path, text }) {
  try {
    return { ok: await fs[op](path, text) };
  } catch (e) {
    return report(e);
  }
}

export async function store({ op, key, value }) {
  try {
    return { ok: await kv[op](key, value) };
  } catch (e) {
    return report(e);
  }
}
`;

const OBJECT = { type: "object" };

function capsManifest(port: number): Manifest {
  return parseManifest(
    JSON.stringify({
      name: "@test/caps",
      version: "1.0.0",
      description: "Asks for things.",
      entry: "index.js",
      tools: [
        { name: "fetch_url", description: "fetch", input: OBJECT, effect: "external" },
        { name: "file", description: "file", input: OBJECT, effect: "write" },
        { name: "store", description: "kv", input: OBJECT, effect: "write" },
      ],
      capabilities: {
        net: [{ host: "127.0.0.1", port, methods: ["GET"], paths: ["/v1/"] }],
        fs: [
          { path: "notes/", access: ["read", "write"] },
          { path: "inbox", access: ["read"] },
        ],
        credentials: [
          { ref: "github", hosts: ["api.github.com"], inject: { type: "header", name: "Authorization", template: "Bearer {secret}" } },
          { ref: "local", hosts: ["127.0.0.1"], inject: { type: "header", name: "Authorization", template: "Bearer {secret}" } },
        ],
        kv: { maxKeys: 3, maxBytes: 200 },
      },
      limits: { memoryMb: 64, cpuMs: 1000, wallMs: 5000, outputBytes: 1024 * 1024 },
    }),
  );
}

/** A manifest with net only: no fs, no kv, no messages. */
function netOnlyManifest(port: number, tool = "run"): Manifest {
  return parseManifest(
    JSON.stringify({
      name: "@test/net-only",
      version: "1.0.0",
      description: "Has net and nothing else.",
      entry: "index.js",
      tools: [{ name: tool, description: "run", input: OBJECT, effect: "read" }],
      capabilities: { net: [{ host: "127.0.0.1", port, methods: ["GET"], paths: ["/v1/"] }] },
    }),
  );
}

const digestOf = (label: string) => createHash("sha256").update(label).digest("hex");

describe("capability enforcement (real worker, runtime handler, loopback servers)", () => {
  let dir: string;
  let workspacesRoot: string;
  let outside: string;
  let auditPath: string;
  let audit: AuditLog;
  let pool: SandboxPool;
  let declared: Recorder;
  let attacker: Recorder;
  let otherPort: Recorder;
  let skill: SandboxSkill;
  const events: SandboxEvent[] = [];
  const SESSION = "agent:caps:main";
  const SECRET = "root:x:0:0:TOP-SECRET-OUTSIDE-THE-WORKSPACE";

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "skillgate-caps-"));
    workspacesRoot = join(dir, "workspaces");
    outside = join(dir, "outside");
    mkdirSync(outside);
    writeFileSync(join(outside, "secret.txt"), SECRET);
    auditPath = join(dir, "audit.db");
    audit = await AuditLog.open({ path: auditPath, signer: generateNoteKey("test.local/caps") });

    attacker = await recorder("127.0.0.2", () => ({ status: 200, body: "attacker got it" }));
    otherPort = await recorder("127.0.0.1", () => ({ status: 200, body: "wrong port got it" }));
    declared = await recorder("127.0.0.1", (req, port): Reply => {
      const url = req.url ?? "";
      if (url === "/v1/data") return { status: 200, headers: { "content-type": "text/plain", "x-internal": "hidden" }, body: "declared data" };
      if (url === "/v1/go-in") return { status: 302, headers: { location: "/v1/data" } };
      if (url === "/v1/go-admin") return { status: 302, headers: { location: `http://127.0.0.1:${port}/admin` } };
      if (url === "/v1/go-out") return { status: 302, headers: { location: `http://127.0.0.2:${attacker.port}/v1/data` } };
      if (url === "/v1/go-port") return { status: 307, headers: { location: `http://127.0.0.1:${otherPort.port}/v1/data` } };
      return { status: 404, body: "no" };
    });

    pool = await SandboxPool.start({
      size: 1,
      capabilityHandler: defaultCapabilityHandler({
        workspacesRoot,
        audit,
        logger: createLogger({ level: "silent" }),
        // The operator lets these loopback hosts through; the manifest still decides which are declared.
        broker: new CredentialBroker({ scrubber: new Scrubber(), allowPrivateHosts: ["127.0.0.1", "127.0.0.2"], maxResponseBytes: 1 << 20, timeoutMs: 5000, maxRedirects: 5 }),
      }),
      onEvent: (event) => {
        events.push(event);
        auditSandboxEvent(audit, event);
      },
    });
    skill = { name: "@test/caps", digest: digestOf("caps"), code: CAPS_SKILL, manifest: capsManifest(declared.port) };
  });

  after(async () => {
    await pool?.close();
    await audit?.close();
    for (const r of [declared, attacker, otherPort]) if (r) await stop(r);
    rmSync(dir, { recursive: true, force: true });
  });

  async function guest(tool: string, input: Record<string, Json>, session = SESSION): Promise<GuestResult> {
    const result = await pool.invoke({ session, skill, tool, input });
    return result.output as GuestResult;
  }

  const fetchUrl = (url: string, extra: Record<string, Json> = {}) => guest("fetch_url", { url, ...extra });

  /** The guest got a NotCapable naming the capability, and the gateway emitted a matching refusal. */
  function assertRefused(result: GuestResult, capability: string, request?: RegExp): GuestError {
    assert.equal(result.ok, undefined, `expected a refusal, got ${JSON.stringify(result.ok)}`);
    const error = result.error;
    assert.ok(error, "no error reported");
    assert.equal(error.name, "NotCapable", JSON.stringify(error));
    assert.equal(error.capability, capability);
    assert.equal(typeof error.request, "string");
    assert.equal(typeof error.need, "string");
    if (request) assert.match(error.request ?? "", request);
    const event = events.find((e) => e.type === "refused" && e.refusal?.request === error.request && e.refusal.capability === capability);
    assert.ok(event, `no "refused" event for ${error.request}`);
    assert.equal(event.session, SESSION);
    assert.equal(event.skill, "@test/caps");
    return error;
  }

  describe("net", () => {
    it("a declared GET works and returns the body, with only pass-listed headers", async () => {
      const r = await fetchUrl(`http://127.0.0.1:${declared.port}/v1/data`);
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      const res = r.ok as { status: number; headers: Record<string, string>; body: string };
      assert.equal(res.status, 200);
      assert.equal(res.body, "declared data");
      assert.equal(res.headers["content-type"], "text/plain");
      assert.equal(res.headers["x-internal"], undefined);
      assert.deepEqual(declared.seen.at(-1), { method: "GET", url: "/v1/data" });
    });

    it("an undeclared host is refused and receives nothing", async () => {
      const before = declared.seen.length;
      const e = assertRefused(await fetchUrl(`http://127.0.0.2:${attacker.port}/v1/data`), "net", /^GET http:\/\/127\.0\.0\.2:\d+\/v1\/data$/);
      assert.match(e.need ?? "", /"host": "127\.0\.0\.2"/);
      // The same server under another name is another host.
      assertRefused(await fetchUrl(`http://localhost:${declared.port}/v1/data`), "net", /localhost/);
      assert.equal(attacker.seen.length, 0);
      assert.equal(declared.seen.length, before);
    });

    it("an undeclared method is refused", async () => {
      const before = declared.seen.length;
      for (const method of ["POST", "delete", "PUT", "HEAD"]) {
        const e = assertRefused(await fetchUrl(`http://127.0.0.1:${declared.port}/v1/data`, { method, body: "x" }), "net");
        assert.match(e.request ?? "", new RegExp(`^${method.toUpperCase()} `));
        assert.match(e.need ?? "", new RegExp(`"methods": \\["${method.toUpperCase()}"\\]`));
      }
      assert.equal(declared.seen.length, before);
    });

    it("a path outside the declared prefix is refused, however it is spelled", async () => {
      const before = declared.seen.length;
      const base = `http://127.0.0.1:${declared.port}`;
      assertRefused(await fetchUrl(`${base}/admin`), "net", /\/admin$/);
      // Dot segments are resolved before the check: the request names the real path.
      assertRefused(await fetchUrl(`${base}/v1/../admin`), "net", /:\d+\/admin$/);
      assertRefused(await fetchUrl(`${base}/v1/%2e%2e/admin`), "net", /:\d+\/admin$/);
      assertRefused(await fetchUrl(`${base}/v1\\..\\admin`), "net", /:\d+\/admin$/);
      assertRefused(await fetchUrl(`${base}/v1/..%2fadmin`), "net");
      assertRefused(await fetchUrl(`${base}/v1/..%2Fadmin`), "net");
      assertRefused(await fetchUrl(`${base}/v1%2f..%2fadmin`), "net");
      assertRefused(await fetchUrl(`${base}/v1/..%5cadmin`), "net");
      assertRefused(await fetchUrl(`${base}/v1x/data`), "net");
      assertRefused(await fetchUrl(`${base}/V1/data`), "net");
      assert.equal(declared.seen.length, before, `the server saw ${JSON.stringify(declared.seen.slice(before))}`);
    });

    it("an undeclared port on the declared host is refused and receives nothing", async () => {
      const e = assertRefused(await fetchUrl(`http://127.0.0.1:${otherPort.port}/v1/data`), "net");
      assert.match(e.need ?? "", new RegExp(`"port": ${otherPort.port}`));
      // The default port is a port too.
      assertRefused(await fetchUrl(`http://127.0.0.1/v1/data`), "net");
      assert.equal(otherPort.seen.length, 0);
    });

    it("non-http schemes and URLs with user info are refused", async () => {
      const before = declared.seen.length;
      for (const url of ["file:///etc/passwd", `ftp://127.0.0.1:${declared.port}/v1/data`, "data:text/plain,hello", "javascript:alert(1)", "ws://127.0.0.1/v1/"]) {
        assertRefused(await fetchUrl(url), "net");
      }
      assertRefused(await fetchUrl(`http://user:pw@127.0.0.1:${declared.port}/v1/data`), "net");
      assertRefused(await fetchUrl("not a url"), "net");
      assert.equal(declared.seen.length, before);
    });

    it("credentials: an undeclared reference, one declared for other hosts, or a bare name are refused", async () => {
      const before = declared.seen.length;
      const url = `http://127.0.0.1:${declared.port}/v1/data`;
      assertRefused(await fetchUrl(url, { credential: "cred:undeclared" }), "net", /with cred:undeclared/);
      assertRefused(await fetchUrl(url, { credential: "cred:github" }), "net", /with cred:github/);
      assertRefused(await fetchUrl(url, { credential: "github" }), "net");
      // A declared one passes the manifest, but with no broker configured nothing is sent.
      const r = await fetchUrl(url, { credential: "cred:local" });
      assert.equal(r.error?.code, "CREDENTIAL_UNAVAILABLE", JSON.stringify(r));
      assert.equal(declared.seen.length, before);
    });

    it("a redirect from the declared server to an undeclared host is refused; the target receives nothing", async () => {
      const r = await fetchUrl(`http://127.0.0.1:${declared.port}/v1/go-out`);
      assert.equal(r.error?.name, "NotCapable", JSON.stringify(r));
      assert.equal(r.error?.capability, "net");
      assert.match(r.error?.request ?? "", /127\.0\.0\.2/);
      assert.deepEqual(declared.seen.at(-1), { method: "GET", url: "/v1/go-out" });
      assert.equal(attacker.seen.length, 0);
    });

    it("a redirect to an undeclared port or path is refused; the target receives nothing", async () => {
      const port = await fetchUrl(`http://127.0.0.1:${declared.port}/v1/go-port`);
      assert.equal(port.error?.name, "NotCapable", JSON.stringify(port));
      assert.equal(otherPort.seen.length, 0);
      const admin = await fetchUrl(`http://127.0.0.1:${declared.port}/v1/go-admin`);
      assert.equal(admin.error?.name, "NotCapable", JSON.stringify(admin));
      assert.match(admin.error?.request ?? "", /\/admin$/);
      assert.ok(!declared.seen.some((s) => s.url === "/admin"));
    });

    it("a redirect to a declared path is followed", async () => {
      const r = await fetchUrl(`http://127.0.0.1:${declared.port}/v1/go-in`);
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      const res = r.ok as { status: number; headers: Record<string, string>; body: string };
      assert.equal(res.status, 200);
      assert.equal(res.body, "declared data");
      assert.equal(res.headers.location, undefined, "the redirect's own headers are not what is returned");
      assert.deepEqual(declared.seen.slice(-2), [
        { method: "GET", url: "/v1/go-in" },
        { method: "GET", url: "/v1/data" },
      ]);
    });

    it(
      "a redirect refused by the gateway is evidence too: a `refused` event and a capability.refused audit entry",
      async () => {
        const before = events.length;
        const r = await fetchUrl(`http://127.0.0.1:${declared.port}/v1/go-out`);
        assert.equal(r.error?.name, "NotCapable");
        assert.ok(
          events.slice(before).some((e) => e.type === "refused" && e.refusal?.request === r.error?.request),
          "no refused event for the redirect",
        );
      },
    );
  });

  describe("fs", () => {
    const ws = () => workspaceDir(workspacesRoot, SESSION);
    const file = (input: Record<string, Json>) => guest("file", input);
    const outsideSnapshot = () => ({ names: readdirSync(outside).sort(), secret: readFileSync(join(outside, "secret.txt"), "utf8") });

    it("write, read, list and remove inside the declared directory work, in the session's workspace", async () => {
      assert.deepEqual(await file({ op: "writeText", path: "notes/a.txt", text: "hello" }), { ok: null });
      assert.equal(readFileSync(join(ws(), "notes", "a.txt"), "utf8"), "hello");
      assert.deepEqual(await file({ op: "readText", path: "notes/a.txt" }), { ok: "hello" });
      assert.deepEqual(await file({ op: "writeText", path: "notes/sub/b.txt", text: "deep" }), { ok: null });
      assert.equal(readFileSync(join(ws(), "notes", "sub", "b.txt"), "utf8"), "deep");
      assert.deepEqual(await file({ op: "list", path: "notes/" }), { ok: ["a.txt", "sub/"] });
      assert.deepEqual(await file({ op: "list", path: "notes" }), { ok: ["a.txt", "sub/"] });
      assert.deepEqual(await file({ op: "remove", path: "notes/sub/b.txt" }), { ok: null });
      assert.equal(existsSync(join(ws(), "notes", "sub", "b.txt")), false);
      // Another session has another workspace.
      const other = await guest("file", { op: "readText", path: "notes/a.txt" }, "agent:caps:other");
      assert.equal(other.error?.code, "FS_REFUSED", JSON.stringify(other));
    });

    it("`..`, absolute, dot, empty, backslash and out-of-prefix paths are refused before any effect", async () => {
      const before = outsideSnapshot();
      const paths = ["../x", "../outside/secret.txt", "/etc/passwd", "notes/../../x", "notes/../inbox/x", "notes/./a.txt", "notes//a.txt", "", "notes\\..\\..\\x", "other/x.txt", "notesx/a.txt", "notes/a.txt\0"];
      for (const path of paths) {
        for (const op of ["readText", "writeText", "list", "remove"]) {
          const e = assertRefused(await file({ op, path, text: "pwned" }), "fs");
          assert.match(e.request ?? "", new RegExp(`^${op} `));
        }
      }
      assert.deepEqual(outsideSnapshot(), before);
      assert.equal(existsSync(join(workspacesRoot, "x")), false);
      assert.equal(existsSync(join(dir, "x")), false);
      assert.deepEqual(readdirSync(ws()).sort(), ["notes"]);
    });

    it("a read-only declaration does not allow writes", async () => {
      const e = assertRefused(await file({ op: "writeText", path: "inbox/x.txt", text: "x" }), "fs", /^writeText "inbox\/x.txt"$/);
      assert.match(e.need ?? "", /"access": \["write"\]/);
      assertRefused(await file({ op: "remove", path: "inbox/x.txt" }), "fs");
      // Reading is declared: the handler answers (the file just is not there).
      const read = await file({ op: "readText", path: "inbox/x.txt" });
      assert.equal(read.error?.code, "FS_REFUSED");
      assert.equal(existsSync(join(ws(), "inbox", "x.txt")), false);
    });

    it("a symlink planted inside the workspace that points outside is refused for every operation", async () => {
      const before = outsideSnapshot();
      symlinkSync(join(outside, "secret.txt"), join(ws(), "notes", "link.txt"));
      symlinkSync(outside, join(ws(), "notes", "out"));
      const attempts: Record<string, Json>[] = [
        { op: "readText", path: "notes/link.txt" },
        { op: "writeText", path: "notes/link.txt", text: "overwritten" },
        { op: "remove", path: "notes/link.txt" },
        { op: "readText", path: "notes/out/secret.txt" },
        { op: "writeText", path: "notes/out/secret.txt", text: "overwritten" },
        { op: "writeText", path: "notes/out/new.txt", text: "planted" },
        { op: "writeText", path: "notes/out/deeper/new.txt", text: "planted" },
        { op: "list", path: "notes/out" },
        { op: "list", path: "notes/out/" },
        { op: "remove", path: "notes/out/secret.txt" },
      ];
      for (const input of attempts) {
        const r = await file(input);
        assert.equal(r.ok, undefined, `${JSON.stringify(input)} → ${JSON.stringify(r.ok)}`);
        assert.equal(r.error?.code, "FS_REFUSED", `${JSON.stringify(input)} → ${JSON.stringify(r.error)}`);
        assert.doesNotMatch(JSON.stringify(r), /TOP-SECRET/);
      }
      // Links are not even listed.
      assert.deepEqual(await file({ op: "list", path: "notes/" }), { ok: ["a.txt", "sub/"] });
      assert.deepEqual(outsideSnapshot(), before);
    });
  });

  describe("kv", () => {
    const store = (input: Record<string, Json>, session?: string) => guest("store", input, session);

    it("the manifest's maxKeys and maxBytes are enforced, per session", async () => {
      for (const key of ["a", "b", "c"]) assert.deepEqual(await store({ op: "set", key, value: { n: key } }), { ok: null });
      const over = await store({ op: "set", key: "d", value: 1 });
      assert.equal(over.error?.code, "KV_QUOTA", JSON.stringify(over));
      // Replacing a key is not a new key.
      assert.deepEqual(await store({ op: "set", key: "a", value: 2 }), { ok: null });
      const big = await store({ op: "set", key: "b", value: "x".repeat(300) });
      assert.equal(big.error?.code, "KV_QUOTA", JSON.stringify(big));
      assert.deepEqual(await store({ op: "keys" }), { ok: ["a", "b", "c"] });
      assert.deepEqual(await store({ op: "get", key: "a" }), { ok: 2 });
      assert.deepEqual(await store({ op: "get", key: "b" }), { ok: { n: "b" } });
      assert.deepEqual(await store({ op: "keys" }, "agent:caps:other"), { ok: [] });
      assert.deepEqual(await store({ op: "delete", key: "c" }), { ok: null });
      assert.deepEqual(await store({ op: "set", key: "d", value: 1 }), { ok: null });
    });
  });

  describe("undeclared capabilities do not exist in the guest", () => {
    const netOnly = (label: string, code: string): SandboxSkill => ({ name: "@test/net-only", digest: digestOf(label), code, manifest: netOnlyManifest(declared.port) });

    it("importing an undeclared capability fails to load", async () => {
      for (const name of ["fs", "kv", "messages"]) {
        const s = netOnly(`import-${name}`, `import { ${name} } from "skillgate";\nexport function run() { return typeof ${name}; }`);
        await assert.rejects(pool.invoke({ session: SESSION, skill: s, tool: "run", input: {} }), (err: unknown) => {
          assert.ok(err instanceof SandboxError);
          assert.equal(err.code, "SKILL_LOAD_FAILED", err.message);
          assert.match(err.message, new RegExp(name));
          return true;
        });
      }
    });

    it("the host module exports exactly the declared capabilities", async () => {
      const s = netOnly("namespace", `import * as sg from "skillgate";\nexport function run() { return Object.keys(sg).sort(); }`);
      const r = await pool.invoke({ session: SESSION, skill: s, tool: "run", input: {} });
      assert.deepEqual(r.output, ["log", "net"]);
      const full = { ...skill, digest: digestOf("namespace-full"), code: `import * as sg from "skillgate";\nexport function fetch_url() { return Object.keys(sg).sort(); }` };
      const all = await pool.invoke({ session: SESSION, skill: full, tool: "fetch_url", input: {} });
      assert.deepEqual(all.output, ["fs", "kv", "log", "net"]);
    });

    it("global-object tricks find no fs or kv in a skill that did not declare them", async () => {
      // Walks everything reachable from the global object (two levels) looking for anything
      // shaped like a file or key-value capability; also tries a dynamic import.
      const code = `
export async function run() {
  const found = [];
  const seen = new Set();
  const look = (value, path, depth) => {
    if (value === null || (typeof value !== "object" && typeof value !== "function") || seen.has(value)) return;
    seen.add(value);
    const fn = (name) => { try { return typeof value[name] === "function"; } catch { return false; } };
    const fsLike = fn("readText") || fn("writeText");
    const kvLike = Object.isFrozen(value) && fn("get") && fn("set") && fn("delete") && fn("keys");
    if (fsLike || kvLike) found.push(path);
    if (depth === 0) return;
    for (const key of Reflect.ownKeys(value)) {
      let child;
      try { child = value[key]; } catch { continue; }
      look(child, path + "." + String(key), depth - 1);
    }
  };
  look(globalThis, "globalThis", 3);
  let dynamic = "none";
  try { const m = await import("skillgate"); dynamic = Object.keys(m).sort().join(","); } catch (e) { dynamic = "threw"; }
  const leftover = Object.keys(globalThis.__skillgate_capabilities__ ?? {}).sort();
  return { found, dynamic, leftover };
}`;
      const r = await pool.invoke({ session: SESSION, skill: netOnly("global-walk", code), tool: "run", input: {} });
      const out = r.output as { found: string[]; dynamic: string; leftover: string[] };
      assert.deepEqual(out.found, []);
      // A bundle that never imports "skillgate" still finds the bootstrap's hand-off object on
      // the global (see the report); it must at least hold nothing undeclared.
      for (const name of out.leftover) assert.ok(["log", "net"].includes(name), `undeclared ${name} reachable from the global object`);
      assert.ok(out.dynamic === "threw" || !/\b(fs|kv)\b/.test(out.dynamic), out.dynamic);
    });

    it("the gateway's check refuses what the manifest does not declare, whatever a worker sends (pure re-check)", () => {
      const m = netOnlyManifest(declared.port);
      const refusedBy = (capability: "net" | "fs" | "kv" | "messages" | "log", op: string, args: Json) => {
        const d = checkCapability(m, capability, op, args);
        assert.equal(d.ok, false, `${capability}.${op} ${JSON.stringify(args)} was allowed`);
        return d.ok ? undefined : d.refusal;
      };
      assert.match(refusedBy("fs", "readText", { path: "notes/a.txt" })?.need ?? "", /^capabilities\.fs/);
      assert.match(refusedBy("fs", "writeText", { path: "a", text: "x" })?.need ?? "", /^capabilities\.fs/);
      assert.match(refusedBy("kv", "get", { key: "a" })?.need ?? "", /^capabilities\.kv/);
      assert.match(refusedBy("messages", "send", { to: "operator", text: "hi" })?.need ?? "", /^capabilities\.messages/);
      refusedBy("net", "fetch", { url: `http://127.0.0.2:${declared.port}/v1/data` });
      refusedBy("net", "fetch", { url: `http://127.0.0.1:${declared.port}/v1/data`, method: "POST" });
      refusedBy("net", "connect", { url: `http://127.0.0.1:${declared.port}/v1/data` });
      refusedBy("net", "fetch", { notUrl: true });
      refusedBy("net", "fetch", null);
      refusedBy("log", "exec", { message: "x" });
      // Positive controls: the same check lets the declared things through.
      assert.equal(checkCapability(m, "net", "fetch", { url: `http://127.0.0.1:${declared.port}/v1/data` }).ok, true);
      assert.equal(checkCapability(m, "log", "info", { message: "x" }).ok, true);
      assert.equal(checkCapability(skill.manifest, "fs", "readText", { path: "notes/a.txt" }).ok, true);
    });
  });

  describe("evidence", () => {
    it("every refusal the gateway made is a `refused` event and a capability.refused audit entry; effects are `touched`", async () => {
      await audit.settle();
      const refusals = events.filter((e) => e.type === "refused");
      assert.ok(refusals.length >= 60, `only ${refusals.length} refusals recorded`);
      const reader = await AuditReader.open(auditPath);
      let entries: AuditEntry[];
      try {
        entries = await reader.query({ limit: 100_000 });
      } finally {
        await reader.close();
      }
      const refused = entries.filter((e) => e.type === "capability.refused");
      assert.equal(refused.length, refusals.length);
      for (const [i, event] of refusals.entries()) {
        const entry = refused[i];
        assert.ok(entry);
        assert.equal(entry.kind, "decided");
        assert.equal(entry.actor, "sandbox");
        assert.equal(entry.session, event.session);
        const data = entry.data as Record<string, Json>;
        assert.equal(data.request, event.refusal?.request);
        assert.equal(data.capability, event.refusal?.capability);
        assert.equal(data.need, event.refusal?.need);
        assert.equal(data.skill, event.skill);
      }
      const touched = entries.filter((e) => e.kind === "touched");
      assert.ok(touched.some((e) => e.type === "net.fetch" && e.actor === "skill:@test/caps" && e.session === SESSION));
      assert.ok(touched.some((e) => e.type === "fs.write_text" && (e.data as Record<string, Json>).path === "notes/a.txt"));
      assert.ok(touched.some((e) => e.type === "kv.set"));
      // No effect was audited as touching anything outside what was declared.
      for (const e of touched.filter((t) => t.type.startsWith("fs."))) assert.match(String((e.data as Record<string, Json>).path), /^notes(\/|$)/);
      assert.deepEqual(
        events.filter((e) => e.type === "crashed"),
        [],
      );
    });
  });
});

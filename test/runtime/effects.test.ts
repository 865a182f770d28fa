// The gateway's effects, unit by unit: workspace files (no way out, not even through a
// symlink), the kv quota, and manifest-checked HTTP (redirects, caps, timeouts, headers).
import assert from "node:assert/strict";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import { KvStore } from "../../runtime/effects/kv-store.js";
import { CredentialBroker } from "../../runtime/broker/broker.js";
import { Scrubber } from "../../runtime/secrets/scrubber.js";
import { listDir, readText, removeFile, workspaceDir, writeText } from "../../runtime/effects/workspace.js";
import { SkillgateError } from "../../runtime/errors.js";
import { checkCapability, type NetTarget } from "../../sandbox/index.js";
import { type Manifest, parseManifest } from "../../skills-registry/index.js";
import { failure } from "../support/failure.js";

interface FetchLimits {
  maxResponseBytes: number;
  timeoutMs: number;
  maxRedirects: number;
}

/** The broker with no vault, the loopback address allowed (these tests' servers live there). */
function manifestFetch(manifest: Manifest, first: NetTarget, args: Json, limits: FetchLimits) {
  return new CredentialBroker({ scrubber: new Scrubber(), allowPrivateHosts: ["127.0.0.1"], ...limits }).fetch({ skill: manifest.name, manifest, first, args, hops: [] });
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

describe("workspace files", () => {
  let dir: string;
  let root: string;
  let outside: string;
  const SECRET = "TOP-SECRET-OUTSIDE";

  const outsideSnapshot = () =>
    readdirSync(outside)
      .sort()
      .map((name) => {
        const p = join(outside, name);
        return statSync(p).isFile() ? `${name}=${readFileSync(p, "utf8")}` : `${name}/`;
      });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "skillgate-ws-"));
    root = join(dir, "workspaces", "session");
    outside = join(dir, "outside");
    mkdirSync(join(outside, "sub"), { recursive: true });
    writeFileSync(join(outside, "secret.txt"), SECRET);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it("writes, reads, lists and removes inside the workspace, creating directories (0700) and files (0600)", async () => {
    assert.equal(await writeText(root, "a/b/c.txt", "hello"), null);
    assert.equal(readFileSync(join(root, "a", "b", "c.txt"), "utf8"), "hello");
    assert.equal(statSync(join(root, "a", "b", "c.txt")).mode & 0o777, 0o600);
    assert.equal(statSync(join(root, "a")).mode & 0o777, 0o700);
    assert.equal(await readText(root, "a/b/c.txt"), "hello");
    await writeText(root, "a/b/c.txt", "replaced");
    assert.equal(await readText(root, "a/b/c.txt"), "replaced");
    await writeText(root, "a/top.txt", "t");
    assert.deepEqual(await listDir(root, "a"), ["b/", "top.txt"]);
    assert.deepEqual(await listDir(root, "a/"), ["b/", "top.txt"]);
    assert.deepEqual(await listDir(root, "nothing-here"), []);
    assert.equal(await removeFile(root, "a/top.txt"), null);
    assert.equal(existsSync(join(root, "a", "top.txt")), false);
    assert.equal(await removeFile(root, "a/top.txt"), null, "removing what is not there is not an error");
    assert.equal((await failure(readText(root, "a/missing.txt"))).code, "FS_REFUSED");
    assert.equal((await failure(removeFile(root, "a/b"))).code, "FS_REFUSED", "remove deletes files only");
    assert.equal((await failure(readText(root, "a/b"))).code, "FS_REFUSED", "a directory is not a file");
    assert.equal((await failure(writeText(root, "a/b/c.txt/d.txt", "x"))).code, "FS_REFUSED", "a file is not a directory");
  });

  it("refuses `..`, absolute, empty, dot, backslash and NUL paths in every operation", async () => {
    const before = outsideSnapshot();
    const bad = ["..", "../x", "../../outside/secret.txt", "a/../../x", "a/..", "/etc/passwd", `${outside}/secret.txt`, "", ".", "./a", "a//b", "a\\..\\x", "a\0b", "a/b\0/../c", "x".repeat(513)];
    for (const path of bad) {
      for (const [name, op] of [
        ["readText", () => readText(root, path)],
        ["writeText", () => writeText(root, path, "pwned")],
        ["listDir", () => listDir(root, path)],
        ["removeFile", () => removeFile(root, path)],
      ] as const) {
        const err = await failure(op);
        assert.equal(err.code, "FS_REFUSED", `${name}(${JSON.stringify(path)}): ${err.message}`);
      }
    }
    assert.deepEqual(outsideSnapshot(), before);
    assert.deepEqual(readdirSync(dirname(root)), ["session"], "nothing was written beside the workspace");
  });

  it("refuses a symlink as the final component, whether it points outside, nowhere or inside", async () => {
    const before = outsideSnapshot();
    mkdirSync(join(root, "links"), { recursive: true });
    symlinkSync(join(outside, "secret.txt"), join(root, "links", "out.txt"));
    symlinkSync(join(outside, "planted.txt"), join(root, "links", "dangling.txt"));
    writeFileSync(join(root, "links", "real.txt"), "inside");
    symlinkSync(join(root, "links", "real.txt"), join(root, "links", "in.txt"));
    for (const name of ["out.txt", "dangling.txt", "in.txt"]) {
      const path = `links/${name}`;
      for (const op of [() => readText(root, path), () => writeText(root, path, "pwned"), () => removeFile(root, path), () => listDir(root, path)]) {
        const err = await failure(op);
        assert.equal(err.code, "FS_REFUSED");
        assert.doesNotMatch(err.message, /TOP-SECRET/);
      }
      assert.ok(lstatSync(join(root, path)).isSymbolicLink(), "the link itself was left alone");
    }
    assert.equal(readFileSync(join(root, "links", "real.txt"), "utf8"), "inside");
    assert.deepEqual(outsideSnapshot(), before);
    assert.equal(existsSync(join(outside, "planted.txt")), false);
    // Listing the directory does not show links at all.
    assert.deepEqual(await listDir(root, "links"), ["real.txt"]);
  });

  it("refuses a symlinked directory anywhere on the path, at any depth", async () => {
    const before = outsideSnapshot();
    mkdirSync(join(root, "d1", "d2", "d3"), { recursive: true });
    symlinkSync(outside, join(root, "top-link"));
    symlinkSync(outside, join(root, "d1", "d2", "d3", "deep-link"));
    symlinkSync(join(root, "d1"), join(root, "d1", "d2", "loop"));
    const paths = [
      "top-link/secret.txt",
      "top-link/sub/x.txt",
      "top-link/new/x.txt",
      "d1/d2/d3/deep-link/secret.txt",
      "d1/d2/d3/deep-link/new.txt",
      "d1/d2/d3/deep-link/sub",
      "d1/d2/loop/d2/d3/x.txt",
    ];
    for (const path of paths) {
      for (const op of [() => readText(root, path), () => writeText(root, path, "pwned"), () => removeFile(root, path), () => listDir(root, path)]) {
        const err = await failure(op);
        assert.equal(err.code, "FS_REFUSED", `${path}: ${err.message}`);
        assert.match(err.message, /symbolic link/);
      }
    }
    assert.deepEqual(outsideSnapshot(), before);
    assert.equal(existsSync(join(outside, "new")), false);
    assert.deepEqual(readdirSync(join(root, "d1", "d2", "d3")), ["deep-link"]);
  });

  it("O_NOFOLLOW: a final component swapped to a symlink between check and open never reads or writes outside", async (t) => {
    const raceDir = join(root, "race");
    mkdirSync(raceDir, { recursive: true });
    const target = join(outside, "race-target.txt");
    writeFileSync(target, "UNTOUCHED");
    const stopFlag = new Int32Array(new SharedArrayBuffer(4));
    // Another thread keeps atomically replacing race.txt: a regular file, then a link out.
    const flipper = new Worker(
      `
const { workerData } = require("node:worker_threads");
const fs = require("node:fs");
const path = require("node:path");
const { dir, secret, target, stop } = workerData;
while (Atomics.load(stop, 0) === 0) {
  for (const [name, out] of [["race.txt", secret], ["race-w.txt", target]]) {
    try { fs.symlinkSync(out, path.join(dir, name + ".l")); fs.renameSync(path.join(dir, name + ".l"), path.join(dir, name)); } catch {}
    try { fs.writeFileSync(path.join(dir, name + ".f"), "benign"); fs.renameSync(path.join(dir, name + ".f"), path.join(dir, name)); } catch {}
  }
}`,
      { eval: true, workerData: { dir: raceDir, secret: join(outside, "secret.txt"), target, stop: stopFlag } },
    );
    const tally: Record<string, number> = {};
    const count = (key: string) => (tally[key] = (tally[key] ?? 0) + 1);
    try {
      const deadline = Date.now() + 1500;
      for (let i = 0; i < 4000 && Date.now() < deadline; i++) {
        try {
          count(`read:${await readText(root, "race/race.txt")}`);
        } catch (err) {
          count(`read:${(err as Error).message.includes("ELOOP") ? "ELOOP" : (err as { code?: string }).code ?? "other"}`);
        }
        try {
          await writeText(root, "race/race-w.txt", "PWNED");
          count("write:ok");
        } catch (err) {
          count(`write:${(err as Error).message.includes("ELOOP") ? "ELOOP" : (err as { code?: string }).code ?? "other"}`);
        }
      }
    } finally {
      Atomics.store(stopFlag, 0, 1);
      await flipper.terminate();
    }
    t.diagnostic(JSON.stringify(tally));
    assert.equal(tally[`read:${SECRET}`], undefined, "a read followed a swapped-in link out of the workspace");
    assert.equal(readFileSync(target, "utf8"), "UNTOUCHED", "a write followed a swapped-in link out of the workspace");
    assert.ok((tally["read:benign"] ?? 0) + (tally["write:ok"] ?? 0) > 0, "the race never let a call through: it did not exercise anything");
  });

  it("workspaceDir hashes the session key: no key can steer the path", () => {
    const base = join(dir, "workspaces");
    for (const session of ["../../etc", "/etc", "agent:a:main", "..", "a/b", "\0", "hook:" + "x".repeat(5000)]) {
      const ws = workspaceDir(base, session);
      assert.equal(dirname(ws), base, session);
      assert.match(basename(ws), /^[0-9a-f]{32}$/);
    }
    assert.equal(workspaceDir(base, "agent:a:main"), workspaceDir(base, "agent:a:main"));
    assert.notEqual(workspaceDir(base, "agent:a:main"), workspaceDir(base, "agent:b:main"));
  });

  it("a hostile session key's workspace is still inside the root", async () => {
    const base = join(dir, "workspaces");
    const ws = workspaceDir(base, "../../etc");
    await writeText(ws, "x.txt", "ok");
    assert.equal(readFileSync(join(ws, "x.txt"), "utf8"), "ok");
    assert.ok(readdirSync(base).includes(basename(ws)));
    assert.deepEqual(outsideSnapshot().filter((e) => e.startsWith("x.txt")), []);
  });
});

describe("kv store quota", () => {
  const quota = { maxKeys: 3, maxBytes: 1000 };

  it("maxKeys: a new key past the quota is refused; replacing or deleting is not a new key", async () => {
    const kv = new KvStore();
    for (const key of ["a", "b", "c"]) assert.equal(kv.set("s", "@x/y", key, key, quota), null);
    assert.equal((await failure(() => kv.set("s", "@x/y", "d", 1, quota))).code, "KV_QUOTA");
    assert.equal(kv.get("s", "@x/y", "d"), null);
    kv.set("s", "@x/y", "a", "again", quota);
    assert.equal(kv.get("s", "@x/y", "a"), "again");
    kv.delete("s", "@x/y", "b");
    kv.set("s", "@x/y", "d", 1, quota);
    assert.deepEqual(kv.keys("s", "@x/y"), ["a", "c", "d"]);
  });

  it("maxBytes counts UTF-8 bytes of every key and JSON value, the replaced value excluded", async () => {
    const kv = new KvStore();
    // "k" (1 byte) + "\"v\"" (3 bytes) = 4 bytes.
    assert.equal(kv.set("s", "@x/y", "k", "v", { maxKeys: 10, maxBytes: 4 }), null);
    const small = { maxKeys: 10, maxBytes: 3 };
    assert.equal((await failure(() => new KvStore().set("s", "@x/y", "k", "v", small))).code, "KV_QUOTA");
    // "é" is two bytes in UTF-8: "é" + "\"é\"" = 2 + 4 = 6.
    assert.equal((await failure(() => new KvStore().set("s", "@x/y", "é", "é", { maxKeys: 10, maxBytes: 5 }))).code, "KV_QUOTA");
    assert.equal(new KvStore().set("s", "@x/y", "é", "é", { maxKeys: 10, maxBytes: 6 }), null);

    const q = { maxKeys: 10, maxBytes: 20 };
    const store = new KvStore();
    store.set("s", "@x/y", "a", "x".repeat(10), q); // 1 + 12 = 13
    // Replacing a's value with 17 bytes counts 1 + 19 = 20, not 13 + 20.
    assert.equal(store.set("s", "@x/y", "a", "y".repeat(17), q), null);
    assert.equal((await failure(() => store.set("s", "@x/y", "b", 1, q))).code, "KV_QUOTA", "22 bytes in all");
    // A refused set leaves the old value.
    assert.equal((await failure(() => store.set("s", "@x/y", "a", "z".repeat(18), q))).code, "KV_QUOTA");
    assert.equal(store.get("s", "@x/y", "a"), "y".repeat(17));
  });

  it("spaces are per (session, skill); values come back as copies", () => {
    const kv = new KvStore();
    kv.set("s1", "@x/y", "k", { list: [1] }, quota);
    assert.equal(kv.get("s2", "@x/y", "k"), null);
    assert.equal(kv.get("s1", "@x/z", "k"), null);
    assert.deepEqual(kv.keys("s2", "@x/y"), []);
    const got = kv.get("s1", "@x/y", "k") as { list: number[] };
    got.list.push(2);
    assert.deepEqual(kv.get("s1", "@x/y", "k"), { list: [1] });
    // Filling one space does not eat another's quota.
    for (const key of ["b", "c"]) kv.set("s1", "@x/y", key, 1, quota);
    assert.equal(kv.set("s2", "@x/y", "z", 1, quota), null);
  });

  it("keys must be 1 to 256 characters", async () => {
    const kv = new KvStore();
    assert.equal((await failure(() => kv.set("s", "@x/y", "", 1, quota))).code, "KV_REFUSED");
    assert.equal((await failure(() => kv.set("s", "@x/y", "k".repeat(257), 1, quota))).code, "KV_REFUSED");
    assert.equal(kv.set("s", "@x/y", "k".repeat(256), 1, quota), null);
  });
});

describe("the broker's egress against loopback servers", () => {
  interface Seen {
    method: string;
    url: string;
    headers: IncomingMessage["headers"];
    body: string;
  }
  let server: Server;
  let other: Server;
  let port: number;
  let otherPort: number;
  const seen: Seen[] = [];
  const otherSeen: string[] = [];
  let manifest: Manifest;
  const held: ServerResponse[] = [];
  const limits: FetchLimits = { maxResponseBytes: 1000, timeoutMs: 3000, maxRedirects: 3 };

  function route(req: IncomingMessage, body: string, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    const hop = /^\/v1\/hop\/(\d+)$/.exec(url.pathname);
    if (hop) {
      const n = Number(hop[1]);
      if (n === 0) return void res.writeHead(200, { "content-type": "text/plain" }).end("landed");
      return void res.writeHead(302, { location: `/v1/hop/${n - 1}` }).end();
    }
    switch (url.pathname) {
      case "/v1/echo":
        return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ method: req.method, headers: req.headers, body }));
      case "/v1/size": {
        const n = Number(url.searchParams.get("n"));
        if (url.searchParams.has("chunked")) {
          res.writeHead(200, { "content-type": "text/plain" });
          for (let sent = 0; sent < n; sent += 100) res.write("z".repeat(Math.min(100, n - sent)));
          return void res.end();
        }
        return void res.writeHead(200, { "content-type": "text/plain", "content-length": String(n) }).end("z".repeat(n));
      }
      case "/v1/never":
        held.push(res);
        return;
      case "/v1/stall-body":
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("partial");
        held.push(res);
        return;
      case "/v1/redirect": {
        const status = Number(url.searchParams.get("status"));
        return void res.writeHead(status, { location: url.searchParams.get("to") ?? "/v1/echo" }).end("redirect body");
      }
      case "/v1/no-location":
        return void res.writeHead(300, { "content-type": "text/plain" }).end("choices");
      case "/v1/headers":
        return void res
          .writeHead(200, {
            "content-type": "text/plain",
            "content-length": "2",
            etag: '"abc"',
            "cache-control": "no-store",
            "set-cookie": "session=secret",
            "x-internal-token": "secret",
            "www-authenticate": "Basic",
            server: "loopback",
          })
          .end("ok");
      default:
        return void res.writeHead(404).end();
    }
  }

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
        route(req, body, res);
      });
    });
    other = createServer((req, res) => {
      otherSeen.push(req.url ?? "");
      res.end("other");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
    otherPort = (other.address() as AddressInfo).port;
    manifest = parseManifest(
      JSON.stringify({
        name: "@test/fetch",
        version: "1.0.0",
        description: "Fetches.",
        entry: "index.js",
        tools: [{ name: "run", description: "run", input: { type: "object" }, effect: "external" }],
        capabilities: { net: [{ host: "127.0.0.1", port, methods: ["GET", "POST", "PUT"], paths: ["/v1/"] }] },
      }),
    );
  });

  after(async () => {
    for (const res of held) res.destroy();
    for (const s of [server, other]) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  });

  function target(path: string, method = "GET"): NetTarget {
    const decision = checkCapability(manifest, "net", "fetch", { url: `http://127.0.0.1:${port}${path}`, method });
    assert.ok(decision.ok && decision.net, `the test's own request must be declared: ${path}`);
    return decision.net;
  }

  const fetchPath = (path: string, args: Record<string, Json> = {}, over: Partial<FetchLimits> = {}) =>
    manifestFetch(manifest, target(path, typeof args.method === "string" ? args.method : "GET"), args, { ...limits, ...over });

  it("follows up to maxRedirects hops, recording each, and refuses one more", async () => {
    let start = seen.length;
    const ok = await fetchPath("/v1/hop/3");
    assert.equal(ok.status, 200);
    assert.equal(ok.body, "landed");
    assert.deepEqual(
      ok.hops.map((h) => [h.method, h.path, h.status, h.port, h.host]),
      [
        ["GET", "/v1/hop/3", 302, port, "127.0.0.1"],
        ["GET", "/v1/hop/2", 302, port, "127.0.0.1"],
        ["GET", "/v1/hop/1", 302, port, "127.0.0.1"],
        ["GET", "/v1/hop/0", 200, port, "127.0.0.1"],
      ],
    );
    assert.equal(seen.length - start, 4);
    start = seen.length;
    const err = await failure(fetchPath("/v1/hop/4"));
    assert.equal(err.code, "NET_FAILED");
    assert.match(err.message, /more than 3 redirects/);
    assert.deepEqual(
      seen.slice(start).map((s) => s.url),
      ["/v1/hop/4", "/v1/hop/3", "/v1/hop/2", "/v1/hop/1"],
      "the hop past the limit is not requested",
    );
    assert.equal((await failure(fetchPath("/v1/hop/1", {}, { maxRedirects: 0 }))).code, "NET_FAILED");
  });

  it("caps the response body: NET_RESPONSE_TOO_LARGE past maxResponseBytes, with or without content-length", async () => {
    assert.equal((await fetchPath("/v1/size?n=1000")).body.length, 1000);
    assert.equal((await fetchPath("/v1/size?n=1000&chunked=1")).body.length, 1000);
    for (const path of ["/v1/size?n=1001", "/v1/size?n=1001&chunked=1", "/v1/size?n=200000&chunked=1"]) {
      const err = await failure(fetchPath(path));
      assert.equal(err.code, "NET_RESPONSE_TOO_LARGE", path);
    }
  });

  it("times out a server that never answers: NET_FAILED 'timed out'", async () => {
    const started = Date.now();
    const err = await failure(fetchPath("/v1/never", {}, { timeoutMs: 200 }));
    assert.equal(err.code, "NET_FAILED");
    assert.match(err.message, /timed out/);
    assert.ok(Date.now() - started < 2000);
  });

  it(
    "times out a body that stalls: NET_FAILED 'timed out', not a raw DOMException",
    async () => {
      const started = Date.now();
      const err = await failure(fetchPath("/v1/stall-body", {}, { timeoutMs: 200 }));
      assert.equal(err.code, "NET_FAILED");
      assert.match(err.message, /timed out/);
      assert.ok(Date.now() - started < 2000);
    },
  );

  it("a stalled body is still stopped at the deadline (whatever the error)", async () => {
    const started = Date.now();
    await assert.rejects(fetchPath("/v1/stall-body", {}, { timeoutMs: 200 }));
    assert.ok(Date.now() - started < 2000);
  });

  it("303 turns POST into a bodiless GET; so do 301/302 for POST; 307/308 keep method and body", async () => {
    const cases: [number, string, string][] = [
      [303, "POST", "GET"],
      [303, "PUT", "GET"],
      [302, "POST", "GET"],
      [301, "POST", "GET"],
      [302, "PUT", "PUT"],
      [307, "POST", "POST"],
      [308, "POST", "POST"],
    ];
    for (const [status, method, expected] of cases) {
      const res = await fetchPath(`/v1/redirect?status=${status}&to=/v1/echo`, { method, body: "payload" });
      const echo = JSON.parse(res.body) as { method: string; body: string };
      assert.equal(echo.method, expected, `${status} after ${method}`);
      assert.equal(echo.body, expected === "GET" ? "" : "payload", `${status} after ${method}`);
      assert.deepEqual(
        res.hops.map((h) => [h.method, h.status]),
        [
          [method, status],
          [expected, 200],
        ],
      );
    }
  });

  it("a GET never carries a body", async () => {
    const res = await fetchPath("/v1/echo", { method: "GET", body: "sneaky" });
    assert.equal((JSON.parse(res.body) as { body: string }).body, "");
  });

  it("each redirect hop is checked against the manifest: an undeclared port or path is refused before it is requested", async () => {
    const start = seen.length;
    for (const to of [`http://127.0.0.1:${otherPort}/v1/echo`, "/admin", "/v1/../admin", `http://localhost:${port}/v1/echo`, "file:///etc/passwd", "/v1/..%2fadmin"]) {
      const err = await failure(fetchPath(`/v1/redirect?status=302&to=${encodeURIComponent(to)}`));
      assert.equal(err.code, "NOT_CAPABLE", to);
      const details = (err as SkillgateError & { details?: Record<string, unknown> }).details;
      assert.equal(details?.capability, "net", to);
      assert.equal(typeof details?.need, "string");
    }
    assert.deepEqual(otherSeen, []);
    assert.ok(seen.slice(start).every((s) => s.url.startsWith("/v1/redirect")), JSON.stringify(seen.slice(start).map((s) => s.url)));
  });

  it("a redirect that turns POST into GET is checked as a GET", async () => {
    const postOnly = parseManifest(JSON.stringify({ ...JSON.parse(JSON.stringify(manifest)), capabilities: { net: [{ host: "127.0.0.1", port, methods: ["POST"], paths: ["/v1/"] }] } }));
    const first = checkCapability(postOnly, "net", "fetch", { url: `http://127.0.0.1:${port}/v1/redirect?status=303&to=/v1/echo`, method: "POST" });
    assert.ok(first.ok && first.net);
    const start = seen.length;
    const err = await failure(manifestFetch(postOnly, first.net, { method: "POST", body: "x" }, limits));
    assert.equal(err.code, "NOT_CAPABLE");
    assert.match(err.message, /GET/);
    assert.equal(seen.length - start, 1, "the GET was not sent");
  });

  it("a 3xx without Location is returned as it is", async () => {
    const res = await fetchPath("/v1/no-location");
    assert.equal(res.status, 300);
    assert.equal(res.body, "choices");
    assert.equal(res.hops.length, 1);
  });

  it("drops hop-by-hop and malformed request headers, keeps the skill's own", async () => {
    const res = await fetchPath("/v1/echo", {
      method: "POST",
      body: "hello",
      headers: {
        Host: "evil.example",
        Connection: "close",
        "Keep-Alive": "timeout=99",
        "Transfer-Encoding": "chunked",
        "Content-Length": "999",
        Upgrade: "websocket",
        TE: "trailers",
        Trailer: "x-trailer",
        "Proxy-Authorization": "Basic cHJveHk6cHc=",
        "X-Custom": "yes",
        Accept: "application/json",
        "Bad Header": "x",
        "x-number": 5,
        "x-long": "v".repeat(9000),
      },
    });
    const echo = JSON.parse(res.body) as { method: string; headers: Record<string, string>; body: string };
    assert.equal(echo.method, "POST");
    assert.equal(echo.body, "hello");
    assert.equal(echo.headers.host, `127.0.0.1:${port}`);
    assert.equal(echo.headers["content-length"], "5");
    assert.equal(echo.headers["transfer-encoding"], undefined);
    assert.notEqual(echo.headers.connection, "close");
    for (const name of ["keep-alive", "upgrade", "te", "trailer", "proxy-authorization", "bad header", "x-number", "x-long"]) {
      assert.equal(echo.headers[name], undefined, `${name} was sent`);
    }
    assert.equal(echo.headers["x-custom"], "yes");
    assert.equal(echo.headers.accept, "application/json");
  });

  it("returns only pass-listed response headers", async () => {
    const res = await fetchPath("/v1/headers");
    assert.deepEqual(res.headers, { "content-type": "text/plain", "content-length": "2", etag: '"abc"', "cache-control": "no-store" });
    const redirect = await fetchPath("/v1/redirect?status=302&to=/v1/headers");
    assert.deepEqual(Object.keys(redirect.headers).sort(), ["cache-control", "content-length", "content-type", "etag"]);
  });
});

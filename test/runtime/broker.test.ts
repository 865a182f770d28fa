// The credential broker against real loopback servers: where the secret goes (only to the
// declared, bound host, only on the hop that may carry it), what comes back (scrubbed in every
// encoding), which addresses it will connect to (resolved once, pinned, never private or
// metadata unless the operator said so), and what it records. Every server records what it
// RECEIVED; the tests assert on that, not only on what the broker returned.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type BrokerOptions, CredentialBroker, type CredentialUse, type FetchRequest, type Hop } from "../../runtime/broker/broker.js";
import { type Resolver, systemResolver } from "../../runtime/broker/pinned-dispatcher.js";
import { SkillgateError } from "../../runtime/errors.js";
import { Scrubber } from "../../runtime/secrets/scrubber.js";
import { Vault } from "../../runtime/secrets/vault.js";
import { StateDb } from "../../runtime/state/state-db.js";
import { checkCapability, type NetTarget } from "../../sandbox/index.js";
import { type Manifest, parseManifest } from "../../skills-registry/index.js";
import { failure } from "../support/failure.js";

type Args = FetchRequest["args"];

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

interface Recorder {
  name: string;
  server: Server;
  port: number;
  seen: Seen[];
  held: ServerResponse[];
}

type Route = (req: IncomingMessage, body: string, res: ServerResponse, rec: Recorder) => void;

/**
 * The forms a secret may take on the wire, computed here (not by the scrubber under test):
 * raw, base64 and base64url at each of the three byte alignments (the inner characters only
 * the secret determines), hex in both cases, URL-encoded as encodeURIComponent and as a form
 * (query string) does it.
 */
function secretForms(secret: string): Record<string, string> {
  const bytes = Buffer.from(secret, "utf8");
  const forms: Record<string, string> = {
    raw: secret,
    hex: bytes.toString("hex"),
    HEX: bytes.toString("hex").toUpperCase(),
    uri: encodeURIComponent(secret),
    form: new URLSearchParams({ k: secret }).toString().slice(2),
  };
  for (let offset = 0; offset < 3; offset++) {
    const shifted = Buffer.concat([Buffer.alloc(offset, 0x41), bytes]);
    forms[`base64@${offset}`] = shifted.toString("base64").slice(4, -4);
    forms[`base64url@${offset}`] = shifted.toString("base64url").slice(4, -4);
  }
  return forms;
}

/** Which forms of the secret the text still holds (empty: none). */
function leaks(text: string, secret: string): string[] {
  return Object.entries(secretForms(secret))
    .filter(([, form]) => text.includes(form))
    .map(([name]) => name);
}

/** The credential a server was handed, in whichever place the manifest put it. */
function presented(req: { headers: IncomingMessage["headers"]; url?: string | undefined }): string {
  const auth = req.headers.authorization ?? "";
  if (auth.startsWith("Bearer ")) return auth.slice("Bearer ".length);
  if (auth.startsWith("Basic ")) {
    const decoded = Buffer.from(auth.slice("Basic ".length), "base64").toString("utf8");
    return decoded.slice(decoded.indexOf(":") + 1);
  }
  const key = req.headers["x-api-key"];
  if (typeof key === "string") return key;
  return new URL(req.url ?? "/", "http://x").searchParams.get("api_key") ?? "";
}

const listenOn = (server: Server, host: string, port: number) =>
  new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });

describe("the credential broker against loopback servers", () => {
  let dir: string;
  let state: StateDb;
  let vault: Vault;
  const scrubber = new Scrubber();
  const SECRETS = {
    api: `sk_${randomBytes(24).toString("base64url")}`,
    // `>>>` encodes to `Pj4+` in base64 and `Pj4-` in base64url at every alignment: the two forms differ.
    basic: `pw_${randomBytes(24).toString("base64url")}>>>>>>`,
    // Characters that URL-encoding changes, so the encoded form differs from the raw one.
    query: `qk+${randomBytes(18).toString("base64")}/&= ;>>>>>>`,
    narrow: `nk_${randomBytes(24).toString("base64url")}`,
    foreign: `fk_${randomBytes(24).toString("base64url")}`,
    unbound: `uk_${randomBytes(24).toString("base64url")}`,
    public: `pk_${randomBytes(24).toString("base64url")}`,
    tilde: `tk~${randomBytes(18).toString("base64url")}~!*'()`,
  };
  let allSecrets: string[];

  /** Arrival order across the servers and the beforeCredential callback. */
  const events: string[] = [];
  let api: Recorder; // api.test → 127.0.0.1
  let echo: Recorder; // echo.test → 127.0.0.1
  let sink: Recorder; // sink.test → 127.0.0.3
  let evil: Recorder; // 127.0.0.2 on the API's port: where a rebinding resolver would send the request
  let manifest: Manifest;

  /** The answers of the default resolver; every call is recorded. */
  const answers: Record<string, string[]> = {
    "api.test": ["127.0.0.1"],
    "echo.test": ["127.0.0.1"],
    "sink.test": ["127.0.0.3"],
    "undeclared.test": ["127.0.0.3"],
    "private.test": ["127.0.0.1"],
  };
  const resolved: string[] = [];
  const resolver: Resolver = async (host) => {
    resolved.push(host);
    const list = answers[host];
    if (!list) throw Object.assign(new Error(`${host}: not known to the test resolver`), { code: "ENOTFOUND" });
    return list.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }) as const);
  };
  /** Names the operator lets reach loopback (the test's servers all live there). */
  const ALLOWED = ["api.test", "echo.test", "sink.test", "undeclared.test", "meta.test", "rebind.test"];
  const limits = { maxResponseBytes: 64 * 1024, timeoutMs: 5000, maxRedirects: 5 };

  function broker(over: Partial<BrokerOptions> = {}): CredentialBroker {
    return new CredentialBroker({ vault, scrubber, allowPrivateHosts: ALLOWED, resolve: resolver, ...limits, ...over });
  }

  /** A NetTarget the way the sandbox makes one: through checkCapability. */
  function target(url: string, method = "GET", credential?: string): NetTarget {
    const decision = checkCapability(manifest, "net", "fetch", { url, method, ...(credential ? { credential } : {}) });
    assert.ok(decision.ok && decision.net, `the test's own request must be declared: ${method} ${url} ${credential ?? ""}`);
    return decision.net;
  }

  const apiUrl = (path: string) => `http://api.test:${api.port}${path}`;
  const echoUrl = (path: string) => `http://echo.test:${echo.port}${path}`;
  const sinkUrl = (path: string) => `http://sink.test:${sink.port}${path}`;

  interface Call {
    url: string;
    method?: string;
    credential?: string;
    args?: Args;
    broker?: CredentialBroker;
    beforeCredential?: (use: CredentialUse) => Promise<void>;
  }

  /** One brokered fetch, with every beforeCredential call recorded. */
  function call(c: Call) {
    const uses: CredentialUse[] = [];
    const hops: Hop[] = [];
    const method = c.method ?? "GET";
    const pending = (c.broker ?? broker()).fetch({
      skill: manifest.name,
      manifest,
      first: target(c.url, method, c.credential),
      args: c.args ?? {},
      hops,
      beforeCredential: async (use) => {
        uses.push(use);
        events.push(`before cred:${use.ref} ${use.method} ${use.host}${use.path}`);
        await c.beforeCredential?.(use);
      },
    });
    return { pending, uses, hops };
  }

  /** What each server receives from here on. */
  function mark() {
    const at = { api: api.seen.length, echo: echo.seen.length, sink: sink.seen.length, evil: evil.seen.length };
    return {
      api: () => api.seen.slice(at.api),
      echo: () => echo.seen.slice(at.echo),
      sink: () => sink.seen.slice(at.sink),
      evil: () => evil.seen.slice(at.evil),
    };
  }

  /** No server received any form of any secret in what it was sent. */
  function assertNoSecretIn(seen: Seen[], who: string): void {
    for (const s of seen) {
      const text = JSON.stringify(s);
      for (const secret of allSecrets) assert.deepEqual(leaks(text, secret), [], `${who} received a secret: ${text}`);
    }
  }

  function apiRoute(req: IncomingMessage, body: string, res: ServerResponse, rec: Recorder): void {
    const url = new URL(req.url ?? "/", "http://x");
    const path = url.pathname;
    if (path.endsWith("/redirect")) {
      // A redirect the test chooses: ?status=&to=
      return void res.writeHead(Number(url.searchParams.get("status")), { location: url.searchParams.get("to") ?? "/v1/echo" }).end("redirect body");
    }
    if (path === "/v1/moved") {
      // A "moved" API that keeps the query string, as many servers do.
      return void res.writeHead(307, { location: `${url.searchParams.get("base") ?? ""}${url.search}` }).end();
    }
    if (path === "/v1/reflect-redirect") {
      // A server that puts the token it was handed into the Location it answers with.
      return void res.writeHead(302, { location: `${url.searchParams.get("to") ?? "/v1/echo/"}${presented(req)}` }).end();
    }
    if (path.startsWith("/v1/never")) {
      rec.held.push(res);
      return;
    }
    if (path === "/v1/big") {
      const token = presented(req);
      return void res.writeHead(200, { "content-type": "text/plain" }).end(`${token}\n`.repeat(Math.ceil(4096 / (token.length + 1))));
    }
    if (path.startsWith("/v1/")) {
      return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ server: rec.name, method: req.method, url: req.url, headers: req.headers, body }));
    }
    res.writeHead(404).end();
  }

  function echoRoute(req: IncomingMessage, body: string, res: ServerResponse, rec: Recorder): void {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const token = presented(req);
    const bytes = Buffer.from(token, "utf8");
    if (path === "/v1/echo") {
      return void res
        .writeHead(200, {
          "content-type": "application/json",
          etag: `"${bytes.toString("hex")}"`,
          link: `<http://echo.test/next?t=${encodeURIComponent(token)}>; rel="next"`,
          "x-reflected-token": bytes.toString("hex"),
          "set-cookie": `token=${bytes.toString("hex")}`,
        })
        .end(JSON.stringify({ server: rec.name, method: req.method, url: req.url, headers: req.headers, body }));
    }
    if (path === "/v1/error") {
      const lines = [
        `error: invalid token ${token}`,
        `base64: ${bytes.toString("base64")}`,
        `base64url: ${bytes.toString("base64url")}`,
        `hex: ${bytes.toString("hex")}`,
        `HEX: ${bytes.toString("hex").toUpperCase()}`,
        `url: ${encodeURIComponent(token)}`,
        `form: ${new URLSearchParams({ t: token }).toString()}`,
        `authorization: ${req.headers.authorization ?? ""}`,
        `authorization-base64: ${Buffer.from(req.headers.authorization ?? "").toString("base64")}`,
        `json: ${JSON.stringify({ token })}`,
        `request: ${req.method} ${req.url}`,
      ];
      return void res
        .writeHead(500, { "content-type": "text/plain", "retry-after": encodeURIComponent(token), "cache-control": `token=${bytes.toString("base64")}` })
        .end(lines.join("\n"));
    }
    res.writeHead(404).end();
  }

  function sinkRoute(req: IncomingMessage, body: string, res: ServerResponse, rec: Recorder): void {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/bounce") return void res.writeHead(302, { location: url.searchParams.get("to") ?? "/" }).end();
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ server: rec.name, method: req.method, url: req.url, body }));
  }

  function recorder(name: string, route: Route): Recorder {
    const rec: Recorder = { name, server: createServer(), port: 0, seen: [], held: [] };
    rec.server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      events.push(`${name} ${req.method} ${req.url}`);
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        rec.seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
        route(req, body, res, rec);
      });
    });
    return rec;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "skillgate-broker-"));
    state = await StateDb.open(join(dir, "state.db"));
    vault = await Vault.open(state, randomBytes(32));
    const everywhere = { hosts: ["api.test", "echo.test"], skills: ["@test/*"] };
    await vault.set("api", SECRETS.api, everywhere);
    await vault.set("basic", SECRETS.basic, everywhere);
    await vault.set("query", SECRETS.query, everywhere);
    await vault.set("tilde", SECRETS.tilde, everywhere);
    await vault.set("narrow", SECRETS.narrow, { hosts: ["api.test"], skills: ["@test/broker"], methods: ["GET"], paths: ["/v1/allowed/"] });
    await vault.set("foreign", SECRETS.foreign, { hosts: ["api.test"], skills: ["@other/*"] });
    await vault.set("unbound", SECRETS.unbound, { hosts: ["api.test"], skills: ["@test/*"] });
    await vault.set("public", SECRETS.public, { hosts: ["public.test"], skills: ["@test/*"] });
    scrubber.update(await vault.values());
    allSecrets = Object.values(SECRETS);

    // The API on 127.0.0.1, and on the same port of 127.0.0.2 the server a rebinding
    // resolver would point at (retried if that port happens to be taken there).
    for (let attempt = 0; ; attempt++) {
      api = recorder("api", apiRoute);
      await listenOn(api.server, "127.0.0.1", 0);
      api.port = (api.server.address() as AddressInfo).port;
      evil = recorder("evil", apiRoute);
      try {
        await listenOn(evil.server, "127.0.0.2", api.port);
        break;
      } catch (err) {
        await new Promise<void>((resolve) => api.server.close(() => resolve()));
        if (attempt >= 5) throw err;
      }
    }
    echo = recorder("echo", echoRoute);
    await listenOn(echo.server, "127.0.0.1", 0);
    echo.port = (echo.server.address() as AddressInfo).port;
    sink = recorder("sink", sinkRoute);
    await listenOn(sink.server, "127.0.0.3", 0);
    sink.port = (sink.server.address() as AddressInfo).port;

    const all = ["GET", "POST", "PUT"];
    manifest = parseManifest(
      JSON.stringify({
        name: "@test/broker",
        version: "1.0.0",
        description: "Brokered fetches.",
        entry: "index.js",
        tools: [{ name: "run", description: "run", input: { type: "object" }, effect: "external" }],
        capabilities: {
          net: [
            { host: "api.test", port: api.port, methods: all, paths: ["/v1/"] },
            // The same host on another port: another origin.
            { host: "api.test", port: echo.port, methods: ["GET"], paths: ["/v1/"] },
            { host: "echo.test", port: echo.port, methods: all, paths: ["/v1/"] },
            { host: "sink.test", port: sink.port, methods: all, paths: ["/"] },
            { host: "127.0.0.1", port: api.port, methods: ["GET"], paths: ["/v1/"] },
            { host: "meta.test", port: api.port, methods: ["GET"], paths: ["/v1/"] },
            { host: "private.test", port: api.port, methods: ["GET"], paths: ["/v1/"] },
            { host: "rebind.test", port: api.port, methods: ["GET"], paths: ["/v1/"] },
            { host: "public.test", port: api.port, methods: ["GET"], paths: ["/v1/"] },
          ],
          credentials: [
            { ref: "api", hosts: ["api.test", "echo.test"], inject: { type: "header", name: "Authorization", template: "Bearer {secret}" } },
            { ref: "basic", hosts: ["api.test", "echo.test"], inject: { type: "basic", username: "svc" } },
            { ref: "query", hosts: ["api.test", "echo.test"], inject: { type: "query", param: "api_key" } },
            { ref: "tilde", hosts: ["api.test", "echo.test"], inject: { type: "query", param: "api_key" } },
            { ref: "narrow", hosts: ["api.test"], inject: { type: "header", name: "X-Api-Key" } },
            { ref: "foreign", hosts: ["api.test"], inject: { type: "header", name: "X-Api-Key" } },
            // Declared for sink.test too, but the operator bound it to api.test only.
            { ref: "unbound", hosts: ["api.test", "sink.test"], inject: { type: "header", name: "X-Api-Key" } },
            // Declared, never stored.
            { ref: "missing", hosts: ["api.test"], inject: { type: "header", name: "X-Api-Key" } },
            { ref: "public", hosts: ["public.test"], inject: { type: "header", name: "X-Api-Key" } },
          ],
        },
      }),
    );
  });

  after(async () => {
    for (const rec of [api, echo, sink, evil]) {
      if (!rec) continue;
      for (const res of rec.held) res.destroy();
      rec.server.closeAllConnections();
      await new Promise<void>((resolve) => rec.server.close(() => resolve()));
    }
    await state?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe("injection into the declared API", () => {
    it("header template: the API receives `Bearer <secret>` (not the skill's own Authorization); beforeCredential runs once, before the request leaves", async () => {
      const m = mark();
      const eventsAt = events.length;
      const { pending, uses, hops } = call({
        url: apiUrl("/v1/items?page=2"),
        method: "POST",
        credential: "cred:api",
        args: { method: "POST", body: '{"title":"x"}', headers: { Authorization: "Bearer skill-chosen", "Content-Type": "application/json" } },
      });
      const res = await pending;
      const got = m.api();
      assert.equal(got.length, 1);
      assert.equal(got[0]!.method, "POST");
      assert.equal(got[0]!.url, "/v1/items?page=2");
      assert.equal(got[0]!.headers.authorization, `Bearer ${SECRETS.api}`);
      assert.equal(got[0]!.headers.host, `api.test:${api.port}`);
      assert.equal(got[0]!.headers["content-type"], "application/json");
      assert.equal(got[0]!.body, '{"title":"x"}');
      assert.deepEqual(uses, [{ ref: "api", host: "api.test", method: "POST", path: "/v1/items" }]);
      assert.deepEqual(events.slice(eventsAt), ["before cred:api POST api.test/v1/items", "api POST /v1/items?page=2"], "the callback ran before the server saw the request");
      // What the skill sees: the server's answer, the secret replaced.
      assert.equal(res.status, 200);
      const echoed = JSON.parse(res.body) as { server: string; method: string; headers: Record<string, string>; body: string };
      assert.equal(echoed.server, "api");
      assert.equal(echoed.method, "POST");
      assert.equal(echoed.body, '{"title":"x"}');
      assert.equal(echoed.headers.authorization, "Bearer [REDACTED cred:api]");
      assert.equal(hops.length, 1);
      assert.equal(m.echo().length + m.sink().length + m.evil().length, 0);
    });

    it("basic: the API receives `Basic base64(svc:<secret>)`", async () => {
      const m = mark();
      const { pending, uses } = call({ url: apiUrl("/v1/me"), credential: "cred:basic" });
      const res = await pending;
      const got = m.api();
      assert.equal(got.length, 1);
      assert.equal(got[0]!.headers.authorization, `Basic ${Buffer.from(`svc:${SECRETS.basic}`).toString("base64")}`);
      assert.deepEqual(uses, [{ ref: "basic", host: "api.test", method: "GET", path: "/v1/me" }]);
      assert.equal(res.status, 200);
      const echoed = JSON.parse(res.body) as { headers: Record<string, string> };
      assert.match(echoed.headers.authorization!, /^Basic .*\[REDACTED cred:basic\]/);
      assert.deepEqual(leaks(res.body, SECRETS.basic), []);
    });

    it("query: the API receives the secret as api_key (replacing the skill's own), the other parameters kept", async () => {
      const m = mark();
      const { pending, uses } = call({ url: apiUrl("/v1/search?q=cats&api_key=skill-chosen"), credential: "cred:query" });
      const res = await pending;
      const got = m.api();
      assert.equal(got.length, 1);
      const params = new URL(got[0]!.url, "http://x").searchParams;
      assert.deepEqual(params.getAll("api_key"), [SECRETS.query]);
      assert.equal(params.get("q"), "cats");
      assert.equal(got[0]!.headers.authorization, undefined);
      assert.deepEqual(uses, [{ ref: "query", host: "api.test", method: "GET", path: "/v1/search" }]);
      const echoed = JSON.parse(res.body) as { url: string };
      assert.match(echoed.url, /^\/v1\/search\?q=cats&api_key=\[REDACTED cred:query\]$/);
      assert.deepEqual(leaks(res.body, SECRETS.query), []);
    });

    it("without a credential nothing is injected and beforeCredential is not called", async () => {
      const m = mark();
      const { pending, uses } = call({ url: apiUrl("/v1/plain") });
      assert.equal((await pending).status, 200);
      assert.equal(uses.length, 0);
      const got = m.api();
      assert.equal(got.length, 1);
      assert.equal(got[0]!.headers.authorization, undefined);
      assert.equal(got[0]!.headers["x-api-key"], undefined);
      assert.equal(got[0]!.url, "/v1/plain");
    });

    it("a beforeCredential that refuses (policy) stops the request: the API receives nothing", async () => {
      const m = mark();
      const { pending, uses, hops } = call({
        url: apiUrl("/v1/items"),
        credential: "cred:api",
        beforeCredential: async () => {
          throw new SkillgateError("POLICY_DENIED", "credential use denied");
        },
      });
      const err = await failure(pending);
      assert.equal(err.code, "POLICY_DENIED");
      assert.equal(uses.length, 1);
      assert.deepEqual(m.api(), []);
      assert.deepEqual(hops, []);
    });
  });

  describe("what comes back is scrubbed", () => {
    for (const ref of ["api", "basic", "query"] as const) {
      it(`an echo of the request (cred:${ref}) reaches the skill with no form of the secret, only [REDACTED cred:${ref}]`, async () => {
        const m = mark();
        const { pending } = call({ url: echoUrl("/v1/echo"), method: "POST", credential: `cred:${ref}`, args: { method: "POST", body: "hello" } });
        const res = await pending;
        // The server did get the secret, and reflected it: body, URL, and hex/URL-encoded in headers.
        const got = m.echo();
        assert.equal(got.length, 1);
        assert.equal(presented(got[0]!), SECRETS[ref]);
        assert.equal(res.status, 200);
        const seenBySkill = JSON.stringify(res);
        for (const secret of allSecrets) assert.deepEqual(leaks(seenBySkill, secret), [], `a form of a secret reached the skill: ${seenBySkill}`);
        assert.ok(res.body.includes(`[REDACTED cred:${ref}]`), res.body);
        assert.equal((JSON.parse(res.body) as { body: string }).body, "hello");
        // Pass-listed headers are scrubbed; the others are not passed at all.
        assert.match(res.headers.etag!, /\[REDACTED cred:/);
        assert.match(res.headers.link!, /\[REDACTED cred:/);
        assert.equal(res.headers["x-reflected-token"], undefined);
        assert.equal(res.headers["set-cookie"], undefined);
        assert.equal(scrubber.holdsSecret(seenBySkill), false);
      });
    }

    for (const ref of ["api", "basic", "query"] as const) {
      it(`an upstream 500 that reflects the secret raw, base64, base64url, hex, HEX, URL-encoded and in JSON (cred:${ref}) is scrubbed everywhere`, async () => {
        const { pending } = call({ url: echoUrl("/v1/error"), credential: `cred:${ref}` });
        const res = await pending;
        assert.equal(res.status, 500, "an upstream error is a response, not a broker failure");
        const lines = res.body.split("\n");
        assert.equal(lines[0], `error: invalid token [REDACTED cred:${ref}]`);
        for (const prefix of ["base64: ", "base64url: ", "hex: ", "HEX: ", "url: ", "form: t=", "json: "]) {
          const line = lines.find((l) => l.startsWith(prefix));
          assert.ok(line?.includes(`[REDACTED cred:${ref}]`), `${prefix}: ${line}`);
        }
        for (const secret of allSecrets) assert.deepEqual(leaks(JSON.stringify(res), secret), [], JSON.stringify(res));
        assert.match(res.headers["retry-after"]!, /\[REDACTED cred:/);
        assert.match(res.headers["cache-control"]!, /\[REDACTED cred:/);
      });
    }

    it("a query secret holding characters that form-encoding escapes but encodeURIComponent does not (~ ! * ' ( )) is scrubbed from an echo of the request URL", async () => {
      const m = mark();
      const res = await call({ url: echoUrl("/v1/echo"), credential: "cred:tilde" }).pending;
      const sent = m.echo()[0]!.url;
      assert.equal(new URL(sent, "http://x").searchParams.get("api_key"), SECRETS.tilde, "the server got the secret");
      assert.ok(!sent.includes(encodeURIComponent(SECRETS.tilde)), "the injection's encoding is not encodeURIComponent's");
      assert.deepEqual(leaks(res.body, SECRETS.tilde), []);
      assert.ok(res.body.includes("[REDACTED cred:tilde]"), res.body);
    });
  });

  describe("redirects: the credential stays with the first origin", () => {
    for (const ref of ["api", "basic", "query"] as const) {
      for (const status of [302, 307]) {
        it(`a ${status} from api.test to the declared sink.test (cred:${ref}): the sink receives no credential, the API did`, async () => {
          const m = mark();
          const method = status === 307 ? "POST" : "GET";
          const to = sinkUrl("/landing?from=api");
          const { pending, uses, hops } = call({
            url: apiUrl(`/v1/redirect?status=${status}&to=${encodeURIComponent(to)}`),
            method,
            credential: `cred:${ref}`,
            args: { method, body: "payload" },
          });
          const res = await pending;
          const first = m.api();
          assert.equal(first.length, 1);
          assert.equal(presented(first[0]!), SECRETS[ref], "the first host got the credential");
          const landed = m.sink();
          assert.equal(landed.length, 1);
          assert.equal(landed[0]!.url, "/landing?from=api", "no api_key on the second host");
          assert.equal(landed[0]!.headers.authorization, undefined);
          assert.equal(landed[0]!.headers["x-api-key"], undefined);
          assert.equal(landed[0]!.method, method);
          assert.equal(landed[0]!.body, method === "POST" ? "payload" : "");
          assertNoSecretIn(landed, "sink.test");
          assert.equal(uses.length, 1, "the credential was used once, on the first hop");
          assert.equal(res.status, 200);
          assert.equal((JSON.parse(res.body) as { server: string }).server, "sink");
          assert.deepEqual(
            hops.map((h) => [h.host, h.status, h.credential]),
            [
              ["api.test", status, ref],
              ["sink.test", 200, undefined],
            ],
          );
        });
      }
    }

    it("dropped for good: api.test → sink.test → back to api.test, the API's second request carries no credential", async () => {
      const m = mark();
      const back = apiUrl("/v1/echo");
      const bounce = sinkUrl(`/bounce?to=${encodeURIComponent(back)}`);
      const { pending, uses, hops } = call({ url: apiUrl(`/v1/redirect?status=302&to=${encodeURIComponent(bounce)}`), credential: "cred:api" });
      const res = await pending;
      const apiGot = m.api();
      assert.deepEqual(
        apiGot.map((s) => s.headers.authorization),
        [`Bearer ${SECRETS.api}`, undefined],
      );
      assert.equal(apiGot[1]!.url, "/v1/echo");
      assertNoSecretIn(m.sink(), "sink.test");
      assert.equal(uses.length, 1);
      assert.deepEqual(
        hops.map((h) => [h.host, h.credential ?? null]),
        [
          ["api.test", "api"],
          ["sink.test", null],
          ["api.test", null],
        ],
      );
      assert.equal((JSON.parse(res.body) as { headers: Record<string, string> }).headers.authorization, undefined);
    });

    it("the same host on another port is another origin: no credential there", async () => {
      const m = mark();
      const other = `http://api.test:${echo.port}/v1/echo`;
      const { pending, uses } = call({ url: apiUrl(`/v1/redirect?status=302&to=${encodeURIComponent(other)}`), credential: "cred:api" });
      const res = await pending;
      assert.equal(m.api()[0]!.headers.authorization, `Bearer ${SECRETS.api}`);
      const got = m.echo();
      assert.equal(got.length, 1);
      assert.equal(got[0]!.headers.host, `api.test:${echo.port}`);
      assert.equal(got[0]!.headers.authorization, undefined);
      assertNoSecretIn(got, "api.test on the other port");
      assert.equal(uses.length, 1);
      assert.equal(res.status, 200);
    });

    it("a same-origin redirect keeps the credential, and asks beforeCredential again for the new path", async () => {
      const m = mark();
      const { pending, uses } = call({ url: apiUrl("/v1/redirect?status=302&to=/v1/next"), credential: "cred:api" });
      await pending;
      assert.deepEqual(
        m.api().map((s) => [s.url, s.headers.authorization]),
        [
          ["/v1/redirect?status=302&to=/v1/next", `Bearer ${SECRETS.api}`],
          ["/v1/next", `Bearer ${SECRETS.api}`],
        ],
      );
      assert.deepEqual(
        uses.map((u) => u.path),
        ["/v1/redirect", "/v1/next"],
      );
    });

    it("a redirect to an undeclared host, port or IP is NOT_CAPABLE and the sink receives nothing", async () => {
      const m = mark();
      for (const to of [`http://undeclared.test:${sink.port}/landing`, `http://127.0.0.3:${sink.port}/landing`, `http://sink.test:${api.port}/landing`, `https://sink.test/landing`]) {
        const { pending, hops } = call({ url: apiUrl(`/v1/redirect?status=302&to=${encodeURIComponent(to)}`), credential: "cred:api" });
        const err = await failure(pending);
        assert.equal(err.code, "NOT_CAPABLE", to);
        assert.equal(err.details?.capability, "net");
        assert.match(String(err.details?.need), /capabilities\.net/);
        assert.equal(hops.length, 1, "the refused hop is not recorded as sent");
      }
      assert.deepEqual(m.sink(), []);
      assert.deepEqual(m.evil(), []);
      assert.equal(m.api().length, 4);
    });

    it(
      "a server that keeps the query string on a cross-origin redirect does not carry a query credential to the next host",
      async () => {
        const m = mark();
        const base = sinkUrl("/landing");
        // Refusing the hop would do as well as stripping the parameter: either way the sink must not get the secret.
        await call({ url: apiUrl(`/v1/moved?base=${encodeURIComponent(base)}`), credential: "cred:query" }).pending.catch(() => undefined);
        assert.equal(new URL(m.api()[0]!.url, "http://x").searchParams.get("api_key"), SECRETS.query, "the first host got it");
        assertNoSecretIn(m.sink(), "sink.test");
      },
    );
  });

  describe("which credential may go where", () => {
    it("checkCapability refuses a ref for a host the manifest declares for net but not for the credential (the broker never sees such a target)", () => {
      for (const credential of ["cred:api", "cred:undeclared", "api"]) {
        const decision = checkCapability(manifest, "net", "fetch", { url: sinkUrl("/collect"), method: "GET", credential });
        assert.equal(decision.ok, false, credential);
        assert.ok(!decision.ok);
        assert.equal(decision.refusal.capability, "net");
        assert.match(decision.refusal.request, new RegExp(`with ${credential}$`));
        assert.match(decision.refusal.need, /capabilities\.credentials/);
        assert.match(decision.refusal.need, /"sink\.test"/);
      }
      // Without the credential the same request is declared.
      assert.ok(checkCapability(manifest, "net", "fetch", { url: sinkUrl("/collect"), method: "GET" }).ok);
    });

    it("a hand-made target naming a credential the manifest does not declare for that host is refused by the broker too", async () => {
      const m = mark();
      const forged = { ...target(sinkUrl("/collect")), credential: "api" };
      const uses: CredentialUse[] = [];
      const err = await failure(broker().fetch({ skill: manifest.name, manifest, first: forged, args: {}, hops: [], beforeCredential: async (u) => void uses.push(u) }));
      assert.equal(err.code, "CREDENTIAL_UNAVAILABLE");
      assert.match(err.message, /manifest does not declare cred:api for sink\.test/);
      assert.deepEqual(m.sink(), []);
      assert.equal(uses.length, 0);
    });

    it("the manifest declares the ref for sink.test but the operator bound it to api.test only: CREDENTIAL_UNAVAILABLE, the sink receives nothing", async () => {
      const m = mark();
      const { pending, uses, hops } = call({ url: sinkUrl("/collect"), credential: "cred:unbound" });
      const err = await failure(pending);
      assert.equal(err.code, "CREDENTIAL_UNAVAILABLE");
      assert.match(err.message, /not bound to host sink\.test/);
      assert.deepEqual(m.sink(), []);
      assert.equal(uses.length, 0, "refused before the use is audited");
      assert.deepEqual(hops, []);
      // Where it is bound, it goes.
      await call({ url: apiUrl("/v1/ok"), credential: "cred:unbound" }).pending;
      assert.equal(m.api()[0]!.headers["x-api-key"], SECRETS.unbound);
      assert.deepEqual(leaks(err.message, SECRETS.unbound), []);
    });

    it("a binding whose skills do not cover this skill: CREDENTIAL_UNAVAILABLE, the API receives nothing", async () => {
      const m = mark();
      const err = await failure(call({ url: apiUrl("/v1/ok"), credential: "cred:foreign" }).pending);
      assert.equal(err.code, "CREDENTIAL_UNAVAILABLE");
      assert.match(err.message, /not bound to @test\/broker/);
      assert.deepEqual(m.api(), []);
    });

    it("a declared ref with no stored secret: CREDENTIAL_UNAVAILABLE, the API receives nothing", async () => {
      const m = mark();
      const err = await failure(call({ url: apiUrl("/v1/ok"), credential: "cred:missing" }).pending);
      assert.equal(err.code, "CREDENTIAL_UNAVAILABLE");
      assert.match(err.message, /no secret is stored as cred:missing/);
      assert.deepEqual(m.api(), []);
    });

    it("binding methods and paths are enforced on every hop", async () => {
      let m = mark();
      await call({ url: apiUrl("/v1/allowed/items"), credential: "cred:narrow" }).pending;
      assert.equal(m.api()[0]!.headers["x-api-key"], SECRETS.narrow, "GET under /v1/allowed/ is bound");

      m = mark();
      const refusals: [string, string, RegExp][] = [
        [apiUrl("/v1/allowed/items"), "POST", /not bound to POST/],
        [apiUrl("/v1/other"), "GET", /not bound to path \/v1\/other/],
        [apiUrl("/v1/allowedx"), "GET", /not bound to path \/v1\/allowedx/],
      ];
      for (const [url, method, why] of refusals) {
        const err = await failure(call({ url, method, credential: "cred:narrow", args: { method } }).pending);
        assert.equal(err.code, "CREDENTIAL_UNAVAILABLE", `${method} ${url}`);
        assert.match(err.message, why);
      }
      assert.deepEqual(m.api(), [], "no refused request was sent");

      // A same-origin redirect out of the bound paths: the first hop went, the second is refused before it is sent.
      m = mark();
      const { pending, hops, uses } = call({ url: apiUrl("/v1/allowed/redirect?status=302&to=/v1/other"), credential: "cred:narrow" });
      const err = await failure(pending);
      assert.equal(err.code, "CREDENTIAL_UNAVAILABLE");
      assert.match(err.message, /not bound to path \/v1\/other/);
      assert.deepEqual(
        m.api().map((s) => new URL(s.url, "http://x").pathname),
        ["/v1/allowed/redirect"],
      );
      assert.equal(hops.length, 1);
      assert.equal(uses.length, 1);
    });
  });

  describe("which addresses may be reached", () => {
    it("a declared IP literal that the operator has not allowed: EGRESS_REFUSED, no lookup, the server receives nothing", async () => {
      const m = mark();
      const lookups = resolved.length;
      const err = await failure(call({ url: `http://127.0.0.1:${api.port}/v1/echo` }).pending);
      assert.equal(err.code, "EGRESS_REFUSED");
      assert.match(err.message, /127\.0\.0\.1 is a loopback address/);
      assert.equal(resolved.length, lookups);
      assert.deepEqual(m.api(), []);
    });

    it("a metadata address stays refused even for a name the operator allowed", async () => {
      for (const address of ["169.254.169.254", "169.254.170.2", "::ffff:169.254.169.254", "fd00:ec2::254"]) {
        const meta: Resolver = async () => [{ address, family: address.includes(":") ? 6 : 4 }];
        const err = await failure(call({ url: `http://meta.test:${api.port}/v1/latest`, broker: broker({ resolve: meta }) }).pending);
        assert.equal(err.code, "EGRESS_REFUSED", address);
        assert.match(err.message, /metadata address/);
      }
    });

    it("a name the operator has not allowed may not resolve to any non-public address, even beside a public one", async () => {
      const m = mark();
      const cases: [string[], RegExp][] = [
        [["8.8.8.8", "127.0.0.1"], /loopback/],
        [["127.0.0.1"], /loopback/],
        [["::ffff:127.0.0.1"], /loopback/],
        [["::ffff:7f00:1"], /loopback/],
        [["::ffff:0:127.0.0.1"], /loopback/],
        [["::7f00:1"], /loopback/],
        [["64:ff9b:0:0:0:0:7f00:1"], /loopback/],
        [["10.1.2.3"], /private/],
        [["0.0.0.0"], /reserved/],
        [["169.254.1.1"], /link-local/],
      ];
      for (const [addresses, why] of cases) {
        const mixed: Resolver = async () => addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }) as const);
        const err = await failure(call({ url: `http://private.test:${api.port}/v1/echo`, broker: broker({ resolve: mixed }) }).pending);
        assert.equal(err.code, "EGRESS_REFUSED", addresses.join(","));
        assert.match(err.message, why);
      }
      assert.deepEqual(m.api(), []);
      assert.deepEqual(m.evil(), []);
    });

    it("a redirect to a declared host that resolves to loopback without the operator's say-so is refused at that hop", async () => {
      const m = mark();
      const to = `http://private.test:${api.port}/v1/echo`;
      const { pending, hops } = call({ url: apiUrl(`/v1/redirect?status=302&to=${encodeURIComponent(to)}`), credential: "cred:api" });
      const err = await failure(pending);
      assert.equal(err.code, "EGRESS_REFUSED");
      assert.equal(m.api().length, 1, "only the first hop reached a server");
      assert.deepEqual(
        hops.map((h) => h.host),
        ["api.test"],
      );
    });

    it("a credential over plain http to a host the operator has not allowed is refused before any connection", async () => {
      const lookups: string[] = [];
      // A public answer: classified, never connected to (the guard below throws if the secret were about to go).
      const publicDns: Resolver = async (host) => {
        lookups.push(host);
        return [{ address: "8.8.8.8", family: 4 }];
      };
      const { pending, uses } = call({
        url: `http://public.test:${api.port}/v1/data`,
        credential: "cred:public",
        broker: broker({ resolve: publicDns, timeoutMs: 1000 }),
        beforeCredential: async () => {
          throw new Error("guard: the credential was about to travel over plain http");
        },
      });
      const err = await failure(pending);
      assert.equal(err.code, "CREDENTIAL_UNAVAILABLE");
      assert.match(err.message, /cred:public travels only over https/);
      assert.equal(uses.length, 0);
      assert.deepEqual(lookups, ["public.test"]);
    });
  });

  describe("resolution is done once per hop and pinned", () => {
    it("a rebinding resolver answers 127.0.0.2 after its first answer: the one request still reaches the API at 127.0.0.1", async () => {
      const m = mark();
      let calls = 0;
      const rebinding: Resolver = async () => {
        calls++;
        return [{ address: calls === 1 ? "127.0.0.1" : "127.0.0.2", family: 4 }];
      };
      const { pending, hops } = call({ url: apiUrl("/v1/echo"), credential: "cred:api", broker: broker({ resolve: rebinding }) });
      const res = await pending;
      assert.equal(calls, 1, "one lookup for one hop");
      assert.equal((JSON.parse(res.body) as { server: string }).server, "api");
      assert.equal(m.api().length, 1);
      assert.equal(m.api()[0]!.headers.authorization, `Bearer ${SECRETS.api}`);
      assert.deepEqual(m.evil(), [], "the rebound address was never connected to");
      assert.equal(hops[0]!.address, "127.0.0.1");
    });

    it("each hop is resolved exactly once, and connects to the address that lookup returned", async () => {
      const m = mark();
      const asked: string[] = [];
      let calls = 0;
      // api.test: 127.0.0.1 first, 127.0.0.2 after (the evil server there); sink.test: 127.0.0.3.
      const rebinding: Resolver = async (host) => {
        asked.push(host);
        if (host === "sink.test") return [{ address: "127.0.0.3", family: 4 }];
        calls++;
        return [{ address: calls === 1 ? "127.0.0.1" : "127.0.0.2", family: 4 }];
      };
      const back = apiUrl("/v1/final");
      const to = sinkUrl(`/bounce?to=${encodeURIComponent(back)}`);
      const { pending, hops } = call({ url: apiUrl(`/v1/redirect?status=302&to=${encodeURIComponent(to)}`), credential: "cred:api", broker: broker({ resolve: rebinding }) });
      const res = await pending;
      assert.deepEqual(asked, ["api.test", "sink.test", "api.test"], "one lookup per hop, none in between");
      assert.deepEqual(
        hops.map((h) => [h.host, h.address]),
        [
          ["api.test", "127.0.0.1"],
          ["sink.test", "127.0.0.3"],
          ["api.test", "127.0.0.2"],
        ],
      );
      // Each request landed where its own lookup pointed.
      assert.equal(m.api().length, 1);
      assert.equal(m.sink().length, 1);
      assert.deepEqual(
        m.evil().map((s) => [s.url, s.headers.authorization]),
        [["/v1/final", undefined]],
        "the third hop went to the third answer, without the credential dropped two hops earlier",
      );
      assert.equal((JSON.parse(res.body) as { server: string }).server, "evil");
    });

    it("no second, system lookup: api.test is unknown to the system resolver, yet the pinned request reaches the API", async () => {
      // The premise: the system has no answer for a .test name.
      await assert.rejects(systemResolver("api.test"));
      const m = mark();
      let calls = 0;
      const only: Resolver = async () => {
        calls++;
        return [{ address: "127.0.0.1", family: 4 }];
      };
      const res = await call({ url: apiUrl("/v1/echo"), broker: broker({ resolve: only }) }).pending;
      assert.equal(res.status, 200);
      assert.equal(calls, 1);
      assert.equal(m.api().length, 1);
      assert.equal(m.api()[0]!.headers.host, `api.test:${api.port}`, "the Host header still names the host, not the address");
    });
  });

  describe("caps and failures do not leak the secret", () => {
    it("a response past maxResponseBytes is NET_RESPONSE_TOO_LARGE, and the message holds no secret", async () => {
      const m = mark();
      const { pending, hops } = call({ url: apiUrl("/v1/big"), credential: "cred:api", broker: broker({ maxResponseBytes: 1000 }) });
      const err = await failure(pending);
      assert.equal(err.code, "NET_RESPONSE_TOO_LARGE");
      assert.equal(m.api()[0]!.headers.authorization, `Bearer ${SECRETS.api}`, "the secret went out; the answer (full of it) was too big");
      assert.deepEqual(leaks(err.message, SECRETS.api), []);
      assert.equal(scrubber.holdsSecret(err.message), false);
      assert.equal(hops.length, 1, "the request that went out is on record");
      assert.equal(hops[0]!.credential, "api");
    });

    it("a server that never answers: NET_FAILED 'timed out', and the message holds no secret", async () => {
      for (const ref of ["api", "query"] as const) {
        const m = mark();
        const err = await failure(call({ url: apiUrl("/v1/never"), credential: `cred:${ref}`, broker: broker({ timeoutMs: 300 }) }).pending);
        assert.equal(err.code, "NET_FAILED");
        assert.match(err.message, /timed out/);
        assert.equal(m.api().length, 1);
        assert.deepEqual(leaks(err.message, SECRETS[ref]), []);
        assert.equal(scrubber.holdsSecret(err.message), false);
      }
    });

    it(
      "a server that reflects the token into a same-origin redirect path, then hangs: the NET_FAILED message holds no secret",
      async () => {
        const m = mark();
        const err = await failure(call({ url: apiUrl("/v1/reflect-redirect?to=/v1/never/"), credential: "cred:api", broker: broker({ timeoutMs: 300 }) }).pending);
        assert.equal(err.code, "NET_FAILED");
        assert.match(err.message, /timed out/);
        assert.equal(m.api()[1]!.url, `/v1/never/${SECRETS.api}`, "the server did reflect the token into the second hop");
        assert.deepEqual(leaks(err.message, SECRETS.api), [], err.message);
      },
    );

    it(
      "a server that reflects the token into a same-origin redirect path: the recorded hops (audited as is) hold no secret",
      async () => {
        const { pending, hops } = call({ url: apiUrl("/v1/reflect-redirect?to=/v1/echo/"), credential: "cred:api" });
        const res = await pending;
        assert.equal(res.status, 200);
        assert.deepEqual(leaks(res.body, SECRETS.api), [], "the body is scrubbed");
        assert.equal(hops.length, 2);
        assert.deepEqual(leaks(JSON.stringify(hops), SECRETS.api), [], JSON.stringify(hops));
      },
    );

    it(
      "a server that reflects the token into a redirect to an undeclared host: NOT_CAPABLE, with no secret in the message or any detail",
      async () => {
        const m = mark();
        const err = await failure(call({ url: apiUrl(`/v1/reflect-redirect?to=${encodeURIComponent(`http://undeclared.test:${sink.port}/`)}`), credential: "cred:api" }).pending);
        assert.equal(err.code, "NOT_CAPABLE");
        assert.deepEqual(m.sink(), []);
        assert.deepEqual(leaks(err.message, SECRETS.api), [], err.message);
        assert.deepEqual(leaks(JSON.stringify(err.details), SECRETS.api), [], JSON.stringify(err.details));
      },
    );
  });

  it("no vault configured: a credential reference is CREDENTIAL_UNAVAILABLE and the API receives nothing; plain requests still work", async () => {
    const vaultless = new CredentialBroker({ scrubber, allowPrivateHosts: ALLOWED, resolve: resolver, ...limits });
    const m = mark();
    const { pending, uses } = call({ url: apiUrl("/v1/items"), credential: "cred:api", broker: vaultless });
    const err = await failure(pending);
    assert.equal(err.code, "CREDENTIAL_UNAVAILABLE");
    assert.equal(uses.length, 0);
    assert.deepEqual(m.api(), []);
    const plain = await call({ url: apiUrl("/v1/items"), broker: vaultless }).pending;
    assert.equal(plain.status, 200);
    assert.equal(m.api().length, 1);
    assert.equal(m.api()[0]!.headers.authorization, undefined);
  });

  describe("hops", () => {
    it("record method, host, port, path, status, the pinned address and which hop carried which credential", async () => {
      const hops: Hop[] = [];
      const to = sinkUrl("/landing?x=1");
      const res = await broker().fetch({
        skill: manifest.name,
        manifest,
        first: target(apiUrl(`/v1/redirect?status=307&to=${encodeURIComponent(to)}`), "POST", "cred:api"),
        args: { method: "POST", body: "payload" },
        hops,
      });
      assert.equal(res.hops, hops, "the caller's array is the one filled");
      assert.deepEqual(hops, [
        { method: "POST", host: "api.test", port: api.port, path: "/v1/redirect", status: 307, address: "127.0.0.1", credential: "api" },
        { method: "POST", host: "sink.test", port: sink.port, path: "/landing", status: 200, address: "127.0.0.3" },
      ]);
      assert.equal("credential" in hops[1]!, false, "the second hop carried no credential");
      // Bytes sent and received: the two bodies sent, the redirect body and the final body received.
      const finalRaw = JSON.stringify({ server: "sink", method: "POST", url: "/landing?x=1", body: "payload" });
      assert.equal(res.egressBytes, 2 * "payload".length + "redirect body".length + Buffer.byteLength(finalRaw));
    });

    it("are filled as requests go out, so a chain refused midway still shows the hops that were sent", async () => {
      const hops: Hop[] = [];
      const undeclared = `http://undeclared.test:${sink.port}/x`;
      const bounce = sinkUrl(`/bounce?to=${encodeURIComponent(undeclared)}`);
      const err = await failure(
        broker().fetch({ skill: manifest.name, manifest, first: target(apiUrl(`/v1/redirect?status=302&to=${encodeURIComponent(bounce)}`), "GET", "cred:query"), args: {}, hops }),
      );
      assert.equal(err.code, "NOT_CAPABLE");
      assert.deepEqual(
        hops.map((h) => [h.host, h.path, h.status, h.address, h.credential ?? null]),
        [
          ["api.test", "/v1/redirect", 302, "127.0.0.1", "query"],
          ["sink.test", "/bounce", 302, "127.0.0.3", null],
        ],
      );
      assert.deepEqual(leaks(JSON.stringify(hops), SECRETS.query), [], "a hop records a path, never the injected query");
    });
  });
});

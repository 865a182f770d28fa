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

function call(capability, op, args) {
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
freeze(NotCapable.prototype);
return { runTool, bindTools };
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

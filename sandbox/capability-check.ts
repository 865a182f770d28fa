import type { Manifest } from "../skills-registry/index.js";
import type { CapabilityName } from "./protocol.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Why a capability call is refused: what was asked, and the manifest entry that would allow it. */
export interface NotCapable {
  capability: CapabilityName;
  op: string;
  request: string;
  need: string;
}

export type CapabilityDecision = { ok: true; net?: NetTarget } | { ok: false; refusal: NotCapable };

export interface NetTarget {
  url: URL;
  method: string;
  host: string;
  port: number;
  path: string;
  credential?: string;
}

export const CAPABILITY_OPS: Record<CapabilityName, readonly string[]> = {
  net: ["fetch"],
  fs: ["readText", "writeText", "list", "remove"],
  kv: ["get", "set", "delete", "keys"],
  messages: ["send"],
  log: ["debug", "info", "warn", "error"],
};

function isRecord(v: Json | undefined): v is { [key: string]: Json } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `*.example.com` covers names strictly under example.com; anything else matches exactly. */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern.startsWith("*.")) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return pattern === host;
}

/** `/v1/` covers `/v1/x`; `/v1/forecast` covers itself and `/v1/forecast/…`, never `/v1/forecastx`. */
export function pathMatches(prefix: string, path: string): boolean {
  if (prefix.endsWith("/")) return path.startsWith(prefix) || path === prefix.slice(0, -1);
  return path === prefix || path.startsWith(`${prefix}/`);
}

function refuse(capability: CapabilityName, op: string, request: string, need: string): CapabilityDecision {
  return { ok: false, refusal: { capability, op, request, need } };
}

function checkNet(manifest: Manifest, args: Json): CapabilityDecision {
  if (!isRecord(args) || typeof args.url !== "string") return refuse("net", "fetch", "fetch without a url", "net.fetch(url, options)");
  let url: URL;
  try {
    url = new URL(args.url);
  } catch {
    return refuse("net", "fetch", `fetch ${JSON.stringify(args.url.slice(0, 200))}`, "an absolute http(s) URL");
  }
  const method = typeof args.method === "string" ? args.method.toUpperCase() : "GET";
  const request = `${method} ${url.protocol}//${url.host}${url.pathname}`;
  if (url.protocol !== "https:" && url.protocol !== "http:") return refuse("net", "fetch", request, "an http or https URL");
  if (url.username || url.password) return refuse("net", "fetch", request, "a URL without user:password (use a credential reference)");
  // Encoded separators are left alone by URL parsing but decoded by some servers.
  if (/%2f|%5c/i.test(url.pathname)) return refuse("net", "fetch", request, "a path without encoded / or \\");
  const host = url.hostname.toLowerCase();
  const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  const path = url.pathname;
  const need = `capabilities.net: { "host": "${host}", "port": ${port}, "methods": ["${method}"], "paths": ["${path}"] }`;
  const rule = manifest.capabilities.net.find(
    (r) => hostMatches(r.host, host) && r.port === port && r.methods.includes(method as never) && r.paths.some((p) => pathMatches(p, path)),
  );
  if (!rule) return refuse("net", "fetch", request, need);
  let credential: string | undefined;
  if (args.credential !== undefined && args.credential !== null) {
    const ref = typeof args.credential === "string" && args.credential.startsWith("cred:") ? args.credential.slice(5) : undefined;
    const declared = ref ? manifest.capabilities.credentials.find((c) => c.ref === ref) : undefined;
    if (!ref || !declared || !declared.hosts.some((h) => hostMatches(h, host))) {
      return refuse("net", "fetch", `${request} with ${String(args.credential)}`, `capabilities.credentials: { "ref": "${ref ?? "<id>"}", "hosts": ["${host}"], … }`);
    }
    credential = ref;
  }
  return { ok: true, net: { url, method, host, port, path, credential } };
}

/** A workspace-relative path with no way out: no absolute, `..`, `.`, empty, `\` or NUL parts. */
export function safeWorkspacePath(path: string): boolean {
  if (path.length === 0 || path.length > 512 || path.startsWith("/") || path.includes("\\") || path.includes("\0")) return false;
  return path.replace(/\/$/, "").split("/").every((s) => s !== "" && s !== "." && s !== "..");
}

function checkFs(manifest: Manifest, op: string, args: Json): CapabilityDecision {
  const path = isRecord(args) && typeof args.path === "string" ? args.path : undefined;
  const access = op === "readText" || op === "list" ? "read" : "write";
  const request = `${op} ${JSON.stringify(path ?? null)}`;
  if (path === undefined || !safeWorkspacePath(path)) return refuse("fs", op, request, "a relative path inside the workspace");
  const bare = path.replace(/\/$/, "");
  const allowed = manifest.capabilities.fs.some((r) => {
    const root = r.path.replace(/\/$/, "");
    return r.access.includes(access) && (bare === root || bare.startsWith(`${root}/`));
  });
  return allowed ? { ok: true } : refuse("fs", op, request, `capabilities.fs: { "path": "${bare}", "access": ["${access}"] }`);
}

/**
 * The manifest check, pure and shared: the worker runs it before asking, the gateway
 * runs it again on what arrives, because the worker is not trusted.
 */
export function checkCapability(manifest: Manifest, capability: CapabilityName, op: string, args: Json): CapabilityDecision {
  if (!CAPABILITY_OPS[capability].includes(op)) return refuse(capability, op, `${capability}.${op}`, `one of ${capability}.${CAPABILITY_OPS[capability].join(", ")}`);
  switch (capability) {
    case "net":
      return checkNet(manifest, args);
    case "fs":
      return checkFs(manifest, op, args);
    case "kv":
      return manifest.capabilities.kv ? { ok: true } : refuse("kv", op, `kv.${op}`, "capabilities.kv: {}");
    case "messages": {
      const to = isRecord(args) && typeof args.to === "string" ? args.to : "";
      return manifest.capabilities.messages?.to.includes(to as never)
        ? { ok: true }
        : refuse("messages", op, `send to ${JSON.stringify(to)}`, `capabilities.messages: { "to": ["${to || "session"}"] }`);
    }
    case "log":
      return { ok: true };
  }
}

/** The capabilities whose objects exist in the guest at all. */
export function declaredCapabilities(manifest: Manifest): CapabilityName[] {
  const caps: CapabilityName[] = ["log"];
  if (manifest.capabilities.net.length > 0) caps.push("net");
  if (manifest.capabilities.fs.length > 0) caps.push("fs");
  if (manifest.capabilities.kv) caps.push("kv");
  if (manifest.capabilities.messages) caps.push("messages");
  return caps;
}

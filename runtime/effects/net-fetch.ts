import type { Manifest } from "../../skills-registry/index.js";
import { checkCapability, type NetTarget } from "../../sandbox/index.js";
import { SkillgateError } from "../errors.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface FetchLimits {
  maxResponseBytes: number;
  timeoutMs: number;
  maxRedirects: number;
}

export interface FetchOutcome {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Every hop taken, for the audit log. */
  hops: { method: string; host: string; port: number; path: string; status: number }[];
}

const PASS_HEADERS = ["content-type", "content-length", "etag", "last-modified", "cache-control", "retry-after", "link", "location"];
const HOP_BY_HOP = new Set(["host", "connection", "content-length", "transfer-encoding", "upgrade", "proxy-authorization", "te", "trailer", "keep-alive"]);

function requestHeaders(raw: Json | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (raw && typeof raw === "object" && !Array.isArray(raw)) {
    for (const [k, v] of Object.entries(raw)) {
      const name = k.toLowerCase();
      if (typeof v === "string" && /^[a-z0-9-]{1,64}$/.test(name) && !HOP_BY_HOP.has(name) && v.length <= 8192) headers[name] = v;
    }
  }
  return headers;
}

async function readCapped(response: Response, max: number): Promise<string> {
  if (!response.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.length;
    if (size > max) throw new SkillgateError("NET_RESPONSE_TOO_LARGE", `response is larger than ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * A manifest-checked HTTP request. Redirects are followed here, one hop at a time, and
 * each hop must pass the manifest again: a declared host cannot bounce a skill to an
 * undeclared one.
 */
export async function manifestFetch(
  manifest: Manifest,
  first: NetTarget,
  args: Json,
  limits: FetchLimits,
  /** Filled as requests go out, so the caller can audit egress even when a later hop fails. */
  hops: FetchOutcome["hops"] = [],
): Promise<FetchOutcome> {
  const o = args && typeof args === "object" && !Array.isArray(args) ? args : {};
  let target = first;
  let method = first.method;
  let body = typeof o.body === "string" ? o.body : undefined;
  const headers = requestHeaders(o.headers);
  const deadline = AbortSignal.timeout(limits.timeoutMs);
  for (let hop = 0; ; hop++) {
    let response: Response;
    try {
      response = await fetch(target.url, { method, headers, body: method === "GET" || method === "HEAD" ? undefined : body, redirect: "manual", signal: deadline });
    } catch (err) {
      const reason = (err as Error).name === "TimeoutError" ? "timed out" : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
      throw new SkillgateError("NET_FAILED", `${method} ${target.host}${target.path}: ${reason}`);
    }
    hops.push({ method, host: target.host, port: target.port, path: target.path, status: response.status });
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      if (hop >= limits.maxRedirects) throw new SkillgateError("NET_FAILED", `more than ${limits.maxRedirects} redirects`);
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === "POST")) {
        method = "GET";
        body = undefined;
      }
      const next = new URL(location, target.url).href;
      const decision = checkCapability(manifest, "net", "fetch", { url: next, method });
      if (!decision.ok || !decision.net) {
        const refusal = decision.ok ? undefined : decision.refusal;
        throw Object.assign(new SkillgateError("NOT_CAPABLE", `redirect to ${refusal?.request ?? next} is not declared`), { details: refusal ? { ...refusal } : {} });
      }
      target = decision.net;
      continue;
    }
    const out: Record<string, string> = {};
    for (const name of PASS_HEADERS) {
      const value = response.headers.get(name);
      if (value !== null) out[name] = value;
    }
    let text: string;
    try {
      text = await readCapped(response, limits.maxResponseBytes);
    } catch (err) {
      if (err instanceof SkillgateError) throw err;
      const reason = (err as Error).name === "TimeoutError" ? "timed out" : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
      throw new SkillgateError("NET_FAILED", `${method} ${target.host}${target.path}: reading the response ${reason}`);
    }
    return { status: response.status, headers: out, body: text, hops };
  }
}

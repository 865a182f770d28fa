import type { Manifest } from "../../skills-registry/index.js";
import { checkCapability, type NetTarget } from "../../sandbox/index.js";
import { SkillgateError } from "../errors.js";
import type { Scrubber } from "../secrets/scrubber.js";
import type { Vault } from "../secrets/vault.js";
import { credentialAllowed, injectCredential } from "./inject-credential.js";
import { loadUndici, pinnedDispatcher, type Resolver, resolveAllowed, systemResolver } from "./pinned-dispatcher.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface BrokerOptions {
  /** Absent: no credentials can be used (the request fails with CREDENTIAL_UNAVAILABLE). */
  vault?: Vault;
  scrubber: Scrubber;
  /** Hosts (names or IP literals) the operator lets reach loopback, private or link-local addresses. */
  allowPrivateHosts: readonly string[];
  resolve?: Resolver;
  maxResponseBytes: number;
  timeoutMs: number;
  maxRedirects: number;
}

export interface Hop {
  method: string;
  host: string;
  port: number;
  path: string;
  status: number;
  address: string;
  credential?: string;
}

export interface CredentialUse {
  ref: string;
  host: string;
  method: string;
  path: string;
}

export interface BrokeredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  hops: Hop[];
  /** Bytes sent and received, for the session's egress budget. */
  egressBytes: number;
}

export interface FetchRequest {
  skill: string;
  manifest: Manifest;
  first: NetTarget;
  args: Json;
  /** Called before a secret is injected: audits the use and may refuse it (policy). */
  beforeCredential?: (use: CredentialUse) => Promise<void>;
  /** Filled as requests go out, so the caller can audit egress even when a later hop fails. */
  hops: Hop[];
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

async function readCapped(body: AsyncIterable<Uint8Array>, max: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) throw new SkillgateError("NET_RESPONSE_TOO_LARGE", `response is larger than ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const origin = (t: NetTarget) => `${t.url.protocol}//${t.host}:${t.port}`;

/**
 * All of a skill's egress: manifest-checked, resolved once and pinned, refused toward
 * private and metadata addresses, redirects followed here hop by hop with every hop checked
 * again, and a credential injected only at the last moment — dropped for good at the first
 * change of origin. Whatever comes back passes the scrubber before anyone sees it.
 */
export class CredentialBroker {
  constructor(private readonly options: BrokerOptions) {}

  async fetch(req: FetchRequest): Promise<BrokeredResponse> {
    const o = this.options;
    const args = req.args && typeof req.args === "object" && !Array.isArray(req.args) ? req.args : {};
    let target = req.first;
    let method = target.method;
    let body = typeof args.body === "string" ? args.body : undefined;
    const baseHeaders = requestHeaders(args.headers);
    let credential = target.credential;
    const firstOrigin = origin(target);
    const deadline = AbortSignal.timeout(o.timeoutMs);
    let egressBytes = 0;
    for (let hop = 0; ; hop++) {
      if (origin(target) !== firstOrigin) credential = undefined;
      const pinned = await resolveAllowed(target.host, o.allowPrivateHosts, o.resolve ?? systemResolver);
      const headers = { ...baseHeaders };
      let url = target.url;
      if (credential) url = await this.inject(req, target, credential, method, headers);
      const sendBody = method === "GET" || method === "HEAD" ? undefined : body;
      const dispatcher = await pinnedDispatcher(pinned, Math.min(o.timeoutMs, 10_000));
      // After a redirect the path is the server's choice and may echo the secret: scrub it wherever it is repeated.
      const path = o.scrubber.scrub(target.path);
      // Recorded before it goes out (status 0 until an answer comes), so a request that never answers is evidence too.
      const record: Hop = { method, host: target.host, port: target.port, path, status: 0, address: pinned.address, ...(credential ? { credential } : {}) };
      req.hops.push(record);
      let status: number;
      let responseHeaders: Record<string, string | string[] | undefined>;
      let raw: Buffer;
      try {
        const { request } = await loadUndici();
        const res = await request(url, { method: method as "GET", headers, body: sendBody, dispatcher, signal: deadline });
        status = res.statusCode;
        record.status = status;
        responseHeaders = res.headers;
        raw = await readCapped(res.body, o.maxResponseBytes);
      } catch (err) {
        if (err instanceof SkillgateError) throw err;
        const reason = deadline.aborted ? "timed out" : ((err as { code?: string }).code ?? "request failed");
        throw new SkillgateError("NET_FAILED", `${method} ${target.host}${path}: ${reason}`);
      } finally {
        await dispatcher.close().catch(() => undefined);
      }
      egressBytes += raw.length + (sendBody ? Buffer.byteLength(sendBody) : 0);
      const location = first(responseHeaders.location);
      if (status >= 300 && status < 400 && location) {
        if (hop >= o.maxRedirects) throw new SkillgateError("NET_FAILED", `more than ${o.maxRedirects} redirects`);
        if (status === 303 || ((status === 301 || status === 302) && method === "POST")) {
          method = "GET";
          body = undefined;
        }
        let next: string;
        try {
          next = new URL(location, target.url).href;
        } catch {
          throw new SkillgateError("NET_FAILED", `${target.host} redirected to an invalid location`);
        }
        const decision = checkCapability(req.manifest, "net", "fetch", { url: next, method });
        if (!decision.ok || !decision.net) {
          const refusal = decision.ok ? undefined : decision.refusal;
          throw Object.assign(new SkillgateError("NOT_CAPABLE", `redirect to ${o.scrubber.scrub(refusal?.request ?? next)} is not declared`), {
            details: refusal ? { ...refusal, request: o.scrubber.scrub(refusal.request), need: o.scrubber.scrub(refusal.need) } : {},
          });
        }
        // A Location that carries a secret (a server echoing a query credential) is not followed to another origin.
        if (origin(decision.net) !== origin(target) && o.scrubber.holdsSecret(next)) {
          throw new SkillgateError("EGRESS_REFUSED", `${target.host} redirected to another origin with a credential in the location`);
        }
        target = decision.net;
        continue;
      }
      // Encoded forms are caught too: base64 of `user:secret` (basic auth) holds an aligned base64 of the secret.
      const scrub = (s: string) => o.scrubber.scrub(s);
      const out: Record<string, string> = {};
      for (const name of PASS_HEADERS) {
        const value = first(responseHeaders[name]);
        if (value !== undefined) out[name] = scrub(value);
      }
      return { status, headers: out, body: scrub(raw.toString("utf8")), hops: req.hops, egressBytes };
    }
  }

  private async inject(req: FetchRequest, target: NetTarget, ref: string, method: string, headers: Record<string, string>): Promise<URL> {
    const vault = this.options.vault;
    const binding = vault ? (await vault.binding(ref))?.binding : undefined;
    const why = credentialAllowed(req.manifest, binding, { skill: req.skill, ref, url: target.url, host: target.host, method, path: target.path }, this.options.allowPrivateHosts);
    if (why || !vault) throw new SkillgateError("CREDENTIAL_UNAVAILABLE", why ?? "no vault");
    await req.beforeCredential?.({ ref, host: target.host, method, path: target.path });
    const value = await vault.reveal(ref);
    if (value === undefined) throw new SkillgateError("CREDENTIAL_UNAVAILABLE", `no secret is stored as cred:${ref}`);
    return injectCredential(req.manifest, ref, value, target.url, headers);
  }
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

import { lookup as dnsLookup } from "node:dns/promises";
import { isIP, type LookupFunction } from "node:net";
import type { Agent } from "undici";
import { SkillgateError } from "../errors.js";
import { type AddressClass, classifyAddress } from "./address-policy.js";

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Host name → addresses. Injectable so tests can play a resolver that changes its answer. */
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/** `[::1]` in a URL is `::1` on the wire. */
export function bareHost(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/**
 * Resolves a host once and checks every address: one non-public answer refuses the whole
 * host (an attacker's resolver may mix a public and a private address), unless the operator
 * allowed this exact host. Metadata addresses stay refused even then, except as a literal
 * the operator named.
 */
export async function resolveAllowed(host: string, allowedHosts: readonly string[], resolve: Resolver): Promise<ResolvedAddress> {
  const bare = bareHost(host);
  const family = isIP(bare);
  let answers: ResolvedAddress[];
  if (family) {
    answers = [{ address: bare, family: family as 4 | 6 }];
  } else {
    try {
      answers = await resolve(bare);
    } catch (err) {
      throw new SkillgateError("NET_FAILED", `cannot resolve ${bare}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
    }
  }
  if (answers.length === 0) throw new SkillgateError("NET_FAILED", `cannot resolve ${bare}: no addresses`);
  const allowed = allowedHosts.includes(bare);
  for (const a of answers) {
    const cls: AddressClass = classifyAddress(a.address);
    if (cls === "public") continue;
    if (allowed && (cls !== "metadata" || family)) continue;
    const why = allowed ? "metadata addresses are reachable only as an IP literal listed in egress.allowPrivateHosts" : "the operator has not allowed it (egress.allowPrivateHosts)";
    throw new SkillgateError("EGRESS_REFUSED", `${bare} ${family ? "is" : "resolves to"} a ${cls} address; ${why}`);
  }
  return answers[0]!;
}

/**
 * An undici dispatcher that connects only to the address that was checked: no second DNS
 * lookup happens between the check and the connect, so a rebinding resolver cannot swap
 * the target. TLS still verifies the certificate for the host name.
 */
let undici: Promise<typeof import("undici")> | undefined;

/** undici, loaded on the first egress rather than at gateway start: most of a gateway's life needs no HTTP client. */
export function loadUndici(): Promise<typeof import("undici")> {
  undici ??= import("undici");
  return undici;
}

export async function pinnedDispatcher(pinned: ResolvedAddress, connectTimeoutMs: number): Promise<Agent> {
  const { Agent } = await loadUndici();
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as (err: null, addresses: { address: string; family: number }[]) => void)(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
  return new Agent({ connect: { lookup, timeout: connectTimeoutMs }, connections: 1, pipelining: 1 });
}

import type { Manifest } from "../manifest/schema.js";

export interface CapabilityChange {
  kind: "net" | "fs" | "credential" | "kv" | "messages" | "limit" | "tool";
  /** One readable line, e.g. `+ net GET,POST api.example.com:443 /v2/`. */
  text: string;
}

function netKey(r: Manifest["capabilities"]["net"][number]): string[] {
  return r.methods.flatMap((m) => r.paths.map((p) => `${m} ${r.host}:${r.port} ${p}`));
}

/** What `next` may do that `prev` could not: the things an operator must approve. */
export function capabilityDiff(prev: Manifest, next: Manifest): CapabilityChange[] {
  const changes: CapabilityChange[] = [];
  const added = (kind: CapabilityChange["kind"], before: string[], after: string[]) => {
    const had = new Set(before);
    for (const item of new Set(after)) if (!had.has(item)) changes.push({ kind, text: `+ ${kind} ${item}` });
  };
  added("net", prev.capabilities.net.flatMap(netKey), next.capabilities.net.flatMap(netKey));
  added(
    "fs",
    prev.capabilities.fs.flatMap((f) => f.access.map((a) => `${a} ${f.path}`)),
    next.capabilities.fs.flatMap((f) => f.access.map((a) => `${a} ${f.path}`)),
  );
  const cred = (m: Manifest) => m.capabilities.credentials.flatMap((c) => c.hosts.map((h) => `${c.ref} → ${h} (${c.inject.type})`));
  added("credential", cred(prev), cred(next));
  if (next.capabilities.kv && !prev.capabilities.kv) changes.push({ kind: "kv", text: "+ kv store" });
  if (next.capabilities.kv && prev.capabilities.kv) {
    for (const k of ["maxKeys", "maxBytes"] as const) {
      if (next.capabilities.kv[k] > prev.capabilities.kv[k]) {
        changes.push({ kind: "kv", text: `↑ kv ${k} ${prev.capabilities.kv[k]} → ${next.capabilities.kv[k]}` });
      }
    }
  }
  added("messages", prev.capabilities.messages?.to ?? [], next.capabilities.messages?.to ?? []);
  for (const k of ["memoryMb", "cpuMs", "wallMs", "outputBytes"] as const) {
    if (next.limits[k] > prev.limits[k]) changes.push({ kind: "limit", text: `↑ limit ${k} ${prev.limits[k]} → ${next.limits[k]}` });
  }
  // A read-only tool that becomes a writing or external one is a new power too.
  const rank = { read: 0, write: 1, external: 2 } as const;
  const before = new Map(prev.tools.map((t) => [t.name, t.effect]));
  for (const tool of next.tools) {
    const was = before.get(tool.name);
    if (was === undefined) changes.push({ kind: "tool", text: `+ tool ${tool.name} (${tool.effect})` });
    else if (rank[tool.effect] > rank[was]) changes.push({ kind: "tool", text: `↑ tool ${tool.name} ${was} → ${tool.effect}` });
  }
  return changes;
}

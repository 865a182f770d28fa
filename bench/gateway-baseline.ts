import { randomUUID } from "node:crypto";
import type { CapabilityHandler, InvokeOptions, InvokeResult, Walls } from "../sandbox/index.js";
import type { HostedInvoker } from "../runtime/gateway/agent-host.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * The gateway benchmark's unsandboxed baseline: the two notes tools the benchmark calls,
 * answered in the gateway's own process with the same effects (the same capability handler,
 * so the same files written and the same `touched` audit entries) — no worker, no isolate,
 * no IPC. What the sandboxed run costs beyond this is the sandbox's share.
 */
export function inProcessNotes(handler: CapabilityHandler): HostedInvoker {
  const walls: Walls = { permissionModel: null, networkNamespace: false, emptyEnvironment: true, heapCapMb: 0 };
  return {
    walls,
    close: async () => undefined,
    invoke: async (o: InvokeOptions): Promise<InvokeResult> => {
      const invocation = randomUUID();
      const fs = (op: string, args: Json) => handler({ session: o.session, skill: o.skill, invocation, capability: "fs", op, args });
      const input = o.input as { title: string; text: string };
      let output: Json;
      if (o.tool === "write_note") {
        const path = `notes/${input.title.trim().replace(/ /g, "_")}.txt`;
        const existed = ((await fs("list", { path: "notes/" })) as string[]).includes(path.slice("notes/".length));
        await fs("writeText", { path, text: input.text });
        output = { saved: input.title, replaced: existed };
      } else if (o.tool === "list_notes") {
        const names = (await fs("list", { path: "notes/" })) as string[];
        output = { titles: names.filter((n) => n.endsWith(".txt")).map((n) => n.slice(0, -4).replace(/_/g, " ")).sort() };
      } else {
        throw new Error(`the baseline answers only the notes tools, not ${o.tool}`);
      }
      return { output, stats: { cpuMs: 0, wallMs: 0, calls: 2, coldStart: false } };
    },
  };
}

// The sandbox worker process. It holds isolates and nothing else: no secrets in its
// environment, no database, no writable file system, no way to spawn. It acts only by
// asking the gateway over IPC, and every message it receives is validated first.
import { randomUUID } from "node:crypto";
import { loadIvm } from "../ivm-loader.js";
import { type CapReply, type FromWorker, ToWorkerSchema } from "../protocol.js";
import { IsolateHost } from "./isolate-host.js";

function send(message: FromWorker): void {
  process.send?.(message);
}

const pendingCalls = new Map<string, (reply: CapReply) => void>();

function main(): void {
  if (!process.send) {
    process.stderr.write("the sandbox worker must be started by the gateway over IPC\n");
    process.exit(2);
  }
  // Already loaded by lockdown.js (preloaded), before native addons were switched off.
  const { ivm, packageName, version } = loadIvm();
  const idleTtlMs = Number(process.argv[2] ?? "60000");
  const host = new IsolateHost(
    ivm,
    (invocation, capability, op, argsJson) =>
      new Promise<string>((resolve) => {
        const callId = randomUUID();
        pendingCalls.set(callId, (reply) => resolve(JSON.stringify(reply.ok ? { ok: true, value: reply.value ?? null } : { ok: false, error: reply.error })));
        let args: unknown;
        try {
          args = JSON.parse(argsJson);
        } catch {
          pendingCalls.delete(callId);
          resolve(JSON.stringify({ ok: false, error: { code: "CAPABILITY_ERROR", message: "arguments are not JSON" } }));
          return;
        }
        send({ type: "cap", invocation, callId, capability, op, args: args as never });
      }),
    idleTtlMs,
  );
  process.on("message", (raw: unknown) => {
    const parsed = ToWorkerSchema.safeParse(raw);
    if (!parsed.success) return; // The gateway never sends these; ignore rather than act on them.
    const message = parsed.data;
    if (message.type === "cap-reply") {
      const resolve = pendingCalls.get(message.callId);
      pendingCalls.delete(message.callId);
      resolve?.(message);
    } else if (message.type === "dispose") {
      host.dispose(message.key);
    } else {
      void host.invoke(message).then((outcome) => {
        send(
          outcome.ok
            ? { type: "result", id: message.id, ok: true, output: outcome.output, stats: outcome.stats }
            : { type: "result", id: message.id, ok: false, error: outcome.error, stats: outcome.stats },
        );
      });
    }
  });
  process.on("disconnect", () => {
    host.close();
    process.exit(0);
  });
  send({ type: "ready", ivm: { packageName, version } });
}

try {
  main();
} catch (err) {
  // One line, no stack: the gateway reports the exit; this says why (e.g. no isolated-vm build for this Node).
  const code = (err as { code?: unknown }).code;
  process.stderr.write(`skillgate sandbox worker: ${typeof code === "string" ? `${code}: ` : ""}${(err as Error).message}\n`);
  process.exit(1);
}

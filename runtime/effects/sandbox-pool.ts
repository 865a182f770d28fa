import type { Logger } from "pino";
import type { AuditLog } from "../../audit/index.js";
import { SandboxPool } from "../../sandbox/index.js";
import type { CredentialBroker } from "../broker/broker.js";
import type { Config } from "../config/schema.js";
import type { Governor } from "../policy/governor.js";
import type { StatePaths } from "../state/state-dir.js";
import { auditSandboxEvent, defaultCapabilityHandler } from "./capability-handler.js";

/**
 * The runtime's sandbox: workers capped by the operator's config, effects performed by
 * the manifest-checked handler, refusals and crashes audited, and a warning when a wall
 * is missing on this host (the work still runs, inside the walls that are there).
 */
export async function startSandboxPool(options: {
  paths: StatePaths;
  sandbox: Config["sandbox"];
  audit: AuditLog;
  logger: Logger;
  size: number;
  /**
   * The control layer, when the pool is started before it is built (the gateway boots its
   * workers while it opens the vault and loads policy). No capability call can arrive
   * before then: no skill runs until the host that owns this pool exists.
   */
  control?: Promise<{ broker: CredentialBroker; governor: Governor }>;
}): Promise<SandboxPool> {
  const s = options.sandbox;
  const effects = { workspacesRoot: options.paths.workspacesDir, audit: options.audit, logger: options.logger };
  const handler = options.control ? options.control.then((c) => defaultCapabilityHandler({ ...effects, ...c })) : Promise.resolve(defaultCapabilityHandler(effects));
  handler.catch(() => undefined);
  const pool = await SandboxPool.start({
    size: options.size,
    heapMb: s.workerHeapMb,
    idleTtlMs: s.idleTtlSeconds * 1000,
    maxLimits: { memoryMb: s.maxMemoryMb, cpuMs: s.maxCpuMs, wallMs: s.maxWallMs, outputBytes: s.maxOutputBytes, maxCalls: s.maxCallsPerInvocation },
    capabilityHandler: async (call) => (await handler)(call),
    onEvent: (event) => auditSandboxEvent(options.audit, event),
  });
  if (!pool.walls.permissionModel) options.logger.warn("sandbox: this Node has no permission model; workers can read and write files");
  if (!pool.walls.networkNamespace) options.logger.warn("sandbox: no user namespaces here; workers can open sockets and signal processes of this user");
  return pool;
}

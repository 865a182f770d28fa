/** The sandbox module's public surface. */
export { type CapabilityDecision, checkCapability, declaredCapabilities, hostMatches, type NetTarget, type NotCapable, pathMatches, safeWorkspacePath } from "./capability-check.js";
export { CapabilityRefused, SandboxError, type SandboxErrorCode } from "./errors.js";
export { candidatesFor, loadIvm, snapshotDisabled } from "./ivm-loader.js";
export type { IvmContext, IvmIsolate, IvmModule, LoadedIvm } from "./ivm-types.js";
export { networkNamespaceAvailable, permissionFlag, type Walls, WORKER_ENTRY, workerLaunch } from "./launch.js";
export {
  type CapabilityCall,
  type CapabilityHandler,
  type InvokeOptions,
  type InvokeResult,
  type PoolOptions,
  SandboxPool,
  type SandboxEvent,
  type SandboxSkill,
} from "./pool.js";
export { type CapabilityName, type InvokeStats, type SandboxLimits } from "./protocol.js";
export { type ProbeResult, summarizeProbe } from "./probe.js";

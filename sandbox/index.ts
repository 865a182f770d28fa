/** The sandbox module's public surface. */
export { SandboxError, type SandboxErrorCode } from "./errors.js";
export { candidatesFor, loadIvm, snapshotDisabled } from "./ivm-loader.js";
export type { IvmContext, IvmIsolate, IvmModule, LoadedIvm } from "./ivm-types.js";
export { type ProbeResult, summarizeProbe } from "./probe.js";

import { createRequire } from "node:module";
import { SandboxError } from "./errors.js";
import type { IvmModule, LoadedIvm } from "./ivm-types.js";

const require = createRequire(import.meta.url);

/**
 * isolated-vm's majors track V8: 6.x ships prebuilt binaries for Node 22/24, 5.0.4
 * (installed as `isolated-vm-v5`) builds from source for Node 20/22. Both are optional
 * dependencies; npm installs whichever fits, and this picks by Node major.
 */
export function candidatesFor(nodeMajor: number): string[] {
  if (nodeMajor <= 20) return ["isolated-vm-v5"];
  if (nodeMajor === 22) return ["isolated-vm", "isolated-vm-v5"];
  return ["isolated-vm"];
}

/** isolated-vm crashes the process on Node ≥ 20 unless the startup snapshot is off. */
export function snapshotDisabled(): boolean {
  return process.execArgv.includes("--no-node-snapshot") || (process.env.NODE_OPTIONS ?? "").includes("--no-node-snapshot");
}

let loaded: LoadedIvm | undefined;

export function loadIvm(): LoadedIvm {
  if (loaded) return loaded;
  if (!snapshotDisabled()) {
    throw new SandboxError("SANDBOX_NEEDS_NO_SNAPSHOT", "isolated-vm needs node to run with --no-node-snapshot");
  }
  const major = Number(process.versions.node.split(".")[0]);
  const tried: string[] = [];
  for (const packageName of candidatesFor(major)) {
    try {
      const ivm = require(packageName) as IvmModule;
      const { version } = require(`${packageName}/package.json`) as { version: string };
      loaded = { packageName, version, ivm };
      return loaded;
    } catch (err) {
      tried.push(`${packageName} (${(err as Error).message.split("\n", 1)[0]})`);
    }
  }
  throw new SandboxError(
    "SANDBOX_UNAVAILABLE",
    `no isolated-vm build loads on Node ${process.versions.node}: tried ${tried.join("; ")}. Run 'npm ci' on this Node.`,
  );
}

import { loadIvm } from "./ivm-loader.js";

export interface ProbeResult {
  ok: boolean;
  node: string;
  packageName?: string;
  version?: string;
  /** What `6 * 7` evaluated to inside a fresh isolate. */
  result?: unknown;
  error?: { code: string; message: string };
}

export function summarizeProbe(): ProbeResult {
  try {
    const { packageName, version, ivm } = loadIvm();
    const isolate = new ivm.Isolate({ memoryLimit: 16 });
    try {
      const context = isolate.createContextSync();
      const result = context.evalSync("6 * 7", { timeout: 1000 });
      return { ok: true, node: process.versions.node, packageName, version, result };
    } finally {
      isolate.dispose();
    }
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return {
      ok: false,
      node: process.versions.node,
      error: { code: typeof code === "string" ? code : "INTERNAL", message: (err as Error).message },
    };
  }
}

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { networkNamespaceAvailable, permissionFlag } from "../../../sandbox/index.js";
import { contextOf } from "../context.js";

const PROBE = fileURLToPath(new URL("../../../sandbox/ivm-probe.js", import.meta.url));

interface Check {
  wall: string;
  active: boolean;
  detail: string;
}

/** Which walls around skills are active on this host; each missing one is said plainly. */
export function sandboxChecks(): Check[] {
  const probe = spawnSync(process.execPath, ["--no-node-snapshot", PROBE], { encoding: "utf8", env: {}, timeout: 30_000 });
  let ivm: { ok?: boolean; packageName?: string; version?: string; error?: { message?: string } } = {};
  try {
    ivm = JSON.parse(probe.stdout) as typeof ivm;
  } catch {
    ivm = { ok: false, error: { message: probe.stderr.split("\n")[0] ?? "probe failed" } };
  }
  const flag = permissionFlag();
  const netns = networkNamespaceAvailable();
  return [
    { wall: "isolate (isolated-vm)", active: ivm.ok === true, detail: ivm.ok ? `${ivm.packageName} ${ivm.version} on Node ${process.versions.node}` : `unavailable: ${ivm.error?.message ?? "unknown"}` },
    { wall: "permission model", active: flag !== null, detail: flag ? `${flag}: reads limited to the worker's code, no writes, no child processes, no worker threads` : "this Node has no permission model" },
    {
      wall: "network and PID namespaces",
      active: netns,
      detail: netns
        ? "workers run under unshare: no network interfaces (IPC still flows over the inherited channel) and no other process to signal; filesystem unix sockets are not covered"
        : "user namespaces unavailable: workers can open sockets and signal processes of this user (the gateway still performs every effect)",
    },
    { wall: "native addons", active: flag !== null, detail: "isolated-vm is preloaded, then process.dlopen is disabled for good" },
    { wall: "empty environment", active: true, detail: "workers start with no environment variables" },
  ];
}

export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("report which sandbox walls are active on this host")
    .action((_raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const checks = sandboxChecks();
      cli.print(
        checks.map((c) => `${c.active ? "ok     " : "MISSING"} ${c.wall}: ${c.detail}`),
        { ok: checks.every((c) => c.active), checks },
      );
      if (!checks[0]?.active) process.exitCode = 1;
    });
}

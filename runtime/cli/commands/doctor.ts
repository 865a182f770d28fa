import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { networkNamespaceAvailable, permissionFlag } from "../../../sandbox/index.js";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { loadConfig } from "../../config/load.js";
import type { Config } from "../../config/schema.js";
import { isLoopback } from "../../gateway/server.js";
import { type CliContext, contextOf } from "../context.js";
import { PolicyEngine } from "../../policy/engine.js";
import { MASTER_KEY_ENV } from "../../secrets/master-key.js";
import { inHome } from "../../state/state-dir.js";

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

/** The state dir as an operator should want it: valid config, private keys, a safe bind, a sane trust policy. */
async function stateChecks(cli: CliContext): Promise<Check[]> {
  const checks: Check[] = [];
  let config: Config | undefined;
  try {
    config = await loadConfig(cli.paths.config);
    checks.push({ wall: "config", active: true, detail: `${cli.paths.config} is valid` });
  } catch (err) {
    checks.push({ wall: "config", active: false, detail: (err as Error).message });
  }
  const keyFiles = [cli.paths.auditSigningKey, cli.paths.operatorToken, cli.paths.config, ...(process.env[MASTER_KEY_ENV] ? [] : [cli.paths.masterKey])];
  for (const path of keyFiles) {
    try {
      const mode = (await stat(path)).mode & 0o777;
      checks.push({ wall: `permissions ${basename(path)}`, active: (mode & 0o077) === 0, detail: `mode ${mode.toString(8).padStart(4, "0")}${mode & 0o077 ? ": readable by others; chmod 600" : ""}` });
    } catch {
      checks.push({ wall: `permissions ${basename(path)}`, active: false, detail: `${path} is missing; run 'skillgate init'` });
    }
  }
  if (config) {
    const loopback = isLoopback(config.gateway.host);
    checks.push({ wall: "bind", active: loopback, detail: loopback ? `${config.gateway.host}:${config.gateway.port} (loopback)` : `${config.gateway.host} is public: needs TLS in front and --insecure-public` });
    const wide = config.trust.publishers.filter((p) => p.keys.length === 0 && p.identities.length === 0);
    const revokedHeld = config.trust.publishers.flatMap((p) => p.keys.filter((k) => config?.trust.revoked.keys.includes(k.id)).map((k) => `${p.name}:${k.id.slice(0, 12)}`));
    checks.push({
      wall: "trust policy",
      active: wide.length === 0 && revokedHeld.length === 0,
      detail:
        [
          `${config.trust.publishers.length} publisher(s), ${config.trust.revoked.keys.length + config.trust.revoked.digests.length + config.trust.revoked.identities.length} revocation(s)`,
          ...wide.map((p) => `publisher ${p.name} has no key or identity`),
          ...revokedHeld.map((k) => `revoked key still listed under ${k}`),
        ].join("; "),
    });
    try {
      const engine = await PolicyEngine.load(config.policy.files.map((f) => inHome(cli.paths.home, f)));
      checks.push({ wall: "policy", active: true, detail: `${engine.ids.length} Cedar policies parse (${config.policy.files.length ? config.policy.files.join(", ") : "shipped defaults"})` });
    } catch (err) {
      checks.push({ wall: "policy", active: false, detail: (err as Error).message });
    }
  }
  return checks;
}

export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("check the sandbox walls on this host, and the state dir: config, key permissions, bind, trust policy")
    .action(async (_raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const checks = [...sandboxChecks(), ...(await stateChecks(cli))];
      cli.print(
        checks.map((c) => `${c.active ? "ok     " : "MISSING"} ${c.wall}: ${c.detail}`),
        { ok: checks.every((c) => c.active), checks },
      );
      if (!checks[0]?.active) process.exitCode = 1;
    });
}

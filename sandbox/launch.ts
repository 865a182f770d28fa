import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Which of the process walls a worker actually gets on this host. */
export interface Walls {
  /** Node's permission model: fs reads limited, no fs writes, no child processes, no worker threads. */
  permissionModel: string | null;
  /** Empty network and PID namespaces (Linux user namespaces via `unshare`). */
  networkNamespace: boolean;
  /** No environment variables at all reach the worker. */
  emptyEnvironment: true;
  heapCapMb: number;
}

export interface WorkerLaunch {
  command: string;
  args: string[];
  walls: Walls;
  readPaths: string[];
}

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function packageDir(name: string): string | undefined {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

/** The repository root: the nearest package.json above the compiled sandbox. */
function projectRoot(): string {
  let dir = here;
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/**
 * Files the worker must read to start: its own code, zod, isolated-vm (and the
 * node-gyp-build loader isolated-vm 6 finds its prebuilt binary with), and the
 * package.json the ESM loader looks up.
 */
export function workerReadPaths(entry: string): string[] {
  const paths = [`${here}/`, dirname(entry) + "/", join(projectRoot(), "package.json")];
  for (const name of ["zod", "isolated-vm", "isolated-vm-v5"]) {
    const dir = packageDir(name);
    if (!dir) continue;
    paths.push(`${dir}/`);
    if (name !== "isolated-vm") continue;
    try {
      paths.push(`${dirname(createRequire(join(dir, "package.json")).resolve("node-gyp-build/package.json"))}/`);
      // node-gyp-build probes this one file to tell musl from glibc.
      paths.push("/etc/alpine-release");
    } catch {
      // An isolated-vm that does not load through node-gyp-build.
    }
  }
  return [...new Set(paths)];
}

export function permissionFlag(): string | null {
  if (process.allowedNodeEnvironmentFlags.has("--permission")) return "--permission";
  if (process.allowedNodeEnvironmentFlags.has("--experimental-permission")) return "--experimental-permission";
  return null;
}

let netnsWorks: boolean | undefined;
const UNSHARE = ["/usr/bin/unshare", "/bin/unshare"].find((p) => existsSync(p));
/**
 * A new user, network and PID namespace: no network interfaces, and no other process
 * visible to signal. The worker is PID 1 inside; --kill-child ends it with unshare.
 */
const UNSHARE_ARGS = ["--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child"];

/** Whether `unshare` can give a process empty user, network and PID namespaces here (checked once). */
export function networkNamespaceAvailable(): boolean {
  if (netnsWorks === undefined) {
    const probe = UNSHARE ? spawnSync(UNSHARE, [...UNSHARE_ARGS, process.execPath, "-e", "0"], { stdio: "ignore", timeout: 10_000, env: {} }) : undefined;
    netnsWorks = probe?.status === 0;
  }
  return netnsWorks;
}

export const WORKER_ENTRY = join(here, "worker", "worker-main.js");
const LOCKDOWN = join(here, "worker", "lockdown.js");

/**
 * The command line of a sandbox worker: no startup snapshot (isolated-vm needs that), a
 * heap cap, the permission model with reads limited to the worker's own code, native
 * addons allowed for isolated-vm only, and, where the OS allows, no network at all.
 */
export function workerLaunch(options: { entry?: string; heapMb?: number; idleTtlMs?: number; network?: "isolate" | "allow" } = {}): WorkerLaunch {
  const entry = options.entry ?? WORKER_ENTRY;
  const heapMb = options.heapMb ?? 512;
  const flag = permissionFlag();
  const readPaths = workerReadPaths(entry);
  const nodeArgs = [
    "--no-node-snapshot",
    `--max-old-space-size=${heapMb}`,
    "--no-warnings",
    ...(flag ? [flag, "--allow-addons", ...readPaths.map((p) => `--allow-fs-read=${p}`)] : []),
    `--import=${pathToFileURL(LOCKDOWN).href}`,
    entry,
    String(options.idleTtlMs ?? 60_000),
  ];
  const netns = options.network !== "allow" && networkNamespaceAvailable();
  return {
    command: netns ? (UNSHARE as string) : process.execPath,
    args: netns ? [...UNSHARE_ARGS, process.execPath, ...nodeArgs] : nodeArgs,
    walls: { permissionModel: flag, networkNamespace: netns, emptyEnvironment: true, heapCapMb: heapMb },
    readPaths,
  };
}

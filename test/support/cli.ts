import { spawnSync } from "node:child_process";
import { CLI_PATH } from "./paths.js";

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI in a child process, as a user would. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): CliRun {
  const child = spawnSync(process.execPath, [CLI_PATH, ...args], {
    encoding: "utf8",
    input: options.input,
    env: { PATH: process.env.PATH, ...options.env },
    cwd: options.cwd,
    timeout: 60_000,
  });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

/** A user-facing failure: non-zero, one line on stderr, no stack trace. */
export function assertCleanFailure(run: CliRun, code: string): void {
  if (run.status === 0) throw new Error(`expected failure, got exit 0: ${run.stdout}`);
  const lines = run.stderr.trimEnd().split("\n");
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got:\n${run.stderr}`);
  if (!lines[0]?.startsWith(`skillgate: ${code}: `)) throw new Error(`expected ${code}, got: ${lines[0]}`);
  if (/\bat .+:\d+:\d+/.test(run.stderr)) throw new Error(`stack trace leaked: ${run.stderr}`);
}

import { isAbsolute, join, resolve } from "node:path";

export const DEFAULT_HOME = ".skillgate";

/** Where everything skillgate keeps lives; one place, so tests and users can relocate it. */
export interface StatePaths {
  home: string;
  config: string;
  keysDir: string;
  auditSigningKey: string;
  /** The gateway's operator token (0600): connect frames must present it. */
  operatorToken: string;
  auditVerifierKey: string;
  auditDb: string;
  /** Sessions, transcripts and turns: the gateway's own state. */
  stateDb: string;
  exportsDir: string;
  /** Content-addressed skill store: `skills/<sha256>/`. */
  skillsDir: string;
  lockfile: string;
  /** Where the running gateway listens (written at start, removed at stop), for the CLI to find it. */
  gatewayAddress: string;
  /** The vault's master key (0600), unless SKILLGATE_MASTER_KEY is set. */
  masterKey: string;
  /** Per-session workspaces skills may read and write (by manifest). */
  workspacesDir: string;
}

export function resolveHome(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = explicit ?? env.SKILLGATE_HOME ?? DEFAULT_HOME;
  return isAbsolute(chosen) ? chosen : resolve(process.cwd(), chosen);
}

export function statePaths(home: string): StatePaths {
  const keysDir = join(home, "keys");
  return {
    home,
    config: join(home, "config.json"),
    keysDir,
    auditSigningKey: join(keysDir, "audit.skey"),
    operatorToken: join(keysDir, "operator.token"),
    masterKey: join(keysDir, "master.key"),
    gatewayAddress: join(home, "gateway.json"),
    auditVerifierKey: join(keysDir, "audit.vkey"),
    auditDb: join(home, "audit.db"),
    stateDb: join(home, "state.db"),
    exportsDir: join(home, "exports"),
    skillsDir: join(home, "skills"),
    lockfile: join(home, "skills.lock.json"),
    workspacesDir: join(home, "workspaces"),
  };
}

/** A path from the config: absolute as written, otherwise relative to the state dir. */
export function inHome(home: string, path: string): string {
  return isAbsolute(path) ? path : join(home, path);
}

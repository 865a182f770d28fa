import type { Command } from "commander";
import { initState } from "../../state/init.js";
import { contextOf } from "../context.js";

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("create the state dir: config, audit signing key (0600) and verifier key")
    .action(async (_options: unknown, command: Command) => {
      const cli = contextOf(command);
      const result = await initState(cli.paths.home);
      cli.print(
        [
          `Initialized ${result.paths.home}`,
          "Audit log verifier key (give it to your auditors; it is also in keys/audit.vkey):",
          `  ${result.vkey}`,
          `Operator token for the gateway (shown once; kept in keys/operator.token, 0600):`,
          `  ${result.operatorToken ?? ""}`,
        ],
        { home: result.paths.home, vkey: result.vkey, operatorToken: result.operatorToken ?? null },
      );
    });
}

import type { Command } from "commander";
import { parseCheckpoint, readCheckpointFile } from "../../../audit/index.js";
import { inHome } from "../../state/state-dir.js";
import { contextOf, parseArg } from "../context.js";
import { connectOperator, GatewayUrlOptions } from "./chat.js";

/** Sessions, lanes, workers and the last signed checkpoint of the running gateway. */
export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("what the running gateway is doing: sessions, lanes, sandbox workers, last checkpoint")
    .option("--url <ws-url>", "gateway URL (default from config)")
    .action(async (raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const o = parseArg(GatewayUrlOptions, raw, "options");
      const config = await cli.config();
      const notes = await readCheckpointFile(inHome(cli.paths.home, config.audit.checkpointFile)).catch(() => [] as string[]);
      const last = notes.at(-1);
      const checkpoint = last ? parseCheckpoint(last.split("\n\n")[0] + "\n").size : null;
      const { client, url } = await connectOperator(cli, o.url);
      try {
        const info = (await client.call("gateway.info")) as { uptimeMs: number; auditEntries: number };
        const workers = (await client.call("gateway.workers")) as { waiting: number; running: number; walls: Record<string, unknown> };
        const sessions = (await client.call("sessions.list")) as { key: string; agent: string; updated_at: string }[];
        cli.print(
          [
            `Gateway ${url}: up ${Math.round(info.uptimeMs / 1000)} s`,
            `  sessions: ${sessions.length}${sessions[0] ? ` (latest ${sessions[0].key} at ${sessions[0].updated_at})` : ""}`,
            `  lane main: ${workers.running} running, ${workers.waiting} waiting`,
            `  sandbox walls: ${Object.entries(workers.walls).map(([k, v]) => `${k}=${String(v)}`).join(", ")}`,
            `  audit: ${info.auditEntries} entries; last signed checkpoint covers ${checkpoint ?? "none"}`,
          ],
          { url, ...info, lanes: { main: { running: workers.running, waiting: workers.waiting } }, walls: workers.walls, sessions, lastCheckpointSize: checkpoint },
        );
      } finally {
        client.close();
      }
    });
}

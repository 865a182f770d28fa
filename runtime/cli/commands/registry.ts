import type { Command } from "commander";
import { z } from "zod";
import { publishToRegistry } from "../../../skills-registry/index.js";
import { contextOf, parseArg } from "../context.js";

export function registerRegistry(program: Command): void {
  const registry = program.command("registry").description("static skill registries (a directory any web server can serve)");
  registry
    .command("publish")
    .description("add a signed package (PKG and PKG.sigstore.json) to a registry directory")
    .argument("<pkg>", "the .tgz made by 'skill pack'")
    .requiredOption("--to <dir>", "registry directory")
    .action(async (pkg: string, raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const { to } = parseArg(z.object({ to: z.string().min(1) }), raw, "options");
      const published = await publishToRegistry(pkg, to);
      cli.print(`Published ${published.name}@${published.version} (sha256 ${published.sha256}) to ${to}`, published);
    });
}

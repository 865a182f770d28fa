import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { generateSigningKey } from "../../../skills-registry/index.js";
import { SkillgateError } from "../../errors.js";
import { writePrivateFile } from "../../state/files.js";
import { contextOf, parseArg } from "../context.js";

const Options = z.object({ out: z.string().min(1).default("."), name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default("skill-signing") });

export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("signing keys for skill authors");
  keys
    .command("generate")
    .description("create an ECDSA P-256 signing key (private PEM, 0600) and its public PEM")
    .option("--out <dir>", "directory to write the key files into", ".")
    .option("--name <base>", "file name base", "skill-signing")
    .action(async (raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const options = parseArg(Options, raw, "options");
      const dir = resolve(options.out);
      const privatePath = join(dir, `${options.name}.key.pem`);
      const publicPath = join(dir, `${options.name}.pub.pem`);
      const pair = generateSigningKey();
      try {
        await writePrivateFile(privatePath, pair.privatePem, { exclusive: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new SkillgateError("KEY_EXISTS", `${privatePath} already exists; not overwriting a key`);
        throw err;
      }
      await writeFile(publicPath, pair.publicPem, { mode: 0o644 });
      cli.print(
        [`Private key: ${privatePath} (0600, keep it secret)`, `Public key:  ${publicPath}`, `Key ID:      ${pair.keyId}`],
        { privateKey: privatePath, publicKey: publicPath, keyId: pair.keyId },
      );
    });
}

import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { z } from "zod";
import { keyIdOf, loadPublicKey, type TrustPolicy, TrustPolicySchema } from "../../../skills-registry/index.js";
import { loadConfig, saveConfig } from "../../config/load.js";
import { SkillgateError } from "../../errors.js";
import { contextOf, parseArg } from "../context.js";

const AddOptions = z
  .object({
    key: z.string().optional(),
    identity: z.string().optional(),
    identityPattern: z.string().optional(),
    issuer: z.url().optional(),
    sourceRepo: z.string().optional(),
    sourceRef: z.string().optional(),
    scope: z.array(z.string()).min(1),
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/).optional(),
  })
  .refine((o) => [o.key, o.identity, o.identityPattern].filter((v) => v !== undefined).length === 1, "give exactly one of --key, --identity, --identity-pattern")
  .refine((o) => o.key !== undefined || o.issuer !== undefined, "keyless identities need --issuer");

const RevokeOptions = z
  .object({ key: z.string().optional(), digest: z.string().optional(), identity: z.string().optional() })
  .refine((o) => [o.key, o.digest, o.identity].filter((v) => v !== undefined).length === 1, "give exactly one of --key, --digest, --identity");

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Validates the edited policy as a whole before it is written, so a bad edit never lands. */
function checked(policy: TrustPolicy): TrustPolicy {
  const parsed = TrustPolicySchema.safeParse(policy);
  if (!parsed.success) throw new SkillgateError("USAGE", `trust policy: ${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

export function registerTrust(program: Command): void {
  const trust = program.command("trust").description("who may sign which skills (the operator's trust policy)");
  trust
    .command("add")
    .description("trust a publisher key (--key PUB.pem) or keyless identity (--identity SAN --issuer URL) for name scopes")
    .option("--key <pem>", "public key PEM file")
    .option("--identity <san>", "exact certificate SAN of a keyless signer")
    .option("--identity-pattern <regex>", "SAN pattern, matched against the whole SAN")
    .option("--issuer <url>", "OIDC issuer of the keyless identity")
    .option("--source-repo <uri>", "also require this source repository (Fulcio extension)")
    .option("--source-ref <ref>", "also require this source ref, e.g. refs/heads/main")
    .requiredOption("--scope <pattern>", "@scope/* or @scope/name (repeatable)", collect)
    .option("--name <publisher>", "publisher name (default: the first scope's owner)")
    .action(async (raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const o = parseArg(AddOptions, raw, "options");
      const config = await loadConfig(cli.paths.config);
      const name = o.name ?? (o.scope[0] as string).slice(1).split("/")[0] ?? "publisher";
      let publisher = config.trust.publishers.find((p) => p.name === name);
      if (!publisher) {
        publisher = { name, scopes: [], keys: [], identities: [] };
        config.trust.publishers.push(publisher);
      }
      for (const scope of o.scope) if (!publisher.scopes.includes(scope)) publisher.scopes.push(scope);
      let added: string;
      if (o.key !== undefined) {
        const pem = await readFile(o.key, "utf8").catch(() => {
          throw new SkillgateError("USAGE", `cannot read ${o.key}`);
        });
        const id = keyIdOf(loadPublicKey(pem));
        if (!publisher.keys.some((k) => k.id === id)) publisher.keys.push({ id, pem });
        added = `key ${id}`;
      } else {
        publisher.identities.push({
          ...(o.identity !== undefined ? { san: o.identity } : { sanPattern: o.identityPattern as string }),
          issuer: o.issuer as string,
          ...(o.sourceRepo ? { sourceRepository: o.sourceRepo } : {}),
          ...(o.sourceRef ? { sourceRef: o.sourceRef } : {}),
        });
        added = `identity ${o.identity ?? `/${o.identityPattern}/`} from ${o.issuer}`;
      }
      config.trust = checked(config.trust);
      await saveConfig(cli.paths.config, config);
      cli.print(`Trusted ${added} as publisher '${name}' for ${publisher.scopes.join(", ")}`, { publisher: name, scopes: publisher.scopes, added });
    });
  trust
    .command("list")
    .description("show trusted publishers and revocations")
    .action(async (_raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const { trust: policy } = await loadConfig(cli.paths.config);
      const lines: string[] = [];
      for (const p of policy.publishers) {
        lines.push(`${p.name}: ${p.scopes.join(", ")}`);
        for (const k of p.keys) lines.push(`  key ${k.id}`);
        for (const i of p.identities) lines.push(`  identity ${i.san ?? `/${i.sanPattern}/`} (issuer ${i.issuer})`);
      }
      const r = policy.revoked;
      for (const d of r.digests) lines.push(`revoked digest ${d}`);
      for (const k of r.keys) lines.push(`revoked key ${k}`);
      for (const i of r.identities) lines.push(`revoked identity ${i}`);
      cli.print(lines.length ? lines : "No trusted publishers. Add one with 'skillgate trust add'.", {
        publishers: policy.publishers.map((p) => ({ ...p, keys: p.keys.map((k) => ({ id: k.id })) })),
        revoked: policy.revoked,
      });
    });
  trust
    .command("revoke")
    .description("revoke a key id, package digest or keyless identity: blocks installs and disables installed skills")
    .option("--key <id>", "key id (sha256 of the public key)")
    .option("--digest <sha256>", "package digest")
    .option("--identity <san>", "keyless signer SAN")
    .action(async (raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const o = parseArg(RevokeOptions, raw, "options");
      const config = await loadConfig(cli.paths.config);
      const r = config.trust.revoked;
      const [list, value] = o.key ? [r.keys, o.key] : o.digest ? [r.digests, o.digest] : [r.identities, o.identity as string];
      if (!list.includes(value)) list.push(value);
      config.trust = checked(config.trust);
      await saveConfig(cli.paths.config, config);
      cli.print(`Revoked ${value}`, { revoked: config.trust.revoked });
    });
}

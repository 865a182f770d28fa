import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AuditLog } from "../../audit/index.js";
import { generateSigningKey, keyIdOf, loadPublicKey, packSkill, publishToRegistry, signSkillWithKey } from "../../skills-registry/index.js";
import { loadConfig, saveConfig } from "../config/load.js";
import { readTextIfExists, writePrivateFile } from "../state/files.js";
import type { StatePaths } from "../state/state-dir.js";
import { installAudited } from "./skill-service.js";

/** The repository's example skills, from the compiled file's location (dist/runtime/skills/). */
export const EXAMPLES_DIR = fileURLToPath(new URL("../../../examples/skills/", import.meta.url));
const DEMO_SCOPE = "@demo/*";

export interface ExampleInstall {
  name: string;
  version: string;
  sha256: string;
  installed: boolean;
}

/** The demo publisher's key, made once per state dir; only this state dir's config trusts it. */
async function demoKey(paths: StatePaths): Promise<{ privatePem: string; publicPem: string }> {
  const privatePath = join(paths.keysDir, "demo-publisher.key.pem");
  const publicPath = join(paths.keysDir, "demo-publisher.pub.pem");
  const existing = await readTextIfExists(privatePath);
  const publicPem = await readTextIfExists(publicPath);
  if (existing && publicPem) return { privatePem: existing, publicPem };
  const pair = generateSigningKey();
  await writePrivateFile(privatePath, pair.privatePem);
  await writeFile(publicPath, pair.publicPem, { mode: 0o644 });
  return pair;
}

async function trustDemoKey(paths: StatePaths, publicPem: string): Promise<void> {
  const config = await loadConfig(paths.config);
  const id = keyIdOf(loadPublicKey(publicPem));
  let publisher = config.trust.publishers.find((p) => p.name === "demo");
  if (!publisher) {
    publisher = { name: "demo", scopes: [DEMO_SCOPE], keys: [], identities: [] };
    config.trust.publishers.push(publisher);
  }
  if (publisher.keys.some((k) => k.id === id)) return;
  publisher.keys.push({ id, pem: publicPem });
  await saveConfig(paths.config, config);
}

/**
 * Packs and signs the example skills with the demo key into a local static registry,
 * trusts that key for `@demo/*` in this state dir only, and installs every example
 * through the same verified path any other package takes.
 */
export async function installExampleSkills(paths: StatePaths, log: AuditLog): Promise<ExampleInstall[]> {
  const key = await demoKey(paths);
  await trustDemoKey(paths, key.publicPem);
  const registry = join(paths.home, "demo-registry");
  const packages = join(registry, ".packages");
  await mkdir(packages, { recursive: true });
  const results: ExampleInstall[] = [];
  for (const dir of (await readdir(EXAMPLES_DIR, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    const packed = await packSkill(join(EXAMPLES_DIR, dir));
    const pkg = join(packages, packed.fileName);
    await writeFile(pkg, packed.tarball);
    const bundle = await signSkillWithKey({ name: packed.manifest.name, version: packed.manifest.version, sha256: packed.sha256 }, key.privatePem);
    await writeFile(`${pkg}.sigstore.json`, JSON.stringify(bundle));
    await publishToRegistry(pkg, registry);
    const tarball = await readFile(join(registry, packed.fileName));
    const bundleJson: unknown = JSON.parse(await readFile(join(registry, `${packed.fileName}.sigstore.json`), "utf8"));
    const { trust } = await loadConfig(paths.config);
    const result = await installAudited(paths, trust, log, {
      tarball,
      bundleJson,
      source: `${packed.manifest.name}@${packed.manifest.version} from ${registry}`,
      actor: "demo",
    });
    results.push({ name: result.name, version: result.version, sha256: result.sha256, installed: !result.unchanged });
  }
  return results;
}

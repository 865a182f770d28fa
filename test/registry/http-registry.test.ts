import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  generateSigningKey,
  installSkill,
  packSkill,
  publicGoodTrustedRoot,
  publishToRegistry,
  readPackageAndBundle,
  RegistryError,
  resolveFromRegistry,
  signSkillWithKey,
  TrustPolicySchema,
} from "../../skills-registry/index.js";
import { repoRoot } from "../support/paths.js";

/** A static registry served over real HTTP on loopback, as any web server would serve it. */
describe("installing from a registry served over HTTP", () => {
  let dir: string;
  let server: Server;
  let base: string;
  let requests: string[];
  const key = generateSigningKey();
  const policy = TrustPolicySchema.parse({ publishers: [{ name: "demo", scopes: ["@demo/*"], keys: [{ id: key.keyId, pem: key.publicPem }] }] });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sg-http-registry-"));
    const registry = join(dir, "registry");
    for (const name of ["weather", "notes"]) {
      const packed = await packSkill(join(repoRoot(), "examples", "skills", name));
      const pkg = join(dir, packed.fileName);
      writeFileSync(pkg, packed.tarball);
      const bundle = await signSkillWithKey({ name: packed.manifest.name, version: packed.manifest.version, sha256: packed.sha256 }, key.privatePem);
      writeFileSync(`${pkg}.sigstore.json`, JSON.stringify(bundle));
      await publishToRegistry(pkg, registry);
    }
    requests = [];
    server = createServer((req, res) => {
      requests.push(req.url ?? "");
      if (req.url === "/redirect/index.json") {
        res.writeHead(302, { location: "http://example.invalid/index.json" }).end();
        return;
      }
      const path = normalize(join(registry, decodeURIComponent(req.url ?? "/")));
      try {
        const body = readFileSync(path);
        res.writeHead(200).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("resolves a name through index.json and installs the verified package", async () => {
    const fetched = await resolveFromRegistry(base, "@demo/weather");
    assert.ok(requests.includes("/index.json") && requests.includes("/demo-weather-1.0.0.tgz.sigstore.json"));
    const result = await installSkill({
      ...fetched,
      policy,
      trustedRoot: publicGoodTrustedRoot(),
      storeDir: join(dir, "home", "skills"),
      lockfilePath: join(dir, "home", "skills.lock.json"),
    });
    assert.equal(result.name, "@demo/weather");
    assert.equal(result.version, "1.0.0");
  });

  it("installs a package by URL, its bundle fetched from beside it", async () => {
    const { tarball, bundleJson } = await readPackageAndBundle(`${base}demo-notes-1.0.0.tgz`);
    const result = await installSkill({ tarball, bundleJson, source: base, policy, trustedRoot: publicGoodTrustedRoot(), storeDir: join(dir, "h2", "skills"), lockfilePath: join(dir, "h2", "lock.json") });
    assert.equal(result.name, "@demo/notes");
  });

  it("reports a missing package, an unknown name and a redirect as coded errors", async () => {
    await assert.rejects(readPackageAndBundle(`${base}nope.tgz`), (e: unknown) => e instanceof RegistryError && e.code === "SKILL_NOT_FOUND");
    await assert.rejects(resolveFromRegistry(base, "@demo/absent"), (e: unknown) => e instanceof RegistryError && e.code === "SKILL_NOT_FOUND");
    await assert.rejects(resolveFromRegistry(`${base}redirect/`, "@demo/weather"), (e: unknown) => e instanceof RegistryError && e.code === "SKILL_BAD_REGISTRY");
  });
});

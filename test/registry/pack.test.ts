/**
 * Packing is deterministic: the same tree gives the same bytes whatever the order files
 * were written in, their modes and mtimes; and pack refuses what a package may not hold.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { Parser, type ReadEntry } from "tar";
import {
  PACKAGE_LIMITS,
  type PackedSkill,
  packSkill,
  readPackage,
  RegistryError,
  type RegistryErrorCode,
  tarballName,
} from "../../skills-registry/index.js";
import { repoRoot } from "../support/paths.js";

const WEATHER = join(repoRoot(), "examples", "skills", "weather");
const WEATHER_MANIFEST = JSON.parse(readFileSync(join(WEATHER, "skill.json"), "utf8")) as Record<string, unknown>;
const WEATHER_INDEX = readFileSync(join(WEATHER, "index.js"));
const FIXED_MTIME = new Date("2000-01-01T00:00:00Z");

interface TarEntry {
  path: string;
  type: string;
  mode: number | undefined;
  uid: number | undefined;
  gid: number | undefined;
  uname: string | undefined;
  gname: string | undefined;
  mtime: Date | undefined;
  content: Buffer;
}

/** Every entry of a .tgz, read with tar's own parser (independent of readPackage). */
function tarEntries(tgz: Buffer): Promise<{ entries: TarEntry[]; extendedHeaders: number }> {
  return new Promise((resolve, reject) => {
    const entries: TarEntry[] = [];
    let extendedHeaders = 0;
    const parser = new Parser({ strict: true });
    parser.on("meta", () => extendedHeaders++);
    parser.on("error", reject);
    parser.on("entry", (entry: ReadEntry) => {
      const chunks: Buffer[] = [];
      entry.on("data", (chunk: Buffer) => chunks.push(chunk));
      entry.on("end", () =>
        entries.push({
          path: entry.path,
          type: entry.type,
          mode: entry.mode,
          uid: entry.uid,
          gid: entry.gid,
          uname: entry.uname,
          gname: entry.gname,
          mtime: entry.mtime,
          content: Buffer.concat(chunks),
        }),
      );
    });
    parser.on("end", () => resolve({ entries, extendedHeaders }));
    parser.end(gunzipSync(tgz));
  });
}

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

function writeTree(dir: string, files: [string, Uint8Array][]): void {
  for (const [path, content] of files) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

async function assertPackRefused(dir: string, code: RegistryErrorCode): Promise<void> {
  await assert.rejects(packSkill(dir), (err: unknown) => {
    assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

// ---------------------------------------------------------------------------------------
// Random skill trees
// ---------------------------------------------------------------------------------------

const segment = fc.stringMatching(/^[a-z0-9_-]{1,8}$/);
const relPath = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join("/"));

const skillTreeArb = fc
  .record(
    {
      tree: fc.dictionary(relPath, fc.uint8Array({ maxLength: 2048 }), { maxKeys: 20, noNullPrototype: true }),
      bareName: fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/),
      version: fc.tuple(fc.nat(20), fc.nat(20), fc.nat(20)).map(([a, b, c]) => `${a}.${b}.${c}`),
      /** undefined: index.js at the root; otherwise a nested entry file. */
      entryDir: fc.option(relPath, { nil: undefined }),
      withSkillMd: fc.boolean(),
      /** Which files get 0o755 in the second directory (by index, wrapping). */
      executable: fc.array(fc.boolean(), { minLength: 1, maxLength: 25 }),
      mtimeA: fc.integer({ min: 1_000_000_000, max: 2_000_000_000 }),
      mtimeB: fc.integer({ min: 1_000_000_000, max: 2_000_000_000 }),
    },
    { noNullPrototype: true },
  )
  .map(({ tree, bareName, version, entryDir, withSkillMd, executable, mtimeA, mtimeB }) => {
    const name = `@demo/${bareName}`;
    const entry = entryDir === undefined ? "index.js" : `${entryDir}/main.js`;
    const manifest = { ...WEATHER_MANIFEST, name, version, entry };
    const fixed: [string, Uint8Array][] = [
      ["skill.json", Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)],
      [entry, WEATHER_INDEX],
    ];
    if (withSkillMd) {
      fixed.push(["SKILL.md", Buffer.from(`---\nname: ${bareName}\ndescription: ${JSON.stringify(WEATHER_MANIFEST["description"])}\n---\nUse it.\n`)]);
    }
    // A path cannot be both a file and a directory: drop random files that another path
    // (random or fixed) needs as a directory.
    const random = Object.entries(tree);
    const all = [...random.map(([p]) => p), ...fixed.map(([p]) => p)];
    const kept = random.filter(([p]) => !all.some((q) => q.startsWith(`${p}/`)) && !fixed.some(([f]) => f === p));
    const files = [...kept, ...fixed].sort(([a], [b]) => byteOrder(a, b));
    return { name, version, files, executable, mtimeA, mtimeB };
  });

describe("packSkill determinism", () => {
  let work: string;
  before(() => {
    work = mkdtempSync(join(tmpdir(), "skillgate-pack-"));
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("property: the same random tree written two different ways packs to identical bytes", async () => {
    await fc.assert(
      fc.asyncProperty(skillTreeArb, async ({ name, version, files, executable, mtimeA, mtimeB }) => {
        const run = mkdtempSync(join(work, "run-"));
        try {
          const a = join(run, "a");
          const b = join(run, "b");
          mkdirSync(a);
          mkdirSync(b);
          // a: byte order, default modes, one mtime.
          writeTree(a, files);
          for (const [path] of files) utimesSync(join(a, path), mtimeA, mtimeA);
          // b: reverse order (directories created in another order too), some files 0o755, another mtime.
          const reversed = [...files].reverse();
          writeTree(b, reversed);
          reversed.forEach(([path], i) => {
            if (executable[i % executable.length]) chmodSync(join(b, path), 0o755);
            utimesSync(join(b, path), mtimeB, mtimeB + i);
          });

          const packedA = await packSkill(a);
          const packedB = await packSkill(b);
          assert.ok(packedA.tarball.equals(packedB.tarball), "tarballs differ");
          assert.equal(packedA.sha256, packedB.sha256);
          assert.equal(packedA.sha256, sha256(packedA.tarball));
          assert.equal(packedA.manifest.name, name);
          assert.equal(packedA.manifest.version, version);
          assert.equal(packedA.fileName, tarballName(name, version));
          assert.deepEqual(packedA.files, files.map(([p]) => p));

          // The package holds exactly the files written: paths and contents.
          const read = await readPackage(packedA.tarball);
          assert.deepEqual(
            read.map((f) => f.path),
            files.map(([p]) => p),
          );
          read.forEach((f, i) => {
            const written = files[i];
            assert.ok(written);
            assert.ok(f.content.equals(Buffer.from(written[1])), `${f.path}: content differs`);
          });
        } finally {
          rmSync(run, { recursive: true, force: true });
        }
      }),
      { numRuns: 25 },
    );
  });

  it("packing the same directory twice is byte-identical", async () => {
    const first = await packSkill(WEATHER);
    const second = await packSkill(WEATHER);
    assert.ok(first.tarball.equals(second.tarball));
    assert.equal(first.sha256, second.sha256);
    assert.equal(first.sha256, sha256(first.tarball));
    assert.equal(first.fileName, "demo-weather-1.0.0.tgz");
    assert.deepEqual(first.files, ["SKILL.md", "index.js", "skill.json"]);
  });

  it("a copy with other modes and mtimes packs to the same bytes", async () => {
    const copy = join(work, "weather-copy");
    cpSync(WEATHER, copy, { recursive: true });
    chmodSync(join(copy, "index.js"), 0o755);
    chmodSync(join(copy, "skill.json"), 0o600);
    utimesSync(join(copy, "SKILL.md"), 1_234_567_890, 1_234_567_890);
    utimesSync(join(copy, "index.js"), new Date(), new Date());
    const original = await packSkill(WEATHER);
    const copied = await packSkill(copy);
    assert.ok(original.tarball.equals(copied.tarball));
  });

  it("the gzip header does not depend on the machine or the time", async () => {
    const { tarball } = await packSkill(WEATHER);
    assert.equal(tarball[0], 0x1f);
    assert.equal(tarball[1], 0x8b);
    assert.equal(tarball[2], 8, "deflate");
    assert.equal(tarball[3], 0, "no flags: no file name, comment or extra field");
    assert.deepEqual([...tarball.subarray(4, 8)], [0, 0, 0, 0], "MTIME is zero");
    assert.equal(tarball[9], 0xff, "OS is 'unknown'");
  });

  it("tar entries are plain files with fixed mode, owner and mtime, in byte order", async () => {
    const packed = await packSkill(WEATHER);
    const { entries, extendedHeaders } = await tarEntries(packed.tarball);
    assert.equal(extendedHeaders, 0, "no pax or GNU extension headers");
    assert.deepEqual(
      entries.map((e) => e.path),
      packed.files,
    );
    for (const e of entries) {
      assert.equal(e.type, "File", e.path);
      assert.equal(e.mode, 0o644, e.path);
      assert.equal(e.uid, 0, e.path);
      assert.equal(e.gid, 0, e.path);
      assert.ok(!e.uname, `${e.path}: uname ${String(e.uname)}`);
      assert.ok(!e.gname, `${e.path}: gname ${String(e.gname)}`);
      assert.equal(e.mtime?.getTime(), FIXED_MTIME.getTime(), e.path);
      assert.ok(e.content.equals(readFileSync(join(WEATHER, e.path))), `${e.path}: content`);
    }
  });

  it("tar entries of an executable, freshly touched file still have mode 0o644 and the fixed mtime", async () => {
    const copy = join(work, "weather-exec");
    cpSync(WEATHER, copy, { recursive: true });
    mkdirSync(join(copy, "bin"));
    writeFileSync(join(copy, "bin", "tool"), "#!/bin/sh\necho hi\n");
    chmodSync(join(copy, "bin", "tool"), 0o755);
    const { entries } = await tarEntries((await packSkill(copy)).tarball);
    const tool = entries.find((e) => e.path === "bin/tool");
    assert.ok(tool, "nested file is packed, without a directory entry");
    assert.equal(entries.filter((e) => e.type !== "File").length, 0);
    assert.equal(tool.mode, 0o644);
    assert.equal(tool.mtime?.getTime(), FIXED_MTIME.getTime());
  });
});

describe("packSkill refusals", () => {
  let work: string;
  let n = 0;
  /** A fresh copy of the weather example to modify. */
  const weatherCopy = (): string => {
    const dir = join(work, `skill-${n++}`);
    cpSync(WEATHER, dir, { recursive: true });
    return dir;
  };
  before(() => {
    work = mkdtempSync(join(tmpdir(), "skillgate-pack-refuse-"));
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("the unmodified copy packs (control)", async () => {
    const packed = await packSkill(weatherCopy());
    assert.equal(packed.manifest.name, "@demo/weather");
  });

  it("a node_modules directory is forbidden content", async () => {
    const dir = weatherCopy();
    writeTree(dir, [["node_modules/left-pad/index.js", Buffer.from("module.exports = 1;\n")]]);
    await assertPackRefused(dir, "SKILL_FORBIDDEN_CONTENT");
  });

  it("a nested node_modules directory is forbidden content", async () => {
    const dir = weatherCopy();
    writeTree(dir, [["lib/node_modules/x.js", Buffer.from("export {};\n")]]);
    await assertPackRefused(dir, "SKILL_FORBIDDEN_CONTENT");
  });

  it("a native addon (*.node) is forbidden content", async () => {
    const dir = weatherCopy();
    writeTree(dir, [["lib/addon.node", Buffer.from([0x7f, 0x45, 0x4c, 0x46])]]);
    await assertPackRefused(dir, "SKILL_FORBIDDEN_CONTENT");
  });

  it("a file over PACKAGE_LIMITS.maxFileBytes is refused; one at the limit is packed", async () => {
    const over = weatherCopy();
    writeFileSync(join(over, "big.bin"), "");
    truncateSync(join(over, "big.bin"), PACKAGE_LIMITS.maxFileBytes + 1);
    await assertPackRefused(over, "SKILL_PACK_REFUSED");

    const at = weatherCopy();
    writeFileSync(join(at, "big.bin"), "");
    truncateSync(join(at, "big.bin"), PACKAGE_LIMITS.maxFileBytes);
    const packed = await packSkill(at);
    assert.ok(packed.files.includes("big.bin"));
  });

  it("no skill.json is a bad manifest", async () => {
    const dir = weatherCopy();
    unlinkSync(join(dir, "skill.json"));
    await assertPackRefused(dir, "SKILL_BAD_MANIFEST");
  });

  it("skill.json only in a subdirectory is a bad manifest", async () => {
    const dir = weatherCopy();
    mkdirSync(join(dir, "sub"));
    cpSync(join(dir, "skill.json"), join(dir, "sub", "skill.json"));
    unlinkSync(join(dir, "skill.json"));
    await assertPackRefused(dir, "SKILL_BAD_MANIFEST");
  });

  it("a missing entry file is a bad manifest", async () => {
    const dir = weatherCopy();
    unlinkSync(join(dir, "index.js"));
    await assertPackRefused(dir, "SKILL_BAD_MANIFEST");
  });

  it("an entry naming a file that is not there is a bad manifest", async () => {
    const dir = weatherCopy();
    writeFileSync(join(dir, "skill.json"), JSON.stringify({ ...WEATHER_MANIFEST, entry: "dist/index.js" }));
    await assertPackRefused(dir, "SKILL_BAD_MANIFEST");
  });

  it("an entry hidden in a left-out directory (.git) is a bad manifest", async () => {
    const dir = weatherCopy();
    writeTree(dir, [[".git/index.js", WEATHER_INDEX]]);
    writeFileSync(join(dir, "skill.json"), JSON.stringify({ ...WEATHER_MANIFEST, entry: ".git/index.js" }));
    await assertPackRefused(dir, "SKILL_BAD_MANIFEST");
  });

  it("SKILL.md whose frontmatter names another skill is refused", async () => {
    const dir = weatherCopy();
    const doc = readFileSync(join(dir, "SKILL.md"), "utf8");
    assert.match(doc, /^name: weather$/m);
    writeFileSync(join(dir, "SKILL.md"), doc.replace(/^name: weather$/m, "name: thunder"));
    await assertPackRefused(dir, "SKILL_BAD_SKILL_MD");
  });

  it("SKILL.md naming the skill by its scoped name is accepted", async () => {
    const dir = weatherCopy();
    const doc = readFileSync(join(dir, "SKILL.md"), "utf8");
    writeFileSync(join(dir, "SKILL.md"), doc.replace(/^name: weather$/m, 'name: "@demo/weather"'));
    await packSkill(dir);
  });

  it(".git/ and root-level *.tgz are silently left out", async () => {
    const dir = weatherCopy();
    writeTree(dir, [
      [".git/HEAD", Buffer.from("ref: refs/heads/main\n")],
      [".git/objects/ab/cdef", Buffer.from([1, 2, 3])],
      ["demo-weather-1.0.0.tgz", Buffer.from("an earlier build")],
      ["lib/.git/config", Buffer.from("[core]\n")],
    ]);
    const packed = await packSkill(dir);
    const clean = await packSkill(WEATHER);
    assert.deepEqual(packed.files, clean.files);
    assert.ok(packed.tarball.equals(clean.tarball), "the left-out files change nothing in the tarball");
    const { entries } = await tarEntries(packed.tarball);
    assert.ok(entries.every((e) => !e.path.includes(".git") && !e.path.endsWith(".tgz")));
  });

  /**
   * PACKAGE_LIMITS promises that everything an author can pack, an operator can install:
   * so pack either refuses with a coded error, or readPackage gives back the same files.
   */
  const packedIsInstallable = async (extra: [string, Uint8Array][]): Promise<void> => {
    const dir = weatherCopy();
    writeTree(dir, extra);
    let packed: PackedSkill;
    try {
      packed = await packSkill(dir);
    } catch (err) {
      assert.ok(err instanceof RegistryError, `pack must refuse with a RegistryError, not ${String(err)}`);
      return;
    }
    const read = await readPackage(packed.tarball);
    assert.deepEqual(
      read.map((f) => f.path),
      packed.files,
    );
  };

  it("a root-level file name of exactly maxPathBytes round-trips (or is refused)", async () => {
    await packedIsInstallable([["x".repeat(PACKAGE_LIMITS.maxPathBytes), Buffer.from("a")]]);
  });

  it("file names differing only in case round-trip (or are refused)", async () => {
    await packedIsInstallable([
      ["Notes.txt", Buffer.from("a")],
      ["notes.txt", Buffer.from("b")],
    ]);
  });

  it("a non-ASCII file name is refused with a RegistryError (or round-trips)", async () => {
    await packedIsInstallable([["caf\u00e9.txt", Buffer.from("a")]]);
  });

  it("a nested path of exactly maxPathBytes round-trips", async () => {
    await packedIsInstallable([[`d/${"x".repeat(PACKAGE_LIMITS.maxPathBytes - 2)}`, Buffer.from("a")]]);
  });
});

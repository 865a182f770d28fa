import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { CompactRange } from "../../audit/merkle/compact-range.js";
import {
  EMPTY_ROOT,
  formatCheckpoint,
  leafHash,
  nodeHash,
  openNote,
  parseCheckpoint,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  verifyConsistency,
  verifyInclusion,
} from "../../audit/index.js";
import { sharedPath } from "../support/paths.js";

interface InclusionVector {
  leafIndex: number;
  treeSize: number;
  leafHash: string;
  root: string;
  proof: string[];
  wantErr?: boolean;
  desc?: string;
}
interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[];
  wantErr?: boolean;
  desc?: string;
}
interface Vectors {
  hasherBasics: {
    emptyRoot: string;
    cases: { kind: "leaf" | "node"; inputHex?: string; leftHex?: string; rightHex?: string; want: string }[];
  };
  referenceTree: { leaves: string[]; nodeHashesByLevel: string[][]; rootsBySize: string[] };
  classicInclusionProofs: { vectors: (InclusionVector & { leafInput: string })[] };
  classicConsistencyProofs: { vectors: ConsistencyVector[] };
  inclusionProbes: { vectors: InclusionVector[] };
  consistencyProbes: { vectors: ConsistencyVector[] };
  signedNotes: { vectors: { vkey: string; skey?: string; text: string; note: string }[] };
  checkpointFormat: { text: string; treeSize: string; rootHex: string };
}

const path = sharedPath("vectors", "tlog-vectors.json");
const present = existsSync(path);
// CI always has ../shared; a lone clone may not, and then says so instead of passing silently.
const skip = !present && process.env.CI !== "true" ? "../shared/vectors/tlog-vectors.json is not beside this clone" : false;
const v: Vectors = present ? JSON.parse(readFileSync(path, "utf8")) : ({} as Vectors);
const hex = (s: string) => Buffer.from(s, "hex");

describe("RFC 6962 / C2SP test vectors", { skip }, () => {
  it("hasher basics", () => {
    assert.equal(EMPTY_ROOT.toString("hex"), v.hasherBasics.emptyRoot);
    for (const c of v.hasherBasics.cases) {
      const got =
        c.kind === "leaf" ? leafHash(hex(c.inputHex ?? "")) : nodeHash(hex(c.leftHex ?? ""), hex(c.rightHex ?? ""));
      assert.equal(got.toString("hex"), c.want);
    }
  });

  it("reference tree: roots of sizes 0-8 and every stored node", () => {
    const range = new CompactRange();
    assert.equal(range.root().toString("hex"), v.referenceTree.rootsBySize[0]);
    const nodes = new Map<string, string>();
    v.referenceTree.leaves.forEach((leaf, i) => {
      for (const node of range.append(leafHash(hex(leaf)))) nodes.set(`${node.level}/${node.index}`, node.hash.toString("hex"));
      assert.equal(range.root().toString("hex"), v.referenceTree.rootsBySize[i + 1], `root of size ${i + 1}`);
    });
    v.referenceTree.nodeHashesByLevel.forEach((level, l) =>
      level.forEach((h, i) => assert.equal(nodes.get(`${l}/${i}`), h, `node ${l}/${i}`)),
    );
  });

  it("classic inclusion proofs verify, and fail when mutated", () => {
    for (const t of v.classicInclusionProofs.vectors) {
      assert.equal(leafHash(hex(t.leafInput)).toString("hex"), t.leafHash);
      const proof = t.proof.map(hex);
      verifyInclusion(t.leafIndex, t.treeSize, hex(t.leafHash), proof, hex(t.root));
      if (proof.length > 0) {
        const bad = proof.map((p) => Buffer.from(p));
        (bad[0] as Buffer)[0] = ((bad[0] as Buffer)[0] as number) ^ 1;
        assert.throws(() => verifyInclusion(t.leafIndex, t.treeSize, hex(t.leafHash), bad, hex(t.root)));
      }
    }
  });

  it("classic consistency proofs verify", () => {
    for (const t of v.classicConsistencyProofs.vectors) {
      verifyConsistency(t.size1, t.size2, t.proof.map(hex), hex(t.root1), hex(t.root2));
    }
  });

  it("inclusion probes: valid ones pass, every must-fail one fails", () => {
    assert.ok(v.inclusionProbes.vectors.length > 50);
    for (const t of v.inclusionProbes.vectors) {
      const run = () => verifyInclusion(t.leafIndex, t.treeSize, hex(t.leafHash), t.proof.map(hex), hex(t.root));
      if (t.wantErr) assert.throws(run, `${t.desc} must fail`);
      else assert.doesNotThrow(run, `${t.desc} must pass`);
    }
  });

  it("consistency probes: valid ones pass, every must-fail one fails", () => {
    assert.ok(v.consistencyProbes.vectors.length > 50);
    for (const t of v.consistencyProbes.vectors) {
      const run = () => verifyConsistency(t.size1, t.size2, t.proof.map(hex), hex(t.root1), hex(t.root2));
      if (t.wantErr) assert.throws(run, `${t.desc} must fail`);
      else assert.doesNotThrow(run, `${t.desc} must pass`);
    }
  });

  it("signed notes: open with the vkey, reproduce signatures from the skey, refuse tampering", () => {
    for (const t of v.signedNotes.vectors) {
      const key = parseVerifierKey(t.vkey);
      assert.equal(key.vkey, t.vkey);
      assert.equal(openNote(t.note, [key]).text, t.text);
      const tampered = t.note.replace(t.text, t.text.replace(/.$/su, "!\n"));
      assert.throws(() => openNote(tampered, [key]));
      if (t.skey) {
        const signer = parseSignerKey(t.skey);
        assert.equal(signer.vkey, t.vkey);
        assert.equal(signNote(t.text, signer), t.note);
      }
    }
  });

  it("checkpoint format round-trips the reference text", () => {
    const cp = parseCheckpoint(v.checkpointFormat.text);
    assert.equal(String(cp.size), v.checkpointFormat.treeSize);
    assert.equal(cp.root.toString("hex"), v.checkpointFormat.rootHex);
    assert.equal(formatCheckpoint(cp), v.checkpointFormat.text);
  });
});

// Tests reach the Merkle core directly; everything else comes through the public index.
export { CompactRange as CompactRangeForTests } from "../../audit/merkle/compact-range.js";
export {
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

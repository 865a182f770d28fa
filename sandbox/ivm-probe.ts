// Reports which isolated-vm line this Node loads and that an isolate really runs code.
// Run as: node --no-node-snapshot dist/sandbox/ivm-probe.js
import { summarizeProbe } from "./probe.js";

process.stdout.write(`${JSON.stringify(summarizeProbe())}\n`);

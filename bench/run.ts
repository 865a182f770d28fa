import { benchAudit } from "./audit.js";
import { benchGateway } from "./gateway.js";
import { benchRegistry } from "./registry.js";
import { benchSandbox } from "./sandbox.js";
import { benchStartup } from "./startup.js";
import { machine, printTable } from "./report.js";

/** `npm run bench [-- --quick]`: every benchmark, each figure beside its in-run baseline. */
const quick = process.argv.includes("--quick");
console.log(`# skillgate benchmarks (${quick ? "quick smoke run" : "full"})\n\nMachine: ${machine()}`);
printTable("Audit log", await benchAudit({ quick }));
printTable("Skill packages", await benchRegistry({ quick }));
const sandbox = await benchSandbox({ quick });
printTable("Sandbox", sandbox.rows);
for (const note of sandbox.notes) console.log(`\n${note}`);
const gateway = await benchGateway({ quick });
printTable("Gateway", gateway.rows);
for (const note of gateway.notes) console.log(`\n${note}`);
const startup = await benchStartup({ quick });
printTable("Gateway start", startup.rows);
for (const note of startup.notes) console.log(`\n${note}`);

import { fileURLToPath } from "node:url";
import { runSecuritySuite } from "./suite.js";

/** `npm run security`: the table on the terminal, the JSON under reports/, non-zero unless every case is contained and every benign task works. */
const reportDir = fileURLToPath(new URL("../../../reports/", import.meta.url));
console.log("# skillgate containment suite: a scripted hostile model and attacker skills against a real gateway\n");
const report = await runSecuritySuite({ reportDir, log: (line) => console.log(line) });
const contained = report.cases.filter((c) => !c.benign && c.violations.length === 0).length;
const attacks = report.cases.filter((c) => !c.benign).length;
console.log(`\n${contained}/${attacks} attacks contained; ${report.falseDenials} false denials of benign tasks; report in ${reportDir}`);
process.exitCode = report.ok ? 0 : 1;

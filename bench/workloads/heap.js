// SPDX-License-Identifier: GPL-2.0
// The Node.js workload: node --expose-gc heap.js RECORDS.
//
// Builds RECORDS records (an object of a number, a string and an array of
// three numbers each), says "ready", then for each "pass" line on stdin reads
// every record, runs a full garbage collection and prints "pass CHECKSUM NS".
// V8 counts no references: reading writes nothing, so the heap pages a unit
// of work writes are the collector's (mark bits, moved objects).
"use strict";
const readline = require("readline");

const records = parseInt(process.argv[2], 10);
const data = [];
for (let i = 0; i < records; i++)
	data.push({ k: i, s: "r" + String(i).padStart(9, "0"), v: [i, 2 * i, 3 * i] });
console.log("ready");
readline.createInterface({ input: process.stdin }).on("line", (line) => {
	if (line.trim() !== "pass")
		process.exit(0);
	const start = process.hrtime.bigint();
	let s = 0;
	for (const d of data)
		s = (Math.imul(s, 31) + d.k + d.s.length + d.v[2]) >>> 0;
	global.gc();
	console.log("pass", s, String(process.hrtime.bigint() - start));
});

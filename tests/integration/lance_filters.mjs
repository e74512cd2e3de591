// LanceDB 0.39's side of lance_filters.sh.
//   node lance_filters.mjs add-dups ROOT          -> appends rows with ids teavec already has
//   node lance_filters.mjs count ROOT FILE        -> {"counts": [...]} for each line of FILE
//   node lance_filters.mjs rows ROOT              -> {"rows": [{id, text}...]} sorted
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const deps = path.join(process.env.TV_SOURCE_DIR ?? ".", ".deps/node/node_modules");
const require = createRequire(path.join(deps, "x.js"));
const lancedb = require("@lancedb/lancedb");
const [step, root, file] = process.argv.slice(2);
const db = await lancedb.connect(root);
const t = await db.openTable("f");
const out = {};
const vec = (i) => Array.from({ length: 8 }, (_, j) => Math.fround(((i * 13 + j * 7) % 17) / 4 - 2));

if (step === "add-dups") {
  // LanceDB does not keep ids unique: these share ids with teavec's rows;
  // path null; texts that look like SQL
  await t.add([
    { id: "id1", text: "dup-en", path: null, metadata: "{\"lang\": \"en\"}", vector: vec(1) },
    { id: "id2", text: "dup-fr", path: null, metadata: "{\"lang\": \"fr\"}", vector: vec(2) },
    { id: "q'1", text: "it's; --", path: "a'b.md", metadata: "{}", vector: vec(3) },
    { id: "pct", text: "100% \\_x", path: "c_d.md", metadata: "{}", vector: vec(4) },
  ]);
  out.count = await t.countRows();
} else if (step === "count") {
  out.counts = [];
  for (const w of fs.readFileSync(file, "utf8").split("\n").filter((l) => l.length)) {
    try { out.counts.push(await t.countRows(w)); } catch (e) { out.counts.push(`error: ${e.message.split("\n")[0]}`); }
  }
} else if (step === "rows") {
  out.rows = (await t.query().select(["id", "text"]).limit(1e9).toArray())
    .map((r) => `${r.id}|${r.text}`).sort();
}
console.log(JSON.stringify(out));

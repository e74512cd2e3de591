// LanceDB 0.39 on the same workloads and files as bench_store (teavec):
//   node bench/lancedb_driver.mjs DATA_DIR DB_DIR DIM
// Prints one JSON object with the same keys.
import { createRequire } from "node:module";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import url from "node:url";

const here = path.dirname(url.fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", ".deps/node/node_modules/x.js"));
const lancedb = require("@lancedb/lancedb");
const [data, db, dimArg, coldArg] = process.argv.slice(2);
const dim = Number(dimArg);

function readFvecs(file) {
  const b = fs.readFileSync(file);
  const n = b.length / (4 * (dim + 1));
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = new Float32Array(b.buffer, b.byteOffset + i * 4 * (dim + 1) + 4, dim);
  return out;
}
const queries = readFvecs(path.join(data, "queries.fvecs"));
const ms = () => Number(process.hrtime.bigint()) / 1e6;
const pct = (v) => { v.sort((a, b) => a - b); return [v[Math.floor(v.length / 2)], v[Math.floor((v.length * 99) / 100)]]; };

if (coldArg !== undefined) { // a fresh process: open and answer one query
  const conn = await lancedb.connect(db);
  const t = await conn.openTable("bench");
  await t.search(Array.from(queries[Number(coldArg)])).distanceType("cosine").bypassVectorIndex().limit(10).toArray();
  process.exit(0);
}

const base = readFvecs(path.join(data, "base.fvecs"));
const row = (k, round) => ({ id: `id${k}`, text: `text ${k} r${round}`, path: `src/p${k % 100}.md`,
  metadata: JSON.stringify({ cat: `c${k % 10}` }), vector: Array.from(base[k % base.length]) });
fs.rmSync(db, { recursive: true, force: true });
const conn = await lancedb.connect(db);
let t = null;
let spent = 0; // only the library calls are timed, as for teavec
for (let i = 0; i < base.length; i += 10000) {
  const batch = [];
  for (let k = i; k < Math.min(base.length, i + 10000); k++) batch.push(row(k, 0));
  const t0 = ms();
  if (!t) t = await conn.createTable("bench", batch, { dataStorageVersion: "2.0" });
  else await t.add(batch);
  spent += ms() - t0;
}
const ingest = base.length / (spent / 1000);
const nq = Math.min(queries.length, 100);
async function lat(where) {
  const v = [];
  for (let i = 0; i < nq; i++) {
    const s = ms();
    let q = t.search(Array.from(queries[i])).distanceType("cosine").bypassVectorIndex().limit(10);
    if (where) q = q.where(where);
    await q.toArray();
    v.push(ms() - s);
  }
  return pct(v);
}
const [p50, p99] = await lat(null);
const [fp50, fp99] = await lat("path = 'src/p17.md'");
const [mp50, mp99] = await lat("metadata LIKE '%\"cat\": \"c3\"%'");
const up = [];
for (let r = 0; r < 5; r++) {
  const batch = [];
  for (let k = base.length - 500 + r * 1000; k < base.length + 500 + r * 1000; k++) batch.push(row(k, r + 1));
  const s = ms();
  await t.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(batch);
  up.push(ms() - s);
}
const cold = [];
for (let r = 0; r < 5; r++) {
  const s = ms();
  spawnSync(process.execPath, [url.fileURLToPath(import.meta.url), data, db, dimArg, String(r)]);
  cold.push(ms() - s);
}
cold.sort((a, b) => a - b);
const disk = Number(execFileSync("du", ["-sb", db]).toString().split("\t")[0]);
const rss = process.resourceUsage().maxRSS / 1024;
console.log(JSON.stringify({ system: "lancedb", rows: base.length, dim, metric: "cosine",
  ingest_rows_per_s: Math.round(ingest), peak_rss_mb: Math.round(rss * 10) / 10,
  exact_p50_ms: p50, exact_p99_ms: p99, path_filter_1pct_p50_ms: fp50, path_filter_1pct_p99_ms: fp99,
  meta_filter_10pct_p50_ms: mp50, meta_filter_10pct_p99_ms: mp99, upsert_1000_ms: up.map((x) => Math.round(x * 10) / 10),
  cold_start_ms: cold[2], disk_bytes: disk }));

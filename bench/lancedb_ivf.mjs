// LanceDB 0.39's IVF_PQ on the same files as bench_ivf (teavec):
//   node bench/lancedb_ivf.mjs DATA_DIR DB_DIR DIM METRIC [QUERIES]
// Loads base.fvecs (row i = id "id<i>"), builds IVF_PQ with LanceDB's
// defaults (timed), then runs the queries single-threaded (one at a time)
// with its default search settings and with refine/nprobes settings that
// reach recall@10 >= 0.95, scoring against DATA_DIR/gt.ivecs (written by
// bench_ivf). Prints one JSON object.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import url from "node:url";

const here = path.dirname(url.fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", ".deps/node/node_modules/x.js"));
const lancedb = require("@lancedb/lancedb");
const [data, db, dimArg, metric, nqArg] = process.argv.slice(2);
const dim = Number(dimArg);

function readFvecs(file) {
  const b = fs.readFileSync(file);
  const n = b.length / (4 * (dim + 1));
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++)
    out.set(new Float32Array(b.buffer.slice(b.byteOffset + i * 4 * (dim + 1) + 4, b.byteOffset + (i + 1) * 4 * (dim + 1))), i * dim);
  return { n, v: out };
}
function readGt(file, nq) {
  const b = fs.readFileSync(file);
  const gt = [];
  for (let i = 0; i < nq; i++) gt.push(Array.from(new Int32Array(b.buffer.slice(b.byteOffset + i * 44 + 4, b.byteOffset + i * 44 + 44))));
  return gt;
}
const base = readFvecs(path.join(data, "base.fvecs"));
const qs = readFvecs(path.join(data, "queries.fvecs"));
const nq = Math.min(qs.n, Number(nqArg || 1000));
const gt = readGt(path.join(data, "gt.ivecs"), nq);
const ms = () => Number(process.hrtime.bigint()) / 1e6;

fs.rmSync(db, { recursive: true, force: true });
const conn = await lancedb.connect(db);
let t = null;
for (let i = 0; i < base.n; i += 10000) {
  const m = Math.min(10000, base.n - i);
  const ids = [], vecs = [];
  for (let k = 0; k < m; k++) { ids.push(`id${i + k}`); vecs.push(Array.from(base.v.subarray((i + k) * dim, (i + k + 1) * dim))); }
  const batch = ids.map((id, k) => ({ id, vector: vecs[k] }));
  if (!t) t = await conn.createTable("bench", batch, { dataStorageVersion: "2.0" });
  else await t.add(batch);
}
let s = ms();
await t.createIndex("vector", { config: lancedb.Index.ivfPq({ distanceType: metric }) });
const buildS = (ms() - s) / 1000;
const stats = await t.indexStats("vector_idx");

async function run(nprobes, refine) {
  const lat = [];
  let hit = 0;
  for (let i = 0; i < nq; i++) {
    let q = t.vectorSearch(Array.from(qs.v.subarray(i * dim, (i + 1) * dim))).distanceType(metric).select(["id", "_distance"]).limit(10);
    if (nprobes) q = q.nprobes(nprobes);
    if (refine) q = q.refineFactor(refine);
    const s0 = ms();
    const rows = await q.toArray();
    lat.push(ms() - s0);
    const want = new Set(gt[i]);
    for (const r of rows) if (want.has(Number(r.id.slice(2)))) hit++;
  }
  lat.sort((a, b) => a - b);
  return { nprobes: nprobes || "default", refine: refine || "none", p50_ms: lat[Math.floor(nq / 2)],
    p99_ms: lat[Math.floor(nq * 99 / 100)], recall: hit / (nq * 10) };
}
const runs = [await run(0, 0), await run(0, 10), await run(50, 10)];
console.log(JSON.stringify({ system: "lancedb", rows: base.n, dim, metric, queries: nq, build_s: buildS,
  index_stats: stats, runs }));

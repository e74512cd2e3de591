// LanceDB 0.39 on the workloads of `teavec bench`, same files, same rows:
//   node bench/lancedb_driver.mjs --base F.fvecs --queries F.fvecs --gt F.ivecs
//        [--metric cosine|l2|dot] [-k 10] [--nq 1000] --db DIR
// Row i: id "id<i>", text "text <i>", path "src/p<i % 100>.md", metadata
// '{"cat": "c<i % 10>", "half": <i % 2>}' (a JSON string column: LanceDB
// cannot filter inside it, so its metadata filters are LIKE patterns).
// Ground truth: the .ivecs files `teavec bench` wrote (F.ivecs, and
// F-path/-cat/-half.ivecs for the filters). Prints one JSON object.
import { createRequire } from "node:module";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import url from "node:url";

const here = path.dirname(url.fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", ".deps/node/node_modules/x.js"));
const lancedb = require("@lancedb/lancedb");

const args = { metric: "cosine", k: 10, nq: 1000 };
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^-+/, "")] = process.argv[i + 1];
const k = Number(args.k), metric = args.metric;

function readFvecs(file, limit = Infinity) {
  const b = fs.readFileSync(file);
  const dim = b.readInt32LE(0), n = Math.min(limit, b.length / (4 * (dim + 1)));
  const v = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) v.set(new Float32Array(b.buffer.slice(b.byteOffset + i * 4 * (dim + 1) + 4, b.byteOffset + (i + 1) * 4 * (dim + 1))), i * dim);
  return { n, dim, v, row: (i) => Array.from(v.subarray(i * dim, (i + 1) * dim)) };
}
function readGt(file, nq) {
  const b = fs.readFileSync(file), rec = 4 * (k + 1), gt = [];
  for (let i = 0; i < nq; i++) gt.push(Array.from(new Int32Array(b.buffer.slice(b.byteOffset + i * rec + 4, b.byteOffset + (i + 1) * rec))).filter((x) => x >= 0));
  return gt;
}
const ms = () => Number(process.hrtime.bigint()) / 1e6;
const qs = readFvecs(args.queries, Number(args.nq));
const nq = qs.n;

if (args.cold !== undefined) { // a fresh process: open and answer one query
  const t = await (await lancedb.connect(args.db)).openTable("bench");
  await t.vectorSearch(qs.row(Number(args.cold) % nq)).distanceType(metric).select(["id", "_distance"]).limit(k).toArray();
  process.exit(0);
}

const base = readFvecs(args.base);
const row = (i, round) => ({ id: `id${i}`, text: `text ${i} r${round}`, path: `src/p${i % 100}.md`,
  metadata: `{"cat": "c${i % 10}", "half": ${i % 2}}`, vector: base.row(i % base.n) });
fs.rmSync(args.db, { recursive: true, force: true });
const conn = await lancedb.connect(args.db);
let t = null, spent = 0; // only the library calls are timed
for (let i = 0; i < base.n; i += 10000) {
  const batch = [];
  for (let j = i; j < Math.min(base.n, i + 10000); j++) batch.push(row(j, 0));
  const s = ms();
  if (!t) t = await conn.createTable("bench", batch, { dataStorageVersion: "2.0" });
  else await t.add(batch);
  spent += ms() - s;
}
const ingest = base.n / (spent / 1000), rss = process.resourceUsage().maxRSS / 1024;

async function run({ exact = false, refine = 0, where = null, gt = null }) {
  const lat = [];
  let hit = 0, want = 0;
  for (let i = 0; i < nq; i++) {
    let q = t.vectorSearch(qs.row(i)).distanceType(metric).select(["id", "_distance"]).limit(k);
    if (exact) q = q.bypassVectorIndex();
    if (refine) q = q.refineFactor(refine);
    if (where) q = q.where(where);
    const s = ms();
    const rows = await q.toArray();
    lat.push(ms() - s);
    if (gt) {
      const want_i = new Set(gt[i]);
      want += gt[i].length;
      for (const r of rows) if (want_i.has(Number(r.id.slice(2)))) hit++;
    }
  }
  lat.sort((a, b) => a - b);
  return { p50_ms: lat[Math.floor(nq / 2)], p99_ms: lat[Math.floor((nq * 99) / 100)], recall: want ? hit / want : 1 };
}
const gt = readGt(args.gt, nq), stem = args.gt.replace(/\.ivecs$/, "");
const out = { system: "lancedb", version: "0.39", rows: base.n, dim: base.dim, metric, k, queries: nq,
  ingest_rows_per_s: ingest, peak_rss_mb: rss };
out.exact = await run({ exact: true, gt });
let s = ms();
await t.createIndex("vector", { config: lancedb.Index.ivfPq({ distanceType: metric }) });
out.index_build_s = (ms() - s) / 1000;
out.index = await run({ gt });
out.index_refine10 = await run({ refine: 10, gt });
out.filtered = {};
for (const [name, where, suffix] of [["path_1pct", "path = 'src/p17.md'", "-path"],
  ["meta_10pct", `metadata LIKE '%"cat": "c3"%'`, "-cat"], ["meta_50pct", `metadata LIKE '%"half": 1}'`, "-half"]]) {
  const fgt = readGt(`${stem}${suffix}.ivecs`, nq);
  const e = await run({ exact: true, where, gt: fgt }), x = await run({ refine: 10, where, gt: fgt });
  out.filtered[name] = { where, exact_p50_ms: e.p50_ms, index_p50_ms: x.p50_ms, index_recall: x.recall, exact_recall: e.recall };
}
const up = [];
for (let r = 0; r < 5; r++) {
  const batch = [];
  for (let i = base.n - 500 + r * 1000; i < base.n + 500 + r * 1000; i++) batch.push(row(i, r + 1));
  s = ms();
  await t.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(batch);
  up.push(ms() - s);
}
out.upsert_1000_median_ms = up.sort((a, b) => a - b)[2];
const cold = [];
for (let r = 0; r < 5; r++) {
  s = ms();
  spawnSync(process.execPath, [url.fileURLToPath(import.meta.url), "--queries", args.queries, "--db", args.db,
    "--metric", metric, "-k", String(k), "--nq", String(nq), "--cold", String(r)]);
  cold.push(ms() - s);
}
out.cold_start_ms = cold.sort((a, b) => a - b)[2];
out.disk_bytes = Number(execFileSync("du", ["-sb", args.db]).toString().split("\t")[0]);
console.log(JSON.stringify(out));

// LanceDB 0.39's side of the interoperability test (lance_interop.sh).
//   node lance_interop.mjs STEP ROOT  -> prints one JSON object
import { createRequire } from "node:module";
import path from "node:path";

const deps = path.join(process.env.TV_SOURCE_DIR ?? ".", ".deps/node/node_modules");
const require = createRequire(path.join(deps, "x.js"));
const lancedb = require("@lancedb/lancedb");
const [step, root] = process.argv.slice(2);
const db = await lancedb.connect(root);

// the same deterministic vectors as tests/tools/tvtable.c
const vecOf = (i, d) => Array.from({ length: d }, (_, j) => (j === 0 ? Math.fround(Math.fround(i) / 100) : Math.fround(Math.fround((i * 31 + j * 17) % 101) / 10 - 5)));
const ids = async (t) => (await t.query().select(["id"]).limit(1e9).toArray()).map((r) => r.id).sort();
const out = {};

if (step === "read-teavec") {
  const t = await db.openTable("docs");
  out.count = await t.countRows();
  out.ids = await ids(t);
  const r260 = (await t.query().where("id = 'id260'").toArray())[0];
  out.r260 = { text: r260.text, path: r260.path, metadata: JSON.parse(r260.metadata), dim: r260.vector.length };
  out.nearest42 = (await t.search(vecOf(42, 8)).limit(1).toArray())[0].id;
  out.tag_b = await t.countRows("text = 'b'");
  // LanceDB writes: append, deletes (merging into our bitmap and a fresh .arrow), index, compaction
  await t.add([900, 901, 902, 903, 904].map((i) => ({ id: `id${i}`, text: "lance", path: null, metadata: "{}", vector: vecOf(i, 8) })));
  await t.delete("id IN ('id10', 'id11', 'id300')");
  await t.createIndex("vector", { config: lancedb.Index.ivfPq({ numPartitions: 2, numSubVectors: 2 }) });
  await t.optimize({ cleanupOlderThan: new Date(Date.now() + 1000) });
  out.after = await t.countRows();
} else if (step === "reread") {
  const t = await db.openTable("docs");
  out.count = await t.countRows();
  out.r0 = (await t.query().where("id = 'id0'").toArray())[0].text;
  out.nearest5 = (await t.search(vecOf(5, 8)).limit(1).toArray())[0].id;
  out.indices = (await t.listIndices()).length;
} else if (step === "cleanup-all") {
  // LanceDB's most aggressive cleanup: every file no version references goes
  const t = await db.openTable("docs");
  await t.optimize({ cleanupOlderThan: new Date(Date.now() + 1000), deleteUnverified: true });
  out.count = await t.countRows();
  // exact (its own IVF_PQ of 2 partitions x 2 sub-vectors is too coarse to be asserted on)
  out.nearest123 = (await t.search(vecOf(123, 8)).bypassVectorIndex().limit(1).toArray())[0].id;
} else if (step === "make-tea") {
  // TEA's Python schema: id, text, vector, metadata (no path)
  const rows = Array.from({ length: 6000 }, (_, i) => ({ id: `id${i}`, text: `t${i}`, vector: vecOf(i, 8), metadata: JSON.stringify({ n: i }) }));
  const t = await db.createTable("tea", rows, { dataStorageVersion: "2.0" });
  await t.delete("id IN ('id1', 'id2')"); // small: an .arrow deletion file
  await t.add(rows.slice(0, 6000).map((r) => ({ ...r, id: `b${r.id}` })));
  await t.delete("id LIKE 'bid%' AND text > 't2'"); // > 5000 rows of one fragment: a .bin bitmap
  out.count = await t.countRows();
  out.ids = await ids(t);
} else if (step === "read-tea") {
  const t = await db.openTable("tea");
  out.count = await t.countRows();
  out.id5 = (await t.query().where("id = 'id5'").toArray())[0].text;
} else if (step === "read-small") {
  const t = await db.openTable("small");
  out.count = await t.countRows();
  out.id90 = (await t.query().where("id = 'id90'").toArray())[0].text;
  out.versions_ok = true;
  for (const v of await t.listVersions()) {
    try { await t.checkout(v.version); await t.countRows(); } catch (e) { out.versions_ok = false; out.bad = String(e); }
  }
  await t.checkoutLatest();
} else if (step === "read-indexed") {
  // a collection built by `teavec index`, its file-state table, every version
  const t = await db.openTable("kb");
  const rows = await t.query().limit(1e9).toArray();
  out.count = rows.length;
  out.dim = rows[0].vector.length;
  out.files = [...new Set(rows.map((r) => r.path))].sort();
  out.meta_ok = rows.every((r) => { const m = JSON.parse(r.metadata); return m.file === r.path && m.start_line >= 1; });
  out.state = await (await db.openTable("kb.files")).countRows();
  out.path_filter = await t.countRows(`path = '${out.files[0]}'`);
  out.versions_ok = true;
  out.dims = [];
  for (const v of await t.listVersions()) {
    try {
      await t.checkout(v.version);
      const r = await t.query().limit(1).toArray();
      if (r.length) out.dims.push(r[0].vector.length);
    } catch (e) { out.versions_ok = false; out.bad = String(e); }
  }
  await t.checkoutLatest();
} else if (step === "make-22") {
  await db.createTable("new22", [{ id: "a", text: "x", vector: [1, 2], metadata: "{}" }]);
  out.ok = true;
}
console.log(JSON.stringify(out));

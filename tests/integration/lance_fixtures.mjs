// Writes LanceDB 0.39 tables (data storage version 2.0) covering what the
// data file reader must handle, and dumps each table's rows as JSON lines:
//   node lance_fixtures.mjs OUTDIR
// OUTDIR/<name>.lance/ is the table, OUTDIR/<name>.jsonl its rows in order.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const deps = path.join(process.env.TV_SOURCE_DIR ?? ".", ".deps/node/node_modules");
const require = createRequire(path.join(deps, "x.js"));
const lancedb = require("@lancedb/lancedb");

const out = process.argv[2];
const db = await lancedb.connect(out);
const opts = { dataStorageVersion: "2.0" };

function vec(i, d) {
  return Array.from({ length: d }, (_, j) => Math.fround(((i * 31 + j * 7) % 1000) / 8));
}

const fixtures = {
  // the spec's 3-row table
  docs: [
    { id: "a", text: "hello", vector: [1, 2, 3, 4], metadata: "m1" },
    { id: "b", text: "world", vector: [5, 6, 7, 8], metadata: "m2" },
    { id: "c", text: "foo", vector: [9, 10, 11, 12], metadata: "m3" },
  ],
  // few distinct values in >= 100 rows: LanceDB dictionary-encodes them
  dict: Array.from({ length: 1000 }, (_, i) => ({
    id: `row-${i}`,
    color: i % 4 === 3 ? null : ["red", "green", "blue"][i % 3],
    vector: vec(i, 8),
  })),
  // nulls in strings, an all-null column, unicode
  nulls: Array.from({ length: 50 }, (_, i) => ({
    id: `n${i}`,
    maybe: i % 3 === 0 ? null : `v${i}-π`,
    none: null,
    vector: vec(i, 3),
  })),
  // big enough that the string column splits into several pages
  pages: Array.from({ length: 300000 }, (_, i) => ({
    id: `id-${i}-${"x".repeat(i % 20)}`,
    vector: vec(i, 2),
  })),
};

for (const [name, rows] of Object.entries(fixtures)) {
  const schemaHint = name === "nulls" ? rows.map((r) => ({ ...r, none: r.none ?? undefined })) : rows;
  let tbl;
  if (name === "nulls") {
    const arrow = require("apache-arrow");
    const schema = new arrow.Schema([
      new arrow.Field("id", new arrow.Utf8(), false),
      new arrow.Field("maybe", new arrow.Utf8(), true),
      new arrow.Field("none", new arrow.Utf8(), true),
      new arrow.Field("vector", new arrow.FixedSizeList(3, new arrow.Field("item", new arrow.Float32(), true)), true),
    ]);
    tbl = await db.createTable(name, rows, { ...opts, schema });
  } else {
    tbl = await db.createTable(name, schemaHint, opts);
  }
  const all = await tbl.query().limit(rows.length + 10).toArray();
  const lines = all.map((r) => {
    const o = {};
    for (const [k, v] of Object.entries(r)) o[k] = v && typeof v === "object" && "length" in v ? Array.from(v) : v;
    return JSON.stringify(o);
  });
  fs.writeFileSync(path.join(out, `${name}.jsonl`), lines.join("\n") + "\n");
}
console.log("fixtures written");

// Fashion-MNIST (Debian package dataset-fashion-mnist, IDX files, gzipped)
// to the bench's files: OUT/base.fvecs = the 60,000 training images,
// OUT/queries.fvecs = the first 1,000 test images, 784 float32 pixel values
// (0..255) each, compared with l2.
//   node bench/fashion_mnist.mjs OUT_DIR [SRC_DIR]
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const [out, src = "/usr/share/datasets/fashion-mnist"] = process.argv.slice(2);
function images(file, limit) {
  const b = zlib.gunzipSync(fs.readFileSync(path.join(src, file)));
  if (b.readUInt32BE(0) !== 0x803) throw new Error(`${file}: not an IDX image file`);
  const n = Math.min(b.readUInt32BE(4), limit), rows = b.readUInt32BE(8), cols = b.readUInt32BE(12);
  const d = rows * cols, rec = 4 * (d + 1), o = Buffer.alloc(n * rec);
  if (b.length < 16 + n * d) throw new Error(`${file}: truncated`);
  for (let i = 0; i < n; i++) {
    o.writeInt32LE(d, i * rec);
    for (let j = 0; j < d; j++) o.writeFloatLE(b[16 + i * d + j], i * rec + 4 + 4 * j);
  }
  return o;
}
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, "base.fvecs"), images("train-images-idx3-ubyte.gz", Infinity));
fs.writeFileSync(path.join(out, "queries.fvecs"), images("t10k-images-idx3-ubyte.gz", 1000));

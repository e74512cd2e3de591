// Starts s3rver (@20minutes/s3rver 4.0.4) for tests/integration/objstore.sh
// on 127.0.0.1 and a free port, with one bucket, and prints "PORT <n>".
//
//   node objstore_s3rver.mjs DIR BUCKET [--conditional]
//
// s3rver 4.0.4 ignores If-None-Match on PUT (lib/controllers/object.js
// only looks at it for GET) and overwrites. With --conditional this
// harness adds what S3 does since 2024: a PUT with "If-None-Match: *" on a
// key that exists is answered 412 PreconditionFailed, checked and written
// under a per-key lock so that two such PUTs cannot both succeed. This is
// the harness standing in for S3, not s3rver: the test says which it runs.
//
// Always: s3rver 4.0.4 leaves out of a delimited listing the CommonPrefixes
// of keys two or more levels below the prefix (its directory walk prunes
// them: "p/" lists nothing for the key "p/t.lance/_versions/1.manifest").
// The harness recomputes CommonPrefixes from a flat listing, as S3 returns
// them; objects, truncation and continuation tokens stay s3rver's own.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.TV_SOURCE_DIR || process.cwd(),
                                        '.deps/node/package.json'));
const S3rver = require('@20minutes/s3rver');

const [dir, bucket, flag] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1', port: 0, silent: true, directory: dir, vhostBuckets: false,
  configureBuckets: [{ name: bucket, configs: [] }],
});

const listObjects = server.store.listObjects.bind(server.store);
server.store.listObjects = async (bucket, options) => {
  const page = await listObjects(bucket, options);
  const { delimiter, prefix = '', startAfter = '' } = options;
  if (!delimiter) return page;
  const all = await listObjects(bucket, { prefix, startAfter });
  const cps = new Set();
  for (const o of all.objects) {
    const i = o.key.slice(prefix.length).indexOf(delimiter);
    if (i !== -1) cps.add(o.key.slice(0, prefix.length + i + delimiter.length));
  }
  return { ...page, commonPrefixes: [...cps].sort() };
};

if (flag === '--conditional') {
  const locks = new Map();
  server.middleware.unshift(async (ctx, next) => {
    if (ctx.method !== 'PUT' || ctx.get('if-none-match') !== '*') return next();
    const m = /^\/([^/]+)\/(.+)$/.exec(ctx.path);
    if (!m) return next();
    const b = m[1], key = decodeURIComponent(m[2]);
    const id = `${b}/${key}`;
    const prev = locks.get(id) || Promise.resolve();
    let release;
    const mine = new Promise((r) => { release = r; });
    const chain = prev.then(() => mine);
    locks.set(id, chain);
    await prev;
    try {
      if (await server.store.existsObject(b, key)) {
        ctx.status = 412;
        ctx.type = 'application/xml';
        ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code>' +
          '<Message>At least one of the pre-conditions you specified did not hold</Message>' +
          '<Condition>If-None-Match</Condition></Error>';
        return;
      }
      await next();
    } finally {
      release();
      if (locks.get(id) === chain) locks.delete(id);
    }
  });
}

const { port } = await server.run();
console.log(`PORT ${port}`);

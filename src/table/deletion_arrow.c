/*
 * Reading LanceDB's `.arrow` deletion files (LANCE-FORMAT.md 5.4): an Arrow
 * IPC file holding one record batch of one non-null UInt32 column
 * (`row_id`), optionally with ZSTD body compression.
 *
 * Arrow IPC file layout used here:
 *
 *   offset       size   content
 *   0            6+2    "ARROW1" + padding
 *   ...                 messages: [0xFFFFFFFF] i32 metadata length,
 *                       flatbuffer Message, body
 *   end-10-F     F      flatbuffer Footer: recordBatches = [Block{i64 offset,
 *                       i32 metaDataLength, i64 bodyLength}]
 *   end-10       4      i32 F
 *   end-6        6      "ARROW1"
 *
 * Flatbuffers are read by hand with every offset bounds-checked: a table
 * starts with an i32 back-offset to its vtable; the vtable lists u16 field
 * offsets (0 = absent); references are u32 forward offsets. With body
 * compression each buffer is an i64 uncompressed length (-1 = stored raw)
 * followed by the (ZSTD) payload.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "table/deletion.h"
#include "util/common.h"

typedef struct fb {
	const uint8_t *d;
	size_t n;
} fb;

static bool rd(const fb *b, size_t at, size_t len, void *out)
{
	if (at > b->n || len > b->n - at)
		return false;
	memcpy(out, b->d + at, len);
	return true;
}

/* Position of field i of the table at t, or 0 if absent / bad. */
static size_t field(const fb *b, size_t t, unsigned i)
{
	int32_t so;
	uint16_t vsize, fo;
	size_t v;
	if (!rd(b, t, 4, &so))
		return 0;
	v = (size_t)((int64_t)t - so);
	if ((int64_t)t - so < 0 || !rd(b, v, 2, &vsize) || 4 + 2 * i + 2 > vsize ||
	    !rd(b, v + 4 + 2 * i, 2, &fo) || fo == 0)
		return 0;
	return t + fo;
}

/* Follows the u32 reference at p. */
static size_t deref(const fb *b, size_t p)
{
	uint32_t o;
	if (!p || !rd(b, p, 4, &o) || (size_t)o > b->n - p)
		return 0;
	return p + o;
}

/* The root table of a flatbuffer. */
static size_t root_of(const fb *b)
{
	uint32_t o;
	return rd(b, 0, 4, &o) && o < b->n ? o : 0;
}

static int bad(tv_err *err, const char *path, const char *what)
{
	return tv_err_set(err, TV_ECORRUPT, "%s: bad Arrow deletion file: %s", path, what);
}

/* The record batch's data buffer (column 0 values) as raw bytes. */
static int batch_values(const fb *msg, const uint8_t *body, size_t body_len, uint8_t **vals,
                        size_t *vlen, const char *path, tv_err *err)
{
	size_t root = root_of(msg), hdr, bufs, comp;
	uint8_t htype = 0;
	uint32_t nbuf;
	int64_t off, len, raw;
	if (!root || !rd(msg, field(msg, root, 1), 1, &htype) || htype != 3 ||
	    !(hdr = deref(msg, field(msg, root, 2))))
		return bad(err, path, "no record batch message");
	if (!(bufs = deref(msg, field(msg, hdr, 2))) || !rd(msg, bufs, 4, &nbuf) || nbuf < 2 ||
	    !rd(msg, bufs + 4 + 16, 8, &off) || !rd(msg, bufs + 4 + 24, 8, &len))
		return bad(err, path, "record batch without a values buffer");
	if (off < 0 || len < 0 || (uint64_t)off > body_len || (uint64_t)len > body_len - (uint64_t)off)
		return bad(err, path, "values buffer outside the body");
	comp = deref(msg, field(msg, hdr, 3));
	if (!comp) {
		*vlen = (size_t)len;
		*vals = malloc(*vlen ? *vlen : 1);
		if (*vals)
			memcpy(*vals, body + off, *vlen);
		return *vals ? 0 : TV_ENOMEM_SET(err, path);
	}
	if (len < 8)
		return bad(err, path, "compressed buffer without its length prefix");
	memcpy(&raw, body + off, 8);
	if (raw == -1) {
		*vlen = (size_t)len - 8;
		if (!(*vals = malloc(*vlen ? *vlen : 1)))
			return TV_ENOMEM_SET(err, path);
		memcpy(*vals, body + off + 8, *vlen);
		return 0;
	}
	if (raw < 0 || raw > (int64_t)1 << 34)
		return bad(err, path, "implausible uncompressed length");
	if (!(*vals = malloc(raw ? (size_t)raw : 1)))
		return TV_ENOMEM_SET(err, path);
	*vlen = ZSTD_decompress(*vals, (size_t)raw, body + off + 8, (size_t)len - 8);
	if (ZSTD_isError(*vlen) || *vlen != (size_t)raw) {
		free(*vals);
		*vals = NULL;
		return bad(err, path, "ZSTD body does not decompress");
	}
	return 0;
}

int tv_deletion__read_arrow(const uint8_t *d, size_t n, roaring_bitmap_t **out, const char *path,
                            tv_err *err)
{
	fb file = {d, n}, foot, msg;
	int32_t flen, mlen, meta_len;
	size_t fstart, root, blocks, mstart;
	uint32_t nblocks, cont;
	int64_t boff, body_len;
	uint8_t *vals = NULL;
	size_t vlen = 0;
	int rc;
	*out = NULL;
	if (n < 16 || memcmp(d, "ARROW1", 6) || memcmp(d + n - 6, "ARROW1", 6))
		return bad(err, path, "no ARROW1 magic");
	memcpy(&flen, d + n - 10, 4);
	if (flen <= 0 || (size_t)flen > n - 16)
		return bad(err, path, "footer length");
	fstart = n - 10 - (size_t)flen;
	foot = (fb){d + fstart, (size_t)flen};
	if (!(root = root_of(&foot)) || !(blocks = deref(&foot, field(&foot, root, 3))) ||
	    !rd(&foot, blocks, 4, &nblocks) || nblocks != 1 || !rd(&foot, blocks + 4, 8, &boff) ||
	    !rd(&foot, blocks + 12, 4, &meta_len) || !rd(&foot, blocks + 20, 8, &body_len))
		return bad(err, path, "expected exactly one record batch");
	if (boff < 8 || (uint64_t)boff >= fstart || meta_len < 8 || body_len < 0)
		return bad(err, path, "record batch block outside the file");
	mstart = (size_t)boff;
	if (!rd(&file, mstart, 4, &cont))
		return bad(err, path, "truncated message");
	if (cont == 0xFFFFFFFFu)
		mstart += 4;
	if (!rd(&file, mstart, 4, &mlen) || mlen <= 0 || (size_t)mlen > fstart - mstart - 4)
		return bad(err, path, "message length");
	msg = (fb){d + mstart + 4, (size_t)mlen};
	if ((uint64_t)boff + (uint64_t)meta_len > fstart ||
	    (uint64_t)body_len > fstart - (uint64_t)boff - (uint64_t)meta_len)
		return bad(err, path, "record batch body outside the file");
	if ((rc = batch_values(&msg, d + boff + meta_len, (size_t)body_len, &vals, &vlen, path, err)))
		return rc;
	if (!(*out = roaring_bitmap_create())) {
		free(vals);
		return TV_ENOMEM_SET(err, path);
	}
	for (size_t i = 0; i + 4 <= vlen; i += 4) {
		uint32_t v;
		memcpy(&v, vals + i, 4);
		roaring_bitmap_add(*out, v);
	}
	free(vals);
	return 0;
}

/*
 * Lance 2.0 data file writer (see datafile.h; LANCE-FORMAT.md section 4).
 *
 * File layout written (all integers little-endian):
 *
 *   offset          size            content
 *   0               ...             page buffers, column by column, page by
 *                                   page, each padded with 0x48 to 64 bytes
 *   G               g               FileDescriptor protobuf (global buffer 0)
 *   G+g             c_0..c_{C-1}    ColumnMetadata protobufs, back to back
 *   M               16*C            column metadata table: (u64 pos, u64 size)
 *   B               16              global buffer table: (u64 G, u64 g)
 *   end-40          40              footer: u64 pos of column metadata 0,
 *                                   u64 M, u64 B, u32 1, u32 C, u16 0, u16 3,
 *                                   "LANC"
 *
 * Encodings, per page (N = nullable.no_nulls, F(bits, buffer)):
 *   utf8:  binary{indices N(F(64,0)), bytes F(8,1), null_adjustment}
 *          buffer 0: u64 end offset of each row within the page; a null
 *          row stores (previous end + null_adjustment); null_adjustment =
 *          page bytes + 1.
 *   f32 vectors: N(fixed_size_list{dim, N(F(32,0))}); buffer 0: rows*dim.
 * This is byte for byte what LanceDB 0.39 writes for the same columns.
 */
#include <stdlib.h>
#include <string.h>

#include "any.pb-c.h"
#include "encodings.pb-c.h"
#include "file.pb-c.h"
#include "file2.pb-c.h"
#include "table/pb.h"
#include "table/datafile.h"
#include "util/common.h"

/* Page size target: LanceDB flushes a column's page at ~8 MiB. Tests lower
 * it to exercise multi-page columns on small data. */
size_t tv_datafile__page_bytes = 8u << 20;

typedef struct wctx {
	tv_wfile *w;
	uint64_t pos;
	tv_err *err;
} wctx;

static int put(wctx *c, const void *p, size_t n)
{
	int rc = n ? tv_wfile_write(c->w, p, n, c->err) : 0;
	if (!rc)
		c->pos += n;
	return rc;
}

static int pad64(wctx *c)
{
	static const unsigned char pad[64] = {
#define H8 0x48, 0x48, 0x48, 0x48, 0x48, 0x48, 0x48, 0x48
		H8, H8, H8, H8, H8, H8, H8, H8
#undef H8
	};
	size_t n = (size_t)((64 - c->pos % 64) % 64);
	return put(c, pad, n);
}

/* Wraps a packed message in an Any and then in a direct Encoding. */
static uint8_t *any_bytes(const char *type_url, const ProtobufCMessage *m, size_t *len)
{
	Tv__Pb__Any any = TV__PB__ANY__INIT;
	uint8_t *inner, *out;
	any.type_url = (char *)type_url;
	any.value.len = protobuf_c_message_get_packed_size(m);
	if (!(inner = malloc(any.value.len ? any.value.len : 1)))
		return NULL;
	protobuf_c_message_pack(m, inner);
	any.value.data = inner;
	*len = tv__pb__any__get_packed_size(&any);
	if ((out = malloc(*len)))
		tv__pb__any__pack(&any, out);
	free(inner);
	return out;
}

/* One page's metadata, kept until the column metadata is packed. */
typedef struct wpage {
	uint64_t off[2], size[2];
	size_t nbuf;
	uint64_t rows, first_row;
	uint8_t *enc; /* Any bytes */
	size_t enc_len;
} wpage;

static int page_add(wpage **pages, size_t *n, const wpage *p)
{
	wpage *v = tv_reallocarray(*pages, *n + 1, sizeof *v);
	if (!v)
		return TV_ENOMEM;
	v[*n] = *p;
	*pages = v;
	(*n)++;
	return 0;
}

/* N(F(bits, buffer)) */
typedef struct flatn {
	Lance__Encodings__ArrayEncoding outer, inner;
	Lance__Encodings__Nullable nullable;
	Lance__Encodings__Nullable__NoNull nonull;
	Lance__Encodings__Flat flat;
	Lance__Encodings__Buffer buf;
} flatn;

static void flat_init(Lance__Encodings__ArrayEncoding *ae, Lance__Encodings__Flat *flat,
                      Lance__Encodings__Buffer *buf, uint64_t bits, uint32_t index)
{
	lance__encodings__array_encoding__init(ae);
	lance__encodings__flat__init(flat);
	lance__encodings__buffer__init(buf);
	buf->buffer_index = index;
	flat->bits_per_value = bits;
	flat->buffer = buf;
	ae->array_encoding_case = LANCE__ENCODINGS__ARRAY_ENCODING__ARRAY_ENCODING_FLAT;
	ae->flat = flat;
}

static void flatn_init(flatn *f, uint64_t bits, uint32_t index)
{
	flat_init(&f->inner, &f->flat, &f->buf, bits, index);
	lance__encodings__nullable__no_null__init(&f->nonull);
	lance__encodings__nullable__init(&f->nullable);
	lance__encodings__array_encoding__init(&f->outer);
	f->nonull.values = &f->inner;
	f->nullable.nullability_case = LANCE__ENCODINGS__NULLABLE__NULLABILITY_NO_NULLS;
	f->nullable.no_nulls = &f->nonull;
	f->outer.array_encoding_case = LANCE__ENCODINGS__ARRAY_ENCODING__ARRAY_ENCODING_NULLABLE;
	f->outer.nullable = &f->nullable;
}

static const char ARRAY_URL[] = "/lance.encodings.ArrayEncoding";

static int utf8_page(wctx *c, const tv_col_in *col, uint64_t r0, uint64_t n, wpage *pg)
{
	uint64_t *offs = tv_mallocarray(n ? n : 1, sizeof *offs), end = 0, total = 0;
	Lance__Encodings__ArrayEncoding ae = LANCE__ENCODINGS__ARRAY_ENCODING__INIT, bytes;
	Lance__Encodings__Binary bin = LANCE__ENCODINGS__BINARY__INIT;
	Lance__Encodings__Flat bflat;
	Lance__Encodings__Buffer bbuf;
	flatn idx;
	int rc;
	if (!offs)
		return TV_ENOMEM_SET(c->err, "page offsets");
	for (uint64_t i = 0; i < n; i++)
		total += col->str[r0 + i] ? col->len[r0 + i] : 0;
	for (uint64_t i = 0; i < n; i++) {
		if (col->str[r0 + i]) {
			end += col->len[r0 + i];
			offs[i] = end;
		} else {
			offs[i] = end + total + 1;
		}
	}
	pg->nbuf = 2;
	pg->off[0] = c->pos;
	pg->size[0] = n * 8;
	if ((rc = put(c, offs, n * 8)) || (rc = pad64(c)))
		goto done;
	pg->off[1] = c->pos;
	pg->size[1] = total;
	for (uint64_t i = 0; i < n; i++)
		if (col->str[r0 + i] && (rc = put(c, col->str[r0 + i], col->len[r0 + i])))
			goto done;
	if ((rc = pad64(c)))
		goto done;
	flatn_init(&idx, 64, 0);
	flat_init(&bytes, &bflat, &bbuf, 8, 1);
	bin.indices = &idx.outer;
	bin.bytes = &bytes;
	bin.null_adjustment = total + 1;
	ae.array_encoding_case = LANCE__ENCODINGS__ARRAY_ENCODING__ARRAY_ENCODING_BINARY;
	ae.binary = &bin;
	if (!(pg->enc = any_bytes(ARRAY_URL, &ae.base, &pg->enc_len)))
		rc = TV_ENOMEM_SET(c->err, "page encoding");
done:
	free(offs);
	return rc;
}

static int vec_page(wctx *c, const tv_col_in *col, uint64_t r0, uint64_t n, wpage *pg)
{
	Lance__Encodings__ArrayEncoding outer = LANCE__ENCODINGS__ARRAY_ENCODING__INIT, fsl_ae;
	Lance__Encodings__Nullable nl = LANCE__ENCODINGS__NULLABLE__INIT;
	Lance__Encodings__Nullable__NoNull nn = LANCE__ENCODINGS__NULLABLE__NO_NULL__INIT;
	Lance__Encodings__FixedSizeList fsl = LANCE__ENCODINGS__FIXED_SIZE_LIST__INIT;
	flatn items;
	int rc;
	pg->nbuf = 1;
	pg->off[0] = c->pos;
	pg->size[0] = n * col->dim * sizeof(float);
	if ((rc = put(c, col->vec + r0 * col->dim, (size_t)pg->size[0])) || (rc = pad64(c)))
		return rc;
	flatn_init(&items, 32, 0);
	fsl.dimension = col->dim;
	fsl.items = &items.outer;
	lance__encodings__array_encoding__init(&fsl_ae);
	fsl_ae.array_encoding_case = LANCE__ENCODINGS__ARRAY_ENCODING__ARRAY_ENCODING_FIXED_SIZE_LIST;
	fsl_ae.fixed_size_list = &fsl;
	nn.values = &fsl_ae;
	nl.nullability_case = LANCE__ENCODINGS__NULLABLE__NULLABILITY_NO_NULLS;
	nl.no_nulls = &nn;
	outer.array_encoding_case = LANCE__ENCODINGS__ARRAY_ENCODING__ARRAY_ENCODING_NULLABLE;
	outer.nullable = &nl;
	if (!(pg->enc = any_bytes(ARRAY_URL, &outer.base, &pg->enc_len)))
		return TV_ENOMEM_SET(c->err, "page encoding");
	return 0;
}

/* Rows of the page starting at r0: up to the page byte target, >= 1. */
static uint64_t page_rows(const tv_col_in *col, uint64_t r0, uint64_t nrows)
{
	uint64_t n = 0, bytes = 0, lim = tv_datafile__page_bytes;
	if (col->kind == TV_COL_F32_VEC) {
		uint64_t per = (uint64_t)col->dim * 4, k = per ? lim / per : nrows;
		return TV_MAX(1, TV_MIN(k, nrows - r0));
	}
	while (r0 + n < nrows) {
		bytes += 8 + (col->str[r0 + n] ? col->len[r0 + n] : 0);
		if (n > 0 && bytes > lim)
			break;
		n++;
	}
	return n;
}

/* Packs a column's metadata; frees the pages' encodings. */
static uint8_t *column_meta(wpage *pages, size_t np, size_t *len)
{
	Lance__File__V2__ColumnMetadata cm = LANCE__FILE__V2__COLUMN_METADATA__INIT;
	Lance__File__V2__Encoding cenc = LANCE__FILE__V2__ENCODING__INIT;
	Lance__File__V2__DirectEncoding cdir = LANCE__FILE__V2__DIRECT_ENCODING__INIT;
	Lance__Encodings__ColumnEncoding ce = LANCE__ENCODINGS__COLUMN_ENCODING__INIT;
	Lance__Encodings__Empty empty = LANCE__ENCODINGS__EMPTY__INIT;
	Lance__File__V2__ColumnMetadata__Page *pg = calloc(np, sizeof *pg), **pp = calloc(np, sizeof *pp);
	Lance__File__V2__Encoding *pe = calloc(np, sizeof *pe);
	Lance__File__V2__DirectEncoding *pd = calloc(np, sizeof *pd);
	uint8_t *out = NULL, *cany = NULL;
	size_t clen;
	if (!pg || !pp || !pe || !pd)
		goto done;
	ce.column_encoding_case = LANCE__ENCODINGS__COLUMN_ENCODING__COLUMN_ENCODING_VALUES;
	ce.values = &empty;
	if (!(cany = any_bytes("/lance.encodings.ColumnEncoding", &ce.base, &clen)))
		goto done;
	cdir.encoding.data = cany;
	cdir.encoding.len = clen;
	cenc.location_case = LANCE__FILE__V2__ENCODING__LOCATION_DIRECT;
	cenc.direct = &cdir;
	cm.encoding = &cenc;
	for (size_t i = 0; i < np; i++) {
		lance__file__v2__column_metadata__page__init(&pg[i]);
		lance__file__v2__encoding__init(&pe[i]);
		lance__file__v2__direct_encoding__init(&pd[i]);
		pd[i].encoding.data = pages[i].enc;
		pd[i].encoding.len = pages[i].enc_len;
		pe[i].location_case = LANCE__FILE__V2__ENCODING__LOCATION_DIRECT;
		pe[i].direct = &pd[i];
		pg[i].n_buffer_offsets = pg[i].n_buffer_sizes = pages[i].nbuf;
		pg[i].buffer_offsets = pages[i].off;
		pg[i].buffer_sizes = pages[i].size;
		pg[i].length = pages[i].rows;
		pg[i].priority = pages[i].first_row;
		pg[i].encoding = &pe[i];
		pp[i] = &pg[i];
	}
	cm.n_pages = np;
	cm.pages = pp;
	*len = lance__file__v2__column_metadata__get_packed_size(&cm);
	if ((out = malloc(*len ? *len : 1)))
		lance__file__v2__column_metadata__pack(&cm, out);
done:
	for (size_t i = 0; i < np; i++)
		free(pages[i].enc);
	free(cany);
	free(pg);
	free(pp);
	free(pe);
	free(pd);
	return out;
}

/* The lance.file.Field message of f (shared with the manifest writer). */
void tv_lance__field_init(Lance__File__Field *m, const tv_lance_field *f)
{
	lance__file__field__init(m);
	m->name = f->name;
	m->id = f->id;
	m->parent_id = f->parent_id;
	m->logical_type = f->logical_type;
	m->nullable = f->nullable;
	m->encoding = f->encoding;
}

static uint8_t *descriptor(const tv_lance_schema *s, uint64_t nrows, size_t *len)
{
	Lance__File__FileDescriptor fd = LANCE__FILE__FILE_DESCRIPTOR__INIT;
	Lance__File__Schema sc = LANCE__FILE__SCHEMA__INIT;
	Lance__File__Field *fs = calloc(s->n ? s->n : 1, sizeof *fs);
	Lance__File__Field **fp = calloc(s->n ? s->n : 1, sizeof *fp);
	uint8_t *out = NULL;
	if (fs && fp) {
		for (size_t i = 0; i < s->n; i++) {
			tv_lance__field_init(&fs[i], &s->fields[i]);
			fp[i] = &fs[i];
		}
		sc.n_fields = s->n;
		sc.fields = fp;
		fd.schema = &sc;
		fd.length = nrows;
		*len = lance__file__file_descriptor__get_packed_size(&fd);
		if ((out = malloc(*len)))
			lance__file__file_descriptor__pack(&fd, out);
	}
	free(fs);
	free(fp);
	return out;
}

static int write_column(wctx *c, const tv_col_in *col, uint64_t nrows, uint8_t **meta,
                        size_t *meta_len)
{
	wpage *pages = NULL, pg;
	size_t np = 0;
	int rc = 0;
	for (uint64_t r0 = 0; r0 < nrows;) {
		memset(&pg, 0, sizeof pg);
		pg.first_row = r0;
		pg.rows = page_rows(col, r0, nrows);
		rc = col->kind == TV_COL_UTF8 ? utf8_page(c, col, r0, pg.rows, &pg)
		                              : vec_page(c, col, r0, pg.rows, &pg);
		if (!rc && page_add(&pages, &np, &pg))
			rc = TV_ENOMEM_SET(c->err, "pages");
		if (rc) {
			free(pg.enc);
			break;
		}
		r0 += pg.rows;
	}
	if (!rc && !(*meta = column_meta(pages, np, meta_len)))
		rc = TV_ENOMEM_SET(c->err, "column metadata");
	else if (rc)
		for (size_t i = 0; i < np; i++)
			free(pages[i].enc);
	free(pages);
	return rc;
}

static int check_cols(const tv_lance_schema *s, const tv_col_in *cols, tv_err *err)
{
	for (size_t i = 0; i < s->n; i++) {
		uint32_t dim = tv_lance_fsl_float_dim(s->fields[i].logical_type);
		if (s->fields[i].parent_id != -1)
			return tv_err_set(err, TV_EINVAL, "data file writer: nested field '%s'",
			                  s->fields[i].name);
		if (cols[i].kind == TV_COL_F32_VEC ? dim != cols[i].dim || dim == 0
		                                   : cols[i].kind != TV_COL_UTF8)
			return tv_err_set(err, TV_EINVAL,
			                  "data file writer: column %zu does not match field '%s' (%s)", i,
			                  s->fields[i].name, s->fields[i].logical_type);
	}
	return 0;
}

int tv_datafile_write(tv_wfile *w, const tv_lance_schema *schema, const tv_col_in *cols,
                      uint64_t nrows, uint64_t *size_out, tv_err *err)
{
	wctx c = {w, 0, err};
	uint8_t **metas = NULL, *desc = NULL;
	size_t *mlen = NULL, dlen = 0;
	uint64_t *table = NULL, foot[3], gpos;
	uint32_t counts[2] = {1, (uint32_t)schema->n};
	uint16_t ver[2] = {0, 3};
	int rc;
	if (nrows == 0 || nrows >= ((uint64_t)1 << 32))
		return tv_err_set(err, TV_EINVAL, "data file writer: %llu rows (1..2^32-1)",
		                  (unsigned long long)nrows);
	metas = calloc(schema->n ? schema->n : 1, sizeof *metas);
	mlen = calloc(schema->n ? schema->n : 1, sizeof *mlen);
	if (!metas || !mlen) {
		rc = TV_ENOMEM_SET(err, "data file");
		goto done;
	}
	if ((rc = check_cols(schema, cols, err)))
		goto done;
	for (size_t i = 0; i < schema->n; i++)
		if ((rc = write_column(&c, &cols[i], nrows, &metas[i], &mlen[i])))
			goto done;
	if (!(desc = descriptor(schema, nrows, &dlen)) ||
	    !(table = tv_mallocarray(schema->n * 2 + 2, sizeof *table))) {
		rc = TV_ENOMEM_SET(err, "data file metadata");
		goto done;
	}
	gpos = c.pos;
	if ((rc = put(&c, desc, dlen)))
		goto done;
	foot[0] = c.pos;
	for (size_t i = 0; i < schema->n; i++) {
		table[2 * i] = c.pos;
		table[2 * i + 1] = mlen[i];
		if ((rc = put(&c, metas[i], mlen[i])))
			goto done;
	}
	foot[1] = c.pos;
	table[2 * schema->n] = gpos;
	table[2 * schema->n + 1] = dlen;
	if ((rc = put(&c, table, schema->n * 16)))
		goto done;
	foot[2] = c.pos;
	if ((rc = put(&c, table + 2 * schema->n, 16)) || (rc = put(&c, foot, sizeof foot)) ||
	    (rc = put(&c, counts, sizeof counts)) || (rc = put(&c, ver, sizeof ver)) ||
	    (rc = put(&c, "LANC", 4)))
		goto done;
	if (size_out)
		*size_out = c.pos;
done:
	for (size_t i = 0; metas && i < schema->n; i++)
		free(metas[i]);
	free(metas);
	free(mlen);
	free(desc);
	free(table);
	return rc;
}

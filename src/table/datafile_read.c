/*
 * Lance 2.0 data file reader (see datafile.h and the layout table in
 * datafile_write.c).
 *
 * Opening reads the 40-byte footer, then the region from global buffer 0
 * to the end (FileDescriptor, column metadata, tables) in one read, and
 * decodes every column's page list. Every position and size is checked
 * against the file size before use; any failure is TV_ECORRUPT naming the
 * file. Page encodings are decoded when a page is read.
 *
 * Decoded page shapes (N = nullable.no_nulls, S = nullable.some_nulls):
 *   strings:  binary{indices [N](F(64)), bytes F(8), null_adjustment}
 *             dictionary{indices [N](F(8)), items binary{...}, k}
 *             nullable.all_nulls (no buffers)
 *   vectors:  [N|S(validity F(1))](fixed_size_list{dim, [N|S](F(32))})
 *             nullable.all_nulls
 */
#include <stdlib.h>
#include <string.h>

#include "any.pb-c.h"
#include "encodings.pb-c.h"
#include "file2.pb-c.h"
#include "table/pb.h"
#include "util/common.h"

typedef Lance__Encodings__ArrayEncoding AE;

typedef struct rpage {
	uint64_t first_row, rows;
	size_t nbuf;
	uint64_t *off, *size;
	AE *enc; /* decoded lazily; NULL until then */
	uint8_t *enc_bytes;
	size_t enc_len;
} rpage;

typedef struct rcol {
	rpage *pages;
	size_t np;
} rcol;

struct tv_datafile {
	tv_rfile *f;
	uint64_t rows;
	tv_lance_schema schema;
	rcol *cols;
	size_t ncols;
};

static int corrupt(tv_datafile *df, tv_err *err, const char *what)
{
	return tv_err_set(err, TV_ECORRUPT, "%s: corrupt Lance data file: %s", df->f->path, what);
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static bool in_file(const tv_datafile *df, uint64_t off, uint64_t len)
{
	return off <= df->f->size && len <= df->f->size - off;
}

/* Unpacks an Any, returning its value bytes if the type name matches. */
static int any_value(const uint8_t *b, size_t n, const char *type, ProtobufCBinaryData *out,
                     Tv__Pb__Any **keep)
{
	Tv__Pb__Any *a = tv__pb__any__unpack(NULL, n, b);
	const char *slash;
	if (!a)
		return -1;
	slash = a->type_url ? strrchr(a->type_url, '/') : NULL;
	if (strcmp(slash ? slash + 1 : (a->type_url ? a->type_url : ""), type)) {
		tv__pb__any__free_unpacked(a, NULL);
		return -1;
	}
	*out = a->value;
	*keep = a;
	return 0;
}

static int load_page(tv_datafile *df, rpage *rp, Lance__File__V2__ColumnMetadata__Page *p,
                     uint64_t first, tv_err *err)
{
	rp->first_row = first;
	rp->rows = p->length;
	if (p->n_buffer_offsets != p->n_buffer_sizes)
		return corrupt(df, err, "page buffer offsets and sizes differ in number");
	rp->nbuf = p->n_buffer_offsets;
	rp->off = tv_mallocarray(rp->nbuf ? rp->nbuf : 1, 8);
	rp->size = tv_mallocarray(rp->nbuf ? rp->nbuf : 1, 8);
	if (!rp->off || !rp->size)
		return TV_ENOMEM_SET(err, "pages");
	for (size_t i = 0; i < rp->nbuf; i++) {
		rp->off[i] = p->buffer_offsets[i];
		rp->size[i] = p->buffer_sizes[i];
		if (!in_file(df, rp->off[i], rp->size[i]))
			return corrupt(df, err, "page buffer outside the file");
	}
	if (!p->encoding || p->encoding->location_case != LANCE__FILE__V2__ENCODING__LOCATION_DIRECT)
		return corrupt(df, err, "page encoding is not direct");
	rp->enc_len = p->encoding->direct->encoding.len;
	if (!(rp->enc_bytes = malloc(rp->enc_len ? rp->enc_len : 1)))
		return TV_ENOMEM_SET(err, "pages");
	if (rp->enc_len)
		memcpy(rp->enc_bytes, p->encoding->direct->encoding.data, rp->enc_len);
	return 0;
}

static int load_column(tv_datafile *df, size_t c, const uint8_t *b, size_t n, tv_err *err)
{
	Lance__File__V2__ColumnMetadata *cm = lance__file__v2__column_metadata__unpack(NULL, n, b);
	uint64_t row = 0;
	int rc = 0;
	if (!cm)
		return corrupt(df, err, "column metadata does not decode");
	df->cols[c].pages = calloc(cm->n_pages ? cm->n_pages : 1, sizeof(rpage));
	if (!df->cols[c].pages)
		rc = TV_ENOMEM_SET(err, "columns");
	for (size_t i = 0; !rc && i < cm->n_pages; i++) {
		df->cols[c].np++;
		rc = load_page(df, &df->cols[c].pages[i], cm->pages[i], row, err);
		if (!rc && __builtin_add_overflow(row, cm->pages[i]->length, &row))
			rc = corrupt(df, err, "page lengths overflow");
	}
	if (!rc && row != df->rows)
		rc = corrupt(df, err, "a column's pages do not add up to the file's rows");
	lance__file__v2__column_metadata__free_unpacked(cm, NULL);
	return rc;
}

/* Reads footer, descriptor and column metadata. */
static int load(tv_datafile *df, tv_err *err)
{
	uint8_t foot[40], *meta = NULL;
	uint64_t cm0, cmo, gbo, gpos, glen, size = df->f->size, mlen;
	uint32_t ng, nc;
	uint16_t major, minor;
	Lance__File__FileDescriptor *fd = NULL;
	int rc;
	if (size < 40)
		return corrupt(df, err, "shorter than a footer");
	if ((rc = tv_rfile_read(df->f, size - 40, 40, foot, err)))
		return rc;
	if (memcmp(foot + 36, "LANC", 4))
		return corrupt(df, err, "no LANC magic at the end");
	memcpy(&major, foot + 32, 2);
	memcpy(&minor, foot + 34, 2);
	if (!((major == 0 && minor == 3) || (major == 2 && minor == 0)))
		return tv_err_set(err, TV_EUNSUPPORTED,
		                  "%s: Lance file format version %u.%u is not supported; teavec reads "
		                  "2.0 (create the table with data storage version 2.0)",
		                  df->f->path, major == 0 && minor < 3 ? 0 : major, minor);
	cm0 = rd64(foot);
	cmo = rd64(foot + 8);
	gbo = rd64(foot + 16);
	memcpy(&ng, foot + 24, 4);
	memcpy(&nc, foot + 28, 4);
	if (ng < 1 || !in_file(df, gbo, (uint64_t)ng * 16) || !in_file(df, cmo, (uint64_t)nc * 16) ||
	    cm0 > size)
		return corrupt(df, err, "footer tables outside the file");
	{
		uint8_t g[16];
		if ((rc = tv_rfile_read(df->f, gbo, 16, g, err)))
			return rc;
		gpos = rd64(g);
		glen = rd64(g + 8);
	}
	if (!in_file(df, gpos, glen) || gpos > cmo)
		return corrupt(df, err, "file descriptor outside the file");
	mlen = size - gpos;
	if (mlen > (1u << 30) || !(meta = malloc(mlen)))
		return mlen > (1u << 30) ? corrupt(df, err, "metadata region too large")
		                         : TV_ENOMEM_SET(err, "metadata");
	if ((rc = tv_rfile_read(df->f, gpos, mlen, meta, err)))
		goto done;
	if (!(fd = lance__file__file_descriptor__unpack(NULL, glen, meta)) || !fd->schema) {
		rc = corrupt(df, err, "file descriptor does not decode");
		goto done;
	}
	df->rows = fd->length;
	if ((rc = tv_lance__schema_from_pb(&df->schema, fd->schema->fields, fd->schema->n_fields))) {
		rc = TV_ENOMEM_SET(err, "schema");
		goto done;
	}
	df->ncols = nc;
	if (!(df->cols = calloc(nc ? nc : 1, sizeof *df->cols))) {
		rc = TV_ENOMEM_SET(err, "columns");
		goto done;
	}
	for (uint32_t c = 0; c < nc; c++) {
		uint64_t p = rd64(meta + (cmo - gpos) + 16 * c), l = rd64(meta + (cmo - gpos) + 16 * c + 8);
		if (p < gpos || !in_file(df, p, l)) {
			rc = corrupt(df, err, "column metadata outside the file");
			goto done;
		}
		if ((rc = load_column(df, c, meta + (p - gpos), l, err)))
			goto done;
	}
done:
	if (fd)
		lance__file__file_descriptor__free_unpacked(fd, NULL);
	free(meta);
	return rc;
}

int tv_datafile_open(tv_datafile **out, tv_rfile *f, tv_err *err)
{
	tv_datafile *df = calloc(1, sizeof *df);
	int rc;
	*out = NULL;
	if (!df)
		return TV_ENOMEM_SET(err, "data file");
	df->f = f;
	if ((rc = load(df, err))) {
		tv_datafile_close(df);
		return rc;
	}
	*out = df;
	return 0;
}

void tv_datafile_close(tv_datafile *df)
{
	if (!df)
		return;
	for (size_t c = 0; df->cols && c < df->ncols; c++) {
		for (size_t i = 0; i < df->cols[c].np; i++) {
			rpage *p = &df->cols[c].pages[i];
			free(p->off);
			free(p->size);
			free(p->enc_bytes);
			if (p->enc)
				lance__encodings__array_encoding__free_unpacked(p->enc, NULL);
		}
		free(df->cols[c].pages);
	}
	free(df->cols);
	tv_lance_schema_free(&df->schema);
	free(df);
}

uint64_t tv_datafile_rows(const tv_datafile *df) { return df->rows; }
size_t tv_datafile_columns(const tv_datafile *df) { return df->ncols; }
const tv_lance_schema *tv_datafile_schema(const tv_datafile *df) { return &df->schema; }

/* ---- page access ---------------------------------------------------- */

static int page_enc(tv_datafile *df, rpage *p, tv_err *err)
{
	ProtobufCBinaryData v;
	Tv__Pb__Any *any = NULL;
	if (p->enc)
		return 0;
	if (any_value(p->enc_bytes, p->enc_len, "lance.encodings.ArrayEncoding", &v, &any))
		return corrupt(df, err, "page encoding is not an ArrayEncoding");
	p->enc = lance__encodings__array_encoding__unpack(NULL, v.len, v.data);
	tv__pb__any__free_unpacked(any, NULL);
	return p->enc ? 0 : corrupt(df, err, "page encoding does not decode");
}

/* A page buffer: a pointer into the map, or a copy (*owned). */
static int page_buf(tv_datafile *df, const rpage *p, uint32_t idx, const uint8_t **data,
                    uint64_t *len, uint8_t **owned, tv_err *err)
{
	int rc;
	*owned = NULL;
	if (idx >= p->nbuf)
		return corrupt(df, err, "encoding names a buffer the page does not have");
	*len = p->size[idx];
	if (df->f->map) {
		*data = df->f->map + p->off[idx];
		return 0;
	}
	if (!(*owned = malloc(*len ? *len : 1)))
		return TV_ENOMEM_SET(err, "page buffer");
	if ((rc = tv_rfile_read(df->f, p->off[idx], *len, *owned, err))) {
		free(*owned);
		*owned = NULL;
		return rc;
	}
	*data = *owned;
	return 0;
}

/* flat or N(flat) with the given width: its buffer index. */
static int flat_of(const AE *e, uint64_t bits, uint32_t *idx)
{
	if (e && e->array_encoding_case == LANCE__ENCODINGS__ARRAY_ENCODING__ARRAY_ENCODING_NULLABLE &&
	    e->nullable->nullability_case == LANCE__ENCODINGS__NULLABLE__NULLABILITY_NO_NULLS)
		e = e->nullable->no_nulls->values;
	if (!e || e->array_encoding_case != LANCE__ENCODINGS__ARRAY_ENCODING__ARRAY_ENCODING_FLAT ||
	    e->flat->bits_per_value != bits || e->flat->compression)
		return -1;
	*idx = e->flat->buffer ? e->flat->buffer->buffer_index : 0;
	return 0;
}

static int find_page(tv_datafile *df, uint32_t col, uint64_t row, size_t *pi, tv_err *err)
{
	rcol *c = &df->cols[col];
	for (size_t i = 0; i < c->np; i++)
		if (row >= c->pages[i].first_row && row - c->pages[i].first_row < c->pages[i].rows) {
			*pi = i;
			return page_enc(df, &c->pages[i], err);
		}
	return corrupt(df, err, "row outside every page");
}

#include "table/datafile_strings.inc"
#include "table/datafile_vectors.inc"

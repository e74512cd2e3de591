/*
 * Table snapshots and reads: open a version, map columns by name in every
 * fragment, honour deletion vectors, exact search and row access.
 *
 * What we refuse to read, with a message that says so: data storage
 * versions other than 2.0, reader feature flags we do not know, tables
 * with base paths (shallow clones), `.arrow` deletion files (not yet).
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "table/deletion.h"
#include "table/table_int.h"
#include "util/common.h"
#include "vec/vec.h"

static const char *const col_names[TV_NCOLS] = {"id", "text", "path", "metadata", "vector"};

/* Reader flags we understand: deletion files (1), stable row ids (2, the
 * ids themselves are ignored), the deprecated v2 flag (4). */
#define READ_FLAGS_OK (1u | 2u | 4u)

bool tv_table__is_deleted(const tv_frag *f, uint64_t off)
{
	return f->deleted && roaring_bitmap_contains(f->deleted, (uint32_t)off);
}

static int map_schema(tv_table *t, tv_err *err)
{
	Lance__Table__Manifest *m = t->mf.m;
	for (int c = 0; c < TV_NCOLS; c++)
		t->field[c] = -1;
	for (size_t i = 0; i < m->n_fields; i++) {
		Lance__File__Field *f = m->fields[i];
		if (f->parent_id != -1 || !f->name)
			continue;
		for (int c = 0; c < TV_NCOLS; c++) {
			if (strcmp(f->name, col_names[c]))
				continue;
			if (c == TV_COL_VEC) {
				t->dim = tv_lance_fsl_float_dim(f->logical_type);
				if (!t->dim)
					return tv_err_set(err, TV_EUNSUPPORTED,
					                  "%s: column 'vector' is %s, teavec needs "
					                  "fixed_size_list<float32>",
					                  t->dir, f->logical_type ? f->logical_type : "?");
			} else if (!f->logical_type || (strcmp(f->logical_type, "string") &&
			                                strcmp(f->logical_type, "large_string"))) {
				return tv_err_set(err, TV_EUNSUPPORTED, "%s: column '%s' is %s, not a string",
				                  t->dir, f->name, f->logical_type ? f->logical_type : "?");
			}
			t->field[c] = f->id;
		}
	}
	if (t->field[TV_COL_ID] < 0 || t->field[TV_COL_VEC] < 0 || t->field[TV_COL_TEXT] < 0)
		return tv_err_set(err, TV_EUNSUPPORTED,
		                  "%s: a teavec collection needs columns id, text and vector", t->dir);
	return 0;
}

static int check_format(tv_table *t, tv_err *err)
{
	Lance__Table__Manifest *m = t->mf.m;
	const char *ver = m->data_format && m->data_format->version ? m->data_format->version : NULL;
	if (ver && strcmp(ver, "2.0"))
		return tv_err_set(err, TV_EUNSUPPORTED,
		                  "table %s uses Lance data storage version %s; teavec reads and "
		                  "writes 2.0: create it with dataStorageVersion \"2.0\"",
		                  t->dir, ver);
	if (m->reader_feature_flags & ~(uint64_t)READ_FLAGS_OK)
		return tv_err_set(err, TV_EUNSUPPORTED,
		                  "table %s needs Lance reader features 0x%" PRIx64 " teavec lacks",
		                  t->dir, m->reader_feature_flags & ~(uint64_t)READ_FLAGS_OK);
	if (m->n_base_paths)
		return tv_err_set(err, TV_EUNSUPPORTED, "table %s uses base paths (a shallow clone)",
		                  t->dir);
	return 0;
}

static int load_deletions(tv_table *t, tv_frag *f, tv_err *err)
{
	Lance__Table__DeletionFile *d = f->pb->deletion_file;
	uint8_t *buf = NULL;
	size_t n;
	char *path;
	int rc;
	if (!d)
		return 0;
	bool arrow = d->file_type == LANCE__TABLE__DELETION_FILE__FILE_TYPE__ARROW_ARRAY;
	path = tv_sprintf("%s/_deletions/%" PRIu64 "-%" PRIu64 "-%" PRIu64 ".%s", t->dir, f->id,
	                  d->read_version, d->id, arrow ? "arrow" : "bin");
	if (!path)
		return TV_ENOMEM_SET(err, "deletion path");
	rc = tv_io_read_all(t->io, path, &buf, &n, err);
	if (!rc && arrow) {
		rc = tv_deletion__read_arrow(buf, n, &f->deleted, path, err);
	} else if (!rc) {
		if (!(f->deleted = roaring_bitmap_portable_deserialize_safe((const char *)buf, n)))
			rc = tv_err_set(err, TV_ECORRUPT, "%s: not a portable Roaring bitmap", path);
		else if (roaring_bitmap_portable_deserialize_size((const char *)buf, n) != n)
			rc = tv_err_set(err, TV_ECORRUPT, "%s: trailing bytes after the bitmap", path);
	}
	if (!rc && !roaring_bitmap_is_empty(f->deleted) &&
	    roaring_bitmap_maximum(f->deleted) >= f->rows)
		rc = tv_err_set(err, TV_ECORRUPT, "%s: deletes row offsets past the fragment", path);
	free(buf);
	free(path);
	return rc;
}

static int map_fragment(tv_table *t, tv_frag *f, Lance__Table__DataFragment *pb, tv_err *err)
{
	f->pb = pb;
	f->id = pb->id;
	f->rows = pb->physical_rows;
	for (int c = 0; c < TV_NCOLS; c++)
		f->file[c] = -1;
	for (size_t i = 0; i < pb->n_files; i++) {
		Lance__Table__DataFile *df = pb->files[i];
		if (df->n_fields != df->n_column_indices)
			return tv_err_set(err, TV_ECORRUPT, "%s: fragment %" PRIu64 ": fields and column "
			                  "indices differ in number", t->dir, f->id);
		if (df->file_major_version != 2 || df->file_minor_version != 0)
			return tv_err_set(err, TV_EUNSUPPORTED, "%s: data file %s is format %u.%u, not 2.0",
			                  t->dir, df->path ? df->path : "?", df->file_major_version,
			                  df->file_minor_version);
		for (size_t j = 0; j < df->n_fields; j++)
			for (int c = 0; c < TV_NCOLS; c++)
				if (t->field[c] >= 0 && df->fields[j] == t->field[c] && df->column_indices[j] >= 0) {
					f->file[c] = (int)i;
					f->col[c] = (uint32_t)df->column_indices[j];
				}
	}
	if (f->file[TV_COL_ID] < 0 || f->file[TV_COL_VEC] < 0)
		return tv_err_set(err, TV_ECORRUPT, "%s: fragment %" PRIu64 " lacks id or vector",
		                  t->dir, f->id);
	f->rf = calloc(pb->n_files ? pb->n_files : 1, sizeof *f->rf);
	f->df = calloc(pb->n_files ? pb->n_files : 1, sizeof *f->df);
	if (!f->rf || !f->df)
		return TV_ENOMEM_SET(err, "fragments");
	return load_deletions(t, f, err);
}

int tv_table__load(tv_table *t, uint64_t version, tv_err *err)
{
	uint64_t *vs = NULL;
	size_t nv = 0;
	char *path;
	int rc;
	/* a given version of a table loaded before needs no listing: its
	 * naming scheme is known (and never changes) */
	if (version == 0 || t->version == 0) {
		if ((rc = tv_manifest_versions(t->io, t->dir, &vs, &nv, &t->naming, err)))
			return rc;
		if (nv == 0) {
			free(vs);
			return tv_err_set(err, TV_ENOTFOUND, "%s: no such table", t->dir);
		}
		if (version == 0)
			version = vs[nv - 1];
		free(vs);
	}
	if (!(path = tv_manifest_path(t->dir, t->naming, version)))
		return TV_ENOMEM_SET(err, t->dir);
	tv_rfile_close(t->mf_pin);
	t->mf_pin = NULL; /* on local disk, the file read stays open: the one loaded */
	rc = tv_manifest_read(t->io, path, &t->mf,
	                      (tv_io_caps(t->io) & TV_IO_CAP_LOCAL) ? &t->mf_pin : NULL, err);
	free(path);
	if (rc)
		return rc == TV_ENOTFOUND ? tv_err_set(err, rc, "%s: no version %" PRIu64, t->dir, version)
		                          : rc;
	t->version = version;
	t->ix_version = 0; /* new fragments: the index is chosen again */
	if ((rc = check_format(t, err)) || (rc = map_schema(t, err)))
		return rc;
	t->nfrags = t->mf.m->n_fragments;
	if (!(t->frags = calloc(t->nfrags ? t->nfrags : 1, sizeof *t->frags)))
		return TV_ENOMEM_SET(err, "fragments");
	t->live = 0;
	for (size_t i = 0; i < t->nfrags; i++) {
		if ((rc = map_fragment(t, &t->frags[i], t->mf.m->fragments[i], err)))
			return rc;
		t->live += t->frags[i].rows -
		           (t->frags[i].deleted ? roaring_bitmap_get_cardinality(t->frags[i].deleted) : 0);
	}
	return 0;
}

static void frag_free(tv_frag *f)
{
	for (size_t j = 0; f->pb && j < f->pb->n_files; j++) {
		tv_datafile_close(f->df ? f->df[j] : NULL);
		tv_rfile_close(f->rf ? f->rf[j] : NULL);
	}
	for (int c = 0; c < TV_NCOLS; c++)
		tv_strcol_free(&f->str[c]);
	free(f->inv_norm);
	for (size_t k = 0; k < f->neq; k++)
		tv_eqidx_free(f->eq[k]);
	free(f->eq);
	free(f->rf);
	free(f->df);
	if (f->deleted)
		roaring_bitmap_free(f->deleted);
	memset(f, 0, sizeof *f);
}

void tv_table__unload(tv_table *t)
{
	for (size_t i = 0; i < t->nfrags; i++)
		frag_free(&t->frags[i]);
	free(t->frags);
	t->frags = NULL;
	t->nfrags = 0;
	tv_manifest_free(&t->mf);
	tv_rfile_close(t->mf_pin);
	t->mf_pin = NULL;
}

bool tv_table__same_files(const Lance__Table__DataFragment *a, const Lance__Table__DataFragment *b)
{
	if (a->n_files != b->n_files || a->physical_rows != b->physical_rows)
		return false;
	for (size_t i = 0; i < a->n_files; i++)
		if (!a->files[i]->path || !b->files[i]->path || strcmp(a->files[i]->path, b->files[i]->path))
			return false;
	return true;
}

/* Moves what a fragment has computed (open files, string columns, norms,
 * equality indexes) from old to new: data files are immutable, so all of
 * it stays true; only the deletion vector is the new version's. */
static void frag_adopt(tv_frag *nf, tv_frag *of)
{
	for (size_t j = 0; j < nf->pb->n_files; j++) {
		nf->rf[j] = of->rf[j];
		nf->df[j] = of->df[j];
		of->rf[j] = NULL;
		of->df[j] = NULL;
	}
	for (int c = 0; c < TV_NCOLS; c++) {
		nf->str[c] = of->str[c];
		nf->loaded[c] = of->loaded[c];
		memset(&of->str[c], 0, sizeof of->str[c]);
		of->loaded[c] = false;
	}
	nf->inv_norm = of->inv_norm;
	nf->eq = of->eq;
	nf->neq = of->neq;
	of->inv_norm = NULL;
	of->eq = NULL;
	of->neq = 0;
}

int tv_table__reload(tv_table *t, uint64_t version, tv_err *err)
{
	tv_manifest old_mf = t->mf;
	tv_frag *old = t->frags;
	size_t nold = t->nfrags, j = 0;
	int rc;
	memset(&t->mf, 0, sizeof t->mf);
	t->frags = NULL;
	t->nfrags = 0;
	rc = tv_table__load(t, version, err);
	if (!rc)
		tv_table__ids_reloaded(t, old, nold);
	for (size_t i = 0; !rc && i < t->nfrags; i++) {
		/* both lists are sorted by fragment id */
		while (j < nold && old[j].id < t->frags[i].id)
			j++;
		if (j < nold && old[j].id == t->frags[i].id &&
		    tv_table__same_files(old[j].pb, t->frags[i].pb) &&
		    t->frags[i].file[TV_COL_VEC] == old[j].file[TV_COL_VEC])
			frag_adopt(&t->frags[i], &old[j]);
	}
	for (size_t i = 0; i < nold; i++)
		frag_free(&old[i]);
	free(old);
	tv_manifest_free(&old_mf);
	return rc;
}

int tv_table_open(tv_table **out, tv_io *io, const char *dir, uint64_t version, tv_err *err)
{
	tv_table *t = calloc(1, sizeof *t);
	int rc;
	*out = NULL;
	if (!t || !(t->dir = tv_strdup(dir))) {
		free(t);
		return TV_ENOMEM_SET(err, dir);
	}
	t->io = io;
	if ((rc = tv_table__load(t, version, err))) {
		tv_table_close(t);
		return rc;
	}
	*out = t;
	return 0;
}

void tv_table_close(tv_table *t)
{
	if (!t)
		return;
	tv_table__unload(t);
	tv_table__index_free(t);
	tv_table__ids_free(t);
	free(t->rowbuf);
	for (int c = 0; c < TV_COL_VEC; c++)
		tv_strcol_free(&t->rowstr[c]);
	free(t->dir);
	free(t);
}

int tv_table_refresh(tv_table *t, tv_err *err) { return tv_table__reload(t, 0, err); }

uint64_t tv_table_version(const tv_table *t) { return t->version; }

bool tv_table_surely_latest(tv_table *t)
{
	/* Versions are made one after the other (N+1 only if absent), so "no
	 * N+1" means none newer; the file named N is the one loaded (not a
	 * table dropped and made again up to N) when it has the inode of the
	 * file held open since the load, which no other file can have. */
	char *next, *mine;
	tv_io_entry st;
	bool sure = false;
	if (!t->mf_pin || !t->mf_pin->ino || t->version == UINT64_MAX)
		return false;
	next = tv_manifest_path(t->dir, t->naming, t->version + 1);
	mine = tv_manifest_path(t->dir, t->naming, t->version);
	if (next && mine && tv_io_stat(t->io, next, &st, NULL) == TV_ENOTFOUND &&
	    tv_io_stat(t->io, mine, &st, NULL) == 0)
		sure = st.ino == t->mf_pin->ino && st.dev == t->mf_pin->dev;
	free(next);
	free(mine);
	return sure;
}
uint32_t tv_table_dim(const tv_table *t) { return t->dim; }
uint64_t tv_table_rows(const tv_table *t) { return t->live; }
size_t tv_table_fragments(const tv_table *t) { return t->nfrags; }

/* ---- reading columns ------------------------------------------------ */

int tv_table__datafile(tv_table *t, tv_frag *f, int file, tv_datafile **out, tv_err *err)
{
	int rc;
	if (!f->df[file]) {
		const char *name = f->pb->files[file]->path;
		char *path;
		if (!name || strchr(name, '/') || !strcmp(name, "..") || !*name)
			return tv_err_set(err, TV_ECORRUPT, "%s: bad data file name", t->dir);
		if (!(path = tv_sprintf("%s/data/%s", t->dir, name)))
			return TV_ENOMEM_SET(err, name);
		rc = tv_io_open_read(t->io, path, &f->rf[file], err);
		free(path);
		if (rc)
			return rc;
		if ((rc = tv_datafile_open(&f->df[file], f->rf[file], err)))
			return rc;
		if (tv_datafile_rows(f->df[file]) != f->rows)
			return tv_err_set(err, TV_ECORRUPT, "%s: %s has %" PRIu64 " rows, manifest says %" PRIu64,
			                  t->dir, name, tv_datafile_rows(f->df[file]), f->rows);
	}
	*out = f->df[file];
	return 0;
}

int tv_table__strings(tv_table *t, tv_frag *f, int c, tv_err *err)
{
	tv_datafile *df = NULL;
	int rc;
	if (f->loaded[c] || f->file[c] < 0)
		return 0;
	if ((rc = tv_table__datafile(t, f, f->file[c], &df, err)) ||
	    (rc = tv_datafile_read_strings(df, f->col[c], 0, f->rows, &f->str[c], err)))
		return rc;
	f->loaded[c] = true;
	return 0;
}

void tv_table__view(tv_frag *f, uint64_t off, tv_row_view *v)
{
	const tv_strcol *s;
	memset(v, 0, sizeof *v);
#define COL(c, p, l)                                                                       \
	s = &f->str[c];                                                                    \
	if (f->loaded[c] && (!s->valid || s->valid[off])) {                                \
		p = s->data + s->offsets[off];                                             \
		l = (size_t)(s->offsets[off + 1] - s->offsets[off]);                       \
	}
	COL(TV_COL_ID, v->id, v->id_len)
	COL(TV_COL_TEXT, v->text, v->text_len)
	COL(TV_COL_PATH, v->path, v->path_len)
	COL(TV_COL_META, v->metadata, v->metadata_len)
#undef COL
	if (!v->text) {
		v->text = "";
		v->text_len = 0;
	}
	if (!v->metadata) {
		v->metadata = "{}";
		v->metadata_len = 2;
	}
}

/* Loads the string columns filter reads, and no other: a count or delete
 * on `path` need not copy a fragment's texts. */
int tv_table__filter_cols(tv_table *t, tv_frag *f, const tv_filter *filter, tv_err *err)
{
	static const struct { unsigned bit; int col; } cols[] = {
		{TV_FILTER_COL_ID, TV_COL_ID}, {TV_FILTER_COL_TEXT, TV_COL_TEXT},
		{TV_FILTER_COL_PATH, TV_COL_PATH}, {TV_FILTER_COL_META, TV_COL_META}};
	unsigned m = filter ? tv_filter_columns(filter) : 0;
	int rc;
	for (size_t i = 0; i < TV_ARRAY_LEN(cols); i++)
		if ((m & cols[i].bit) && (rc = tv_table__strings(t, f, cols[i].col, err)))
			return rc;
	return 0;
}

/* Rows per chunk: one page of our own files (8 MiB of vectors). */
uint64_t tv_table__chunk_rows(uint32_t dim) { return TV_MAX(1, (8u << 20) / ((uint64_t)dim * 4)); }

/* Cosine distances of n rows and their inverse norms, in one pass. */
static void first_pass(const float *q, float qinv, const float *v, uint64_t n, uint32_t dim,
                       float *inv, float *d)
{
	const tv_kernels *k = tv_vec_kernels();
	k->dot_sq_batch(q, v, n, dim, d, inv);
	for (uint64_t i = 0; i < n; i++) {
		float nr = sqrtf(inv[i]), c;
		inv[i] = nr > 0.0f ? 1.0f / nr : 0.0f;
		if (qinv == 0.0f || inv[i] == 0.0f) {
			d[i] = 1.0f;
			continue;
		}
		c = d[i] * qinv * inv[i];
		d[i] = 1.0f - (c > 1.0f ? 1.0f : c < -1.0f ? -1.0f : c);
	}
}

/* A selective equality filter: visit only the rows its values select
 * (exact, like the scan). Returns 1 when it handled the fragment, 0 when
 * a scan is better (not selective, or no usable index). */
static int search_selected(tv_table *t, size_t fi, const float *q, tv_metric metric,
                           const tv_filter *filter, const tv_filter_eq *eq, tv_topk *top,
                           tv_err *err)
{
	tv_frag *f = &t->frags[fi];
	const uint32_t *lists[TV_FILTER_EQ_MAX];
	size_t counts[TV_FILTER_EQ_MAX], total;
	tv_eqidx *x;
	tv_datafile *df;
	int rc;
	if ((rc = tv_table__filter_cols(t, f, filter, err)))
		return rc;
	if ((rc = tv_eqidx_get(f, eq, &x)))
		return TV_ENOMEM_SET(err, "filter index");
	if (!x)
		return 0;
	total = tv_eqidx_rows(x, eq, lists, counts);
	if (total * 10 > f->rows) /* over 10% of the rows: scanning is as good */
		return 0;
	if ((rc = tv_table__datafile(t, f, f->file[TV_COL_VEC], &df, err)))
		return rc;
	/* an equality that is the whole filter: the index's rows match by
	 * construction, so only distances remain (no row is re-evaluated) */
	for (size_t i = 0; i < eq->n; i++) {
		for (size_t j = 0; j < counts[i]; j++) {
			uint64_t r = lists[i][j];
			tv_row_view rv;
			const float *v;
			float *own = NULL;
			if (tv_table__is_deleted(f, r))
				continue;
			if (!eq->whole) {
				tv_table__view(f, r, &rv);
				if (!tv_filter_matches(filter, &rv))
					continue;
			}
			if ((rc = tv_datafile_read_vectors(df, f->col[TV_COL_VEC], r, 1, t->dim, &v, &own,
			                                   NULL, err)))
				return rc;
			tv_topk_push(top, tv_distance(metric, q, v, t->dim), ((uint64_t)fi << 32) | r);
			free(own);
		}
	}
	return 1;
}

int tv_table__search_frag(tv_table *t, size_t fi, const float *q, float qinv, tv_metric metric,
                       const tv_filter *filter, tv_topk *top, float *d, tv_err *err)
{
	tv_frag *f = &t->frags[fi];
	tv_datafile *df = NULL;
	uint64_t step = tv_table__chunk_rows(t->dim);
	tv_filter_eq eq;
	int rc;
	if (filter && tv_filter_equality(filter, &eq) &&
	    (rc = search_selected(t, fi, q, metric, filter, &eq, top, err)) != 0)
		return rc < 0 ? rc : 0;
	if ((rc = tv_table__datafile(t, f, f->file[TV_COL_VEC], &df, err)))
		return rc;
	if (filter && (rc = tv_table__filter_cols(t, f, filter, err)))
		return rc;
	/* The first cosine search of a fragment gets each row's norm in the same
	 * pass as its dot product and keeps 1/|v| (fragments are immutable);
	 * later searches are one dot-product pass at memory bandwidth. */
	bool fill = metric == TV_METRIC_COSINE && !f->inv_norm;
	if (fill && !(f->inv_norm = tv_mallocarray(f->rows ? f->rows : 1, sizeof *f->inv_norm)))
		return TV_ENOMEM_SET(err, "norms");
	for (uint64_t r0 = 0; r0 < f->rows; r0 += step) {
		uint64_t n = TV_MIN(step, f->rows - r0);
		const float *v;
		float *own = NULL;
		if ((rc = tv_datafile_read_vectors(df, f->col[TV_COL_VEC], r0, n, t->dim, &v, &own, NULL,
		                                   err))) {
			if (fill) {
				free(f->inv_norm);
				f->inv_norm = NULL;
			}
			return rc;
		}
		if (fill)
			first_pass(q, qinv, v, n, t->dim, f->inv_norm + r0, d);
		else
			tv_vec_distances(metric, q, qinv, v, f->inv_norm ? f->inv_norm + r0 : NULL, n,
			                 t->dim, d);
		for (uint64_t i = 0; i < n; i++) {
			tv_row_view rv;
			if (d[i] > tv_topk_worst(top) || tv_table__is_deleted(f, r0 + i))
				continue;
			if (filter) {
				tv_table__view(f, r0 + i, &rv);
				if (!tv_filter_matches(filter, &rv))
					continue;
			}
			tv_topk_push(top, d[i], ((uint64_t)fi << 32) | (r0 + i));
		}
		free(own);
	}
	return 0;
}

/* Exact search of every fragment not in skip's sense (the index's). */
static int search_rest(tv_table *t, const float *q, tv_metric metric, const tv_filter *filter,
                       bool skip_indexed, tv_topk *top, tv_err *err)
{
	float *d = tv_mallocarray(tv_table__chunk_rows(t->dim), sizeof *d), norm = tv_vec_norm(q, t->dim);
	int rc = 0;
	if (!d)
		return TV_ENOMEM_SET(err, "search");
	for (size_t fi = 0; fi < t->nfrags && !rc; fi++)
		if (!skip_indexed || !t->frags[fi].indexed)
			rc = tv_table__search_frag(t, fi, q, norm > 0 ? 1.0f / norm : 0.0f, metric, filter,
			                           top, d, err);
	free(d);
	return rc;
}

/* Rows a selectivity estimate looks at, and the share at or below which
 * a filter counts as selective (2%, the equality planner's bound). */
#define SAMPLE_ROWS 1024
#define FEW_DIVISOR 50

/* The estimate samples one row at a seeded random position in each of
 * about SAMPLE_ROWS equal strata of the physical rows (deleted ones
 * skipped). Random within a stratum, not at its start: evenly spaced rows
 * alias with periodic data (at 1,000,000 rows every 976th row is even, so
 * "i % 2 = 1" sampled as 0% and a 50% filter was searched exactly, 150 ms
 * instead of 4). */
int tv_table__filter_sample(tv_table *t, const tv_filter *filter, uint64_t *seen,
                            uint64_t *hits, tv_err *err)
{
	uint64_t physical = 0, step, base = 0, s = 0x9e3779b97f4a7c15ull;
	size_t fi = 0;
	int rc;
	*seen = *hits = 0;
	for (size_t i = 0; i < t->nfrags; i++)
		physical += t->frags[i].rows;
	step = TV_MAX(1, physical / SAMPLE_ROWS);
	for (uint64_t stratum = 0; stratum < physical; stratum += step) {
		uint64_t pos, r;
		tv_row_view rv;
		s ^= s << 13, s ^= s >> 7, s ^= s << 17; /* xorshift64 */
		if ((pos = stratum + s % step) >= physical)
			break;
		while (pos >= base + t->frags[fi].rows)
			base += t->frags[fi++].rows;
		r = pos - base;
		if (tv_table__is_deleted(&t->frags[fi], r))
			continue;
		if ((rc = tv_table__filter_cols(t, &t->frags[fi], filter, err)))
			return rc;
		tv_table__view(&t->frags[fi], r, &rv);
		(*seen)++;
		*hits += tv_filter_matches(filter, &rv);
	}
	return 0;
}

/* Whether filter keeps at most a few percent of the rows. For filters the
 * equality indexes cannot count: a search for such a filter is exact
 * (recall 1.0) rather than an index search that would have to probe
 * nearly every partition to find k matches. */
static int selective(tv_table *t, const tv_filter *filter, bool *few, tv_err *err)
{
	uint64_t seen, hits;
	int rc = tv_table__filter_sample(t, filter, &seen, &hits, err);
	*few = !rc && seen > 0 && hits * FEW_DIVISOR <= seen;
	return rc;
}

int tv_table_search(tv_table *t, const float *q, tv_metric metric, size_t k,
                    const tv_filter *filter, const tv_table_search_opts *o, uint64_t **addrs,
                    float **dists, size_t *n, tv_err *err)
{
	static const tv_table_search_opts automatic = {false, 0, 0};
	tv_table_search_opts exact;
	tv_filter_eq eq;
	tv_topk top;
	bool used = false, few;
	int rc = 0;
	*addrs = NULL;
	*dists = NULL;
	*n = 0;
	if (!o)
		o = &automatic;
	/* prefilter planning: an equality filter is sized by its equality
	 * indexes (vindex.c); any other is searched exactly in a table of up
	 * to TV_FILTER_EXACT_TABLE rows, else estimated here, and one
	 * keeping a few percent of the rows or less is searched exactly */
	if (filter && !o->exact && t->live >= TV_INDEX_MIN_ROWS && !tv_filter_equality(filter, &eq)) {
		if (t->live <= TV_FILTER_EXACT_TABLE)
			few = true; /* a scan of the whole table is cheap: exact */
		else if ((rc = selective(t, filter, &few, err)))
			return rc;
		if (few) {
			exact = *o;
			exact.exact = true;
			o = &exact;
		}
	}
	if (tv_topk_init(&top, k))
		return TV_ENOMEM_SET(err, "search");
	if (!o->exact)
		rc = tv_table__index_search(t, q, metric, k, filter, o, &top, &used, err);
	if (!rc)
		rc = search_rest(t, q, metric, filter, used, &top, err);
	if (!rc && used && filter && top.n < k) {
		/* the probed partitions held fewer than k matching rows: a
		 * filter this selective gets an exact answer */
		top.n = 0;
		rc = search_rest(t, q, metric, filter, false, &top, err);
	}
	if (!rc) {
		tv_topk_sort(&top);
		*addrs = top.id;
		*dists = top.dist;
		*n = top.n;
		return 0;
	}
	tv_topk_free(&top);
	return rc;
}

/* The view of row off: from the fragment's string columns where a filter
 * or an earlier scan loaded them; the others are read for this row only
 * (into t->rowstr, kept until the next row), so returning k results does
 * not copy whole text columns (at 200,000 rows of 2 KB texts, a fresh
 * process's first query took 1.2 s and 475 MB doing that). */
static int row_view(tv_table *t, tv_frag *f, uint64_t off, tv_row_view *v, tv_err *err)
{
	const char **ptr[TV_COL_VEC] = {&v->id, &v->text, &v->path, &v->metadata};
	size_t *len[TV_COL_VEC] = {&v->id_len, &v->text_len, &v->path_len, &v->metadata_len};
	tv_table__view(f, off, v);
	for (int c = 0; c < TV_COL_VEC; c++) {
		tv_datafile *df;
		tv_strcol *s = &t->rowstr[c];
		int rc;
		if (f->loaded[c] || f->file[c] < 0)
			continue;
		tv_strcol_free(s);
		if ((rc = tv_table__datafile(t, f, f->file[c], &df, err)) ||
		    (rc = tv_datafile_read_strings(df, f->col[c], off, 1, s, err)))
			return rc;
		if (!s->valid || s->valid[0]) {
			*ptr[c] = s->data + s->offsets[0];
			*len[c] = (size_t)(s->offsets[1] - s->offsets[0]);
		}
	}
	return 0;
}

int tv_table_row_at(tv_table *t, uint64_t addr, tv_table_row *row, tv_err *err)
{
	size_t fi = (size_t)(addr >> 32);
	uint64_t off = addr & 0xFFFFFFFFu;
	tv_frag *f;
	tv_datafile *df = NULL;
	float *own = NULL;
	int rc;
	if (fi >= t->nfrags || off >= t->frags[fi].rows)
		return tv_err_set(err, TV_EINVAL, "row address out of range");
	f = &t->frags[fi];
	if ((rc = row_view(t, f, off, &row->v, err)) ||
	    (rc = tv_table__datafile(t, f, f->file[TV_COL_VEC], &df, err)) ||
	    (rc = tv_datafile_read_vectors(df, f->col[TV_COL_VEC], off, 1, t->dim, &row->vector, &own,
	                                   NULL, err)))
		return rc;
	if (own) {
		/* a copy (file not mapped): keep it on the table until the next row */
		float *b = realloc(t->rowbuf, t->dim * sizeof *b);
		if (!b) {
			free(own);
			return TV_ENOMEM_SET(err, "row");
		}
		memcpy(b, own, t->dim * sizeof *b);
		free(own);
		t->rowbuf = b;
		row->vector = b;
	}
	row->addr = addr;
	return 0;
}

/* Live rows of fragment fi passing filter, through its equality index
 * when the filter allows (an equality that is the whole filter is then
 * counted off the index's lists: no row is evaluated). */
static int count_frag(tv_table *t, size_t fi, const tv_filter *filter, uint64_t *out,
                      tv_err *err);

int tv_table_count(tv_table *t, const tv_filter *filter, uint64_t *out, tv_err *err)
{
	int rc;
	*out = 0;
	if (!filter) {
		*out = t->live;
		return 0;
	}
	for (size_t fi = 0; fi < t->nfrags; fi++)
		if ((rc = count_frag(t, fi, filter, out, err)))
			return rc;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The live rows of fragment fi that an equality index lists for eq's
 * values, in offset order (caller frees *rows). *x NULL when the fragment
 * has no usable index for eq (then nothing is allocated). */
static int listed_rows(tv_table *t, tv_frag *f, const tv_filter_eq *eq, uint32_t **rows,
                       size_t *n, bool *usable, tv_err *err)
{
	const uint32_t *lists[TV_FILTER_EQ_MAX];
	size_t counts[TV_FILTER_EQ_MAX], total, k = 0;
	tv_eqidx *x;
	uint32_t *v;
	(void)t;
	*rows = NULL;
	*n = 0;
	*usable = false;
	if (tv_eqidx_get(f, eq, &x))
		return TV_ENOMEM_SET(err, "filter index");
	if (!x)
		return 0;
	*usable = true;
	total = tv_eqidx_rows(x, eq, lists, counts);
	if (!total)
		return 0;
	if (!(v = tv_mallocarray(total, sizeof *v)))
		return TV_ENOMEM_SET(err, "filter index");
	for (size_t i = 0; i < eq->n; i++)
		for (size_t j = 0; j < counts[i]; j++)
			if (!tv_table__is_deleted(f, lists[i][j]))
				v[k++] = lists[i][j];
	/* each list is ascending; several values' lists are merged by a sort
	 * (the values are distinct, so no row is listed twice) */
	if (eq->n > 1)
		qsort(v, k, sizeof *v, cmp_u32);
	*rows = v;
	*n = k;
	return 0;
}

/* Appends to v[*k..cap) the live rows of fragment fi passing filter, in
 * offset order, through the fragment's equality index when the filter
 * pins a column to a list of values. */
static int scan_frag(tv_table *t, size_t fi, const tv_filter *filter, uint64_t *v, size_t *k,
                     size_t cap, tv_err *err)
{
	tv_frag *f = &t->frags[fi];
	tv_filter_eq eq;
	int rc;
	if (filter && (rc = tv_table__filter_cols(t, f, filter, err)))
		return rc;
	if (filter && tv_filter_equality(filter, &eq)) {
		uint32_t *rows;
		size_t n;
		bool usable;
		if ((rc = listed_rows(t, f, &eq, &rows, &n, &usable, err)))
			return rc;
		if (usable) { /* visiting only the listed rows beats evaluating the filter on all */
			for (size_t i = 0; i < n && *k < cap; i++) {
				tv_row_view rv;
				if (!eq.whole) {
					tv_table__view(f, rows[i], &rv);
					if (!tv_filter_matches(filter, &rv))
						continue;
				}
				v[(*k)++] = ((uint64_t)fi << 32) | rows[i];
			}
			free(rows);
			return 0;
		}
	}
	for (uint64_t r = 0; r < f->rows && *k < cap; r++) {
		tv_row_view rv;
		if (tv_table__is_deleted(f, r))
			continue;
		if (filter) {
			tv_table__view(f, r, &rv);
			if (!tv_filter_matches(filter, &rv))
				continue;
		}
		v[(*k)++] = ((uint64_t)fi << 32) | r;
	}
	return 0;
}

static int count_frag(tv_table *t, size_t fi, const tv_filter *filter, uint64_t *out,
                      tv_err *err)
{
	tv_frag *f = &t->frags[fi];
	tv_filter_eq eq;
	int rc;
	if ((rc = tv_table__filter_cols(t, f, filter, err)))
		return rc;
	if (tv_filter_equality(filter, &eq)) {
		uint32_t *rows;
		size_t n;
		bool usable;
		if ((rc = listed_rows(t, f, &eq, &rows, &n, &usable, err)))
			return rc;
		if (usable) {
			for (size_t i = 0; i < n; i++) {
				tv_row_view rv;
				if (!eq.whole) {
					tv_table__view(f, rows[i], &rv);
					if (!tv_filter_matches(filter, &rv))
						continue;
				}
				(*out)++;
			}
			free(rows);
			return 0;
		}
	}
	for (uint64_t r = 0; r < f->rows; r++) {
		tv_row_view v;
		if (tv_table__is_deleted(f, r))
			continue;
		tv_table__view(f, r, &v);
		*out += tv_filter_matches(filter, &v);
	}
	return 0;
}

int tv_table_scan(tv_table *t, const tv_filter *filter, size_t limit, uint64_t **addrs,
                  size_t *n, tv_err *err)
{
	size_t cap = limit && limit < t->live ? limit : (size_t)t->live, k = 0;
	uint64_t *v = calloc(cap ? cap : 1, sizeof *v);
	int rc = 0;
	*addrs = NULL;
	*n = 0;
	if (!v)
		return TV_ENOMEM_SET(err, "scan");
	for (size_t fi = 0; !rc && fi < t->nfrags && k < cap; fi++)
		rc = scan_frag(t, fi, filter, v, &k, cap, err);
	if (rc) {
		free(v);
		return rc;
	}
	*addrs = v;
	*n = k;
	return 0;
}

int tv_table_rows_prepare(tv_table *t, const uint64_t *addrs, size_t n, tv_err *err)
{
	size_t *hits = calloc(t->nfrags ? t->nfrags : 1, sizeof *hits);
	int rc = 0;
	if (!hits)
		return TV_ENOMEM_SET(err, "rows");
	for (size_t i = 0; i < n; i++)
		if ((addrs[i] >> 32) < t->nfrags)
			hits[addrs[i] >> 32]++;
	for (size_t fi = 0; fi < t->nfrags && !rc; fi++)
		if (hits[fi] && hits[fi] * 16 >= t->frags[fi].rows)
			for (int c = 0; c < TV_COL_VEC && !rc; c++)
				rc = tv_table__strings(t, &t->frags[fi], c, err);
	free(hits);
	return rc;
}

int tv_table_versions(tv_io *io, const char *dir, uint64_t **v, size_t *n, tv_err *err)
{
	tv_naming naming;
	return tv_manifest_versions(io, dir, v, n, &naming, err);
}

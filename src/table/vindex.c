/*
 * The table's vector index: our IVF_PQ files beside the Lance table, in
 * "<table>.lance/_teavec/ivfpq-<version, 20 digits>-<build time, 16 hex
 * digits of ns>.idx", a directory LanceDB neither reads nor cleans up.
 * Names sort like (version, build time), so strcmp orders them.
 *
 * An index lists the fragments it covers (id and physical rows) and
 * stores row addresses (fragment id << 32 | offset), which never change
 * meaning: Lance never reuses a fragment id nor rewrites a data file. So
 * any index is valid for any version of the table: a reader uses the
 * newest index not newer than its version (else the oldest), trusts it
 * for the fragments it still has with the same row count, and searches
 * every other fragment (fresh commits, LanceDB's appends, compactions)
 * exactly. Deleted rows are encoded but refused at search time by the
 * version's deletion files, so older versions see them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table/table_int.h"

#define IX_DIR "_teavec"
#define IX_REFINE 20 /* candidates re-ranked exactly: 20 x k */

/* The version in an index file name, or false when it is not one. */
static bool parse_name(const char *name, uint64_t *version)
{
	unsigned long long v, r;
	int end = 0;
	if (strlen(name) != 6 + 20 + 1 + 16 + 4 || strncmp(name, "ivfpq-", 6) ||
	    sscanf(name, "ivfpq-%20llu-%16llx.idx%n", &v, &r, &end) != 2 || end != (int)strlen(name))
		return false;
	*version = v;
	return true;
}

void tv_table__index_free(tv_table *t)
{
	tv_ivfpq_close(t->ix);
	free(t->ix_name);
	t->ix = NULL;
	t->ix_name = NULL;
	t->ix_version = 0;
	tv_err_clear(&t->ix_err);
	for (size_t i = 0; i < t->nfrags; i++)
		t->frags[i].indexed = false;
}

long tv_table__frag_pos(const tv_table *t, uint64_t id)
{
	size_t lo = 0, hi = t->nfrags;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (t->frags[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->nfrags && t->frags[lo].id == id ? (long)lo : -1;
}

static void mark_covered(tv_table *t)
{
	for (size_t i = 0; i < t->nfrags; i++) {
		tv_frag *f = &t->frags[i];
		long p = t->ix ? tv_ivfpq_find_frag(t->ix, f->id) : -1;
		f->indexed = p >= 0 && t->ix->frags[2 * p + 1] == f->rows &&
		             t->ix->dim == t->dim;
	}
}

/* The index file this version should use: the newest not newer than it,
 * else the oldest. *best is NULL when there is none. */
static int choose(tv_table *t, char **best, tv_err *err)
{
	tv_io_entry *e = NULL;
	size_t n = 0, below = SIZE_MAX, above = SIZE_MAX;
	uint64_t v;
	char *dir = tv_sprintf("%s/" IX_DIR, t->dir);
	int rc;
	*best = NULL;
	if (!dir)
		return TV_ENOMEM_SET(err, "index");
	rc = tv_io_list(t->io, dir, &e, &n, err);
	free(dir);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (e[i].is_dir || !parse_name(e[i].name, &v))
			continue;
		if (v <= t->version && (below == SIZE_MAX || strcmp(e[i].name, e[below].name) > 0))
			below = i;
		else if (v > t->version && (above == SIZE_MAX || strcmp(e[i].name, e[above].name) < 0))
			above = i;
	}
	if (below != SIZE_MAX || above != SIZE_MAX)
		*best = tv_strdup(e[below != SIZE_MAX ? below : above].name);
	tv_io_entries_free(e, n);
	return 0;
}

int tv_table__index_attach(tv_table *t, tv_err *err)
{
	char *best = NULL, *path;
	tv_ivfpq *ix = NULL;
	int rc, tries = 0;
	if (t->ix_version == t->version)
		return 0;
retry:
	if ((rc = choose(t, &best, err)))
		return rc;
	if (best && t->ix_name && !strcmp(best, t->ix_name)) {
		free(best); /* the same file: only the fragments changed */
	} else {
		tv_table__index_free(t);
		if (best) {
			if (!(path = tv_sprintf("%s/" IX_DIR "/%s", t->dir, best))) {
				free(best);
				return TV_ENOMEM_SET(err, "index");
			}
			rc = tv_ivfpq_open(&ix, t->io, path, &t->ix_err);
			free(path);
			if (rc == TV_ENOTFOUND && tries++ < 3) { /* replaced meanwhile: look again */
				tv_err_clear(&t->ix_err);
				free(best);
				goto retry;
			} else if (rc == TV_ENOTFOUND) {
				tv_err_clear(&t->ix_err);
				free(best);
				best = NULL;
			} else if (rc && rc != TV_ECORRUPT) {
				free(best);
				return tv_err_copy(err, &t->ix_err);
			}
		}
		t->ix = ix;
		t->ix_name = best;
	}
	mark_covered(t);
	t->ix_version = t->version;
	return 0;
}

/* ---- search ------------------------------------------------------------ */

typedef struct accept_ctx {
	tv_table *t;
	const tv_filter *filter;
	uint64_t fid;
	long fi;
} accept_ctx;

/* An index entry is a result candidate when its fragment is in this
 * version and covered, its row is live and passes the filter. */
static bool accept(void *vc, uint64_t addr)
{
	accept_ctx *c = vc;
	uint64_t fid = addr >> 32, off = addr & 0xffffffffu;
	tv_frag *f;
	if (fid != c->fid) {
		c->fid = fid;
		c->fi = tv_table__frag_pos(c->t, fid);
	}
	if (c->fi < 0)
		return false;
	f = &c->t->frags[c->fi];
	if (!f->indexed || off >= f->rows || tv_table__is_deleted(f, off))
		return false;
	if (c->filter) {
		tv_row_view rv;
		tv_table__view(f, off, &rv);
		return tv_filter_matches(c->filter, &rv);
	}
	return true;
}

/* Whether an equality filter selects few enough rows (<= 2%, or at most
 * TV_FILTER_EXACT_ROWS) that an exact search of just those rows beats probing the
 * index (which probes 1/f as many partitions for a filter keeping a
 * fraction f: at 1M x 128, 1% exact took 7 ms, 10% exact 50 ms against
 * 2 ms through the index). */
static int few_rows(tv_table *t, const tv_filter *filter, const tv_filter_eq *eq, bool *few,
                    tv_err *err)
{
	const uint32_t *lists[TV_FILTER_EQ_MAX];
	size_t counts[TV_FILTER_EQ_MAX];
	uint64_t total = 0;
	int rc;
	*few = t->live <= TV_FILTER_EXACT_TABLE; /* any filter in a small table */
	for (size_t i = 0; i < t->nfrags && !*few; i++) {
		tv_eqidx *x;
		if ((rc = tv_table__filter_cols(t, &t->frags[i], filter, err)))
			return rc;
		if (tv_eqidx_get(&t->frags[i], eq, &x))
			return TV_ENOMEM_SET(err, "filter index");
		if (!x)
			return 0;
		total += tv_eqidx_rows(x, eq, lists, counts);
	}
	*few = *few || total * 50 <= t->live || total <= TV_FILTER_EXACT_ROWS;
	return 0;
}

/* False for an index that only records coverage: training found the
 * data without cluster structure (see tv_ivfpq_builder_useful). */
static bool codes(const tv_ivfpq *ix) { return !ix->nprobes || ix->nprobes * 2 <= ix->nlist; }

/* Partitions probed by default: what training calibrated on its sample
 * (99% of the sample's nearest neighbours reached), else about 1/12. */
static size_t auto_nprobes(const tv_ivfpq *ix)
{
	if (ix->nprobes)
		return TV_MIN(ix->nlist, ix->nprobes);
	return TV_MIN(ix->nlist, TV_MAX(8, (ix->nlist + 11) / 12));
}

static int rerank(tv_table *t, const float *q, tv_metric metric, const tv_topk *cand,
                  tv_topk *top, tv_err *err)
{
	for (size_t i = 0; i < cand->n; i++) {
		long fi = tv_table__frag_pos(t, cand->id[i] >> 32);
		uint64_t off = cand->id[i] & 0xffffffffu;
		tv_frag *f = &t->frags[fi];
		tv_datafile *df;
		const float *v;
		float *own = NULL;
		int rc;
		if ((rc = tv_table__datafile(t, f, f->file[TV_COL_VEC], &df, err)) ||
		    (rc = tv_datafile_read_vectors(df, f->col[TV_COL_VEC], off, 1, t->dim, &v, &own,
		                                   NULL, err)))
			return rc;
		tv_topk_push(top, tv_distance(metric, q, v, t->dim), ((uint64_t)fi << 32) | off);
		free(own);
	}
	return 0;
}

int tv_table__index_search(tv_table *t, const float *q, tv_metric metric, size_t k,
                           const tv_filter *filter, const tv_table_search_opts *o,
                           tv_topk *top, bool *used, tv_err *err)
{
	accept_ctx ac = {t, filter, UINT64_MAX, -1};
	tv_filter_eq eq;
	tv_topk cand;
	size_t refine, nprobes;
	bool few;
	int rc;
	*used = false;
	if (t->live < TV_INDEX_MIN_ROWS || (rc = tv_table__index_attach(t, err)))
		return t->live < TV_INDEX_MIN_ROWS ? 0 : rc;
	if (t->ix_err.code)
		return tv_err_copy(err, &t->ix_err);
	if (!t->ix || t->ix->dim != t->dim || !codes(t->ix))
		return 0; /* none, one of an older dimension, or one without codes: exact */
	if (t->ix->metric != metric)
		return tv_err_set(err, TV_EINVAL,
		                  "%s: the vector index was built for %s distance but the query asks "
		                  "for %s; query exactly, or rebuild the index for %s (teavec "
		                  "optimize --reindex)",
		                  t->dir, tv_metric_name(t->ix->metric), tv_metric_name(metric),
		                  tv_metric_name(metric));
	if (filter && tv_filter_equality(filter, &eq)) {
		if ((rc = few_rows(t, filter, &eq, &few, err)))
			return rc;
		if (few)
			return 0;
	}
	for (size_t i = 0; filter && i < t->nfrags; i++)
		if (t->frags[i].indexed && (rc = tv_table__filter_cols(t, &t->frags[i], filter, err)))
			return rc;
	refine = o->refine_factor > 0 ? (size_t)o->refine_factor : IX_REFINE;
	if (k >= t->live / TV_MIN(refine, t->live))
		return 0; /* wants about every row anyway */
	nprobes = o->nprobes > 0 ? (size_t)o->nprobes : auto_nprobes(t->ix);
	if (o->nprobes <= 0 && nprobes * 2 > t->ix->nlist)
		return 0; /* data the partitions do not separate: exact is as fast */
	if (tv_topk_init(&cand, k > SIZE_MAX / refine ? SIZE_MAX / 2 : TV_MAX(k * refine, k)))
		return TV_ENOMEM_SET(err, "search");
	if (!(rc = tv_ivfpq_search(t->ix, q, nprobes, filter != NULL, &cand, accept, &ac, err)))
		rc = rerank(t, q, metric, &cand, top, err);
	tv_topk_free(&cand);
	*used = rc == 0;
	return rc;
}

/* ---- building ------------------------------------------------------------ */

static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int read_vec(tv_table *t, uint64_t addr, float *dst, tv_err *err)
{
	tv_frag *f = &t->frags[addr >> 32];
	tv_datafile *df;
	const float *v;
	float *own = NULL;
	int rc;
	if ((rc = tv_table__datafile(t, f, f->file[TV_COL_VEC], &df, err)) ||
	    (rc = tv_datafile_read_vectors(df, f->col[TV_COL_VEC], addr & 0xffffffffu, 1, t->dim,
	                                   &v, &own, NULL, err)))
		return rc;
	memcpy(dst, v, t->dim * sizeof *dst);
	free(own);
	return 0;
}

/* A seeded uniform sample of n live rows' vectors (n x dim, caller frees)
 * in storage order. */
static int sample(tv_table *t, size_t n, uint64_t seed, float **out, tv_err *err)
{
	uint64_t *a = tv_mallocarray(t->live ? t->live : 1, sizeof *a), s = seed + 0x51;
	size_t na = 0;
	float *x = NULL;
	int rc = 0;
	*out = NULL;
	if (!a)
		return TV_ENOMEM_SET(err, "index sample");
	for (size_t fi = 0; fi < t->nfrags; fi++)
		for (uint64_t r = 0; r < t->frags[fi].rows && na < t->live; r++)
			if (!tv_table__is_deleted(&t->frags[fi], r))
				a[na++] = ((uint64_t)fi << 32) | r;
	n = TV_MIN(n, na);
	for (size_t i = 0; i < n; i++) {
		size_t j = i + (size_t)(mix(&s) % (na - i));
		uint64_t tmp = a[i];
		a[i] = a[j];
		a[j] = tmp;
	}
	qsort(a, n, sizeof *a, cmp_u64); /* storage order reads */
	if (!(x = tv_mallocarray(n ? n : 1, t->dim * sizeof *x)))
		rc = TV_ENOMEM_SET(err, "index sample");
	for (size_t i = 0; !rc && i < n; i++)
		rc = read_vec(t, a[i], x + i * t->dim, err);
	free(a);
	if (rc)
		free(x);
	else
		*out = x;
	return rc;
}

/* Encodes every row of fragment fi (deleted ones too: older versions see
 * them) and declares it covered. */
static int add_frag(tv_table *t, tv_ivfpq_builder *b, size_t fi, tv_err *err)
{
	tv_frag *f = &t->frags[fi];
	uint64_t step = tv_table__chunk_rows(t->dim), *addrs;
	tv_datafile *df;
	int rc;
	if ((rc = tv_table__datafile(t, f, f->file[TV_COL_VEC], &df, err)))
		return rc;
	if (!(addrs = tv_mallocarray(step, sizeof *addrs)))
		return TV_ENOMEM_SET(err, "index");
	for (uint64_t r0 = 0; r0 < f->rows && !rc; r0 += step) {
		uint64_t n = TV_MIN(step, f->rows - r0);
		const float *v;
		float *own = NULL;
		if ((rc = tv_datafile_read_vectors(df, f->col[TV_COL_VEC], r0, n, t->dim, &v, &own,
		                                   NULL, err)))
			break;
		for (uint64_t i = 0; i < n; i++)
			addrs[i] = (f->id << 32) | (r0 + i);
		rc = tv_ivfpq_builder_add(b, v, n, addrs, err);
		free(own);
	}
	free(addrs);
	return rc;
}

static bool keep_indexed(void *ctx, uint64_t fid)
{
	tv_table *t = ctx;
	long p = tv_table__frag_pos(t, fid);
	return p >= 0 && t->frags[p].indexed;
}

static bool is_index_name(const char *name)
{
	uint64_t v;
	return parse_name(name, &v);
}

void tv_table__sidecar_remove_older(tv_table *t, bool (*ours)(const char *name),
                                    const char *name, bool inclusive)
{
	tv_io_entry *e = NULL;
	size_t n = 0;
	tv_err ignore;
	char *dir = tv_sprintf("%s/" IX_DIR, t->dir), *p;
	if (!dir || tv_io_list(t->io, dir, &e, &n, &ignore)) {
		free(dir);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int c = strcmp(e[i].name, name);
		if (!e[i].is_dir && ours(e[i].name) && (c < 0 || (inclusive && c == 0)) &&
		    (p = tv_sprintf("%s/%s", dir, e[i].name))) {
			tv_io_remove(t->io, p, &ignore);
			free(p);
		}
	}
	tv_io_entries_free(e, n);
	free(dir);
}

/* Writes b as this version's index and makes it the table's. */
static int install(tv_table *t, tv_ivfpq_builder *b, tv_err *err)
{
	char *name, *path, *prev = NULL;
	tv_ivfpq *ix;
	int rc;
	if (!(name = tv_sprintf("ivfpq-%020" PRIu64 "-%016" PRIx64 ".idx", t->version,
	                        (uint64_t)tv_time_ns())) ||
	    !(path = tv_sprintf("%s/" IX_DIR "/%s", t->dir, name))) {
		free(name);
		return TV_ENOMEM_SET(err, "index");
	}
	if (!(rc = tv_ivfpq_builder_write(b, t->io, path, t->version, err)) &&
	    !(rc = tv_ivfpq_open(&ix, t->io, path, err))) {
		prev = t->ix_name;
		t->ix_name = NULL;
		tv_table__index_free(t);
		t->ix = ix;
		t->ix_name = name;
		name = NULL;
		mark_covered(t);
		t->ix_version = t->version;
		if (prev && strcmp(prev, t->ix_name) < 0)
			/* the file this build replaced and every older one (a process
			 * that has one open keeps reading it; one that lists and opens
			 * it meanwhile looks again); newer ones, of a concurrent build,
			 * stay */
			tv_table__sidecar_remove_older(t, is_index_name, prev, true);
		free(prev);
	}
	free(name);
	free(path);
	return rc;
}

static int build(tv_table *t, tv_metric metric, const tv_ivfpq_params *params, tv_err *err)
{
	tv_ivfpq_params p = params ? *params : (tv_ivfpq_params){0};
	tv_ivfpq_builder *b = NULL;
	float *x = NULL;
	double t0 = tv_trace(NULL, 0);
	int rc;
	tv_ivfpq_defaults(&p, t->live, t->dim);
	if ((rc = sample(t, p.sample, p.seed, &x, err)))
		goto done;
	t0 = tv_trace("index: sample", t0);
	/* the sample is the training's working memory: no second copy */
	if ((rc = tv_ivfpq_train_inplace(&b, x, TV_MIN(p.sample, t->live), t->dim, metric, &p,
	                                 t->live, err)))
		goto done;
	t0 = tv_trace("index: training", t0);
	for (size_t fi = 0; fi < t->nfrags && !rc; fi++)
		if (!(rc = add_frag(t, b, fi, err)))
			rc = tv_ivfpq_builder_cover(b, t->frags[fi].id, t->frags[fi].rows, err);
	t0 = tv_trace("index: encoding", t0);
	if (!rc && !(rc = tv_ivfpq_builder_calibrate(b, IX_REFINE * 10, err))) {
		char what[96];
		snprintf(what, sizeof what, "index: recall calibration (%u probes, recall@10 %.3f)",
		         tv_ivfpq_builder_probes(b), tv_ivfpq_builder_recall(b));
		t0 = tv_trace(what, t0);
	}
	if (!rc)
		rc = install(t, b, err);
	tv_trace("index: writing", t0);
done:
	free(x);
	tv_ivfpq_builder_free(b);
	return rc;
}

static int fold(tv_table *t, tv_err *err)
{
	tv_ivfpq_builder *b = NULL;
	int rc;
	if ((rc = tv_ivfpq_builder_from(&b, t->ix, err)) ||
	    (rc = tv_ivfpq_builder_copy(b, t->ix, keep_indexed, t, err)))
		goto done;
	for (size_t fi = 0; fi < t->nfrags && !rc; fi++) {
		if (!t->frags[fi].indexed)
			rc = add_frag(t, b, fi, err);
		if (!rc)
			rc = tv_ivfpq_builder_cover(b, t->frags[fi].id, t->frags[fi].rows, err);
	}
	if (!rc)
		rc = install(t, b, err);
done:
	tv_ivfpq_builder_free(b);
	return rc;
}

static uint64_t live_rows(const tv_frag *f)
{
	return f->rows - (f->deleted ? roaring_bitmap_get_cardinality(f->deleted) : 0);
}

int tv_table_index_update(tv_table *t, tv_metric metric, const tv_ivfpq_params *params,
                          int mode, int *did, tv_err *err)
{
	uint64_t covered = 0, uncovered;
	bool usable, retrain;
	int rc;
	if (did)
		*did = TV_INDEX_NONE;
	if (t->live < TV_INDEX_MIN_ROWS && mode != TV_INDEX_REBUILD)
		return 0;
	if (t->live == 0)
		return 0;
	if ((rc = tv_table__index_attach(t, err)))
		return rc;
	usable = t->ix && !t->ix_err.code && t->ix->dim == t->dim && t->ix->metric == metric;
	if (mode == TV_INDEX_AUTO && t->ix && !t->ix_err.code && t->ix->dim == t->dim &&
	    t->ix->metric != metric)
		return 0; /* never switch metric behind the user's back */
	for (size_t i = 0; usable && i < t->nfrags; i++)
		if (t->frags[i].indexed)
			covered += live_rows(&t->frags[i]);
	uncovered = t->live - TV_MIN(covered, t->live);
	retrain = !usable || mode == TV_INDEX_REBUILD || t->live >= 4 * t->ix->trained_rows ||
	          covered * 2 < t->live;
	if (!retrain && (uncovered == 0 ||
	                 (mode == TV_INDEX_AUTO && uncovered < TV_MAX(TV_INDEX_MIN_ROWS, covered / 16))))
		return 0;
	rc = retrain ? build(t, metric, params, err) : fold(t, err);
	if (!rc && did)
		*did = retrain ? TV_INDEX_BUILT : TV_INDEX_FOLDED;
	return rc;
}

int tv_table_index_stat(tv_table *t, tv_table_index_info *info, tv_err *err)
{
	int rc;
	memset(info, 0, sizeof *info);
	if ((rc = tv_table__index_attach(t, err)))
		return rc;
	if (t->ix_err.code)
		return tv_err_copy(err, &t->ix_err);
	if (!t->ix || t->ix->dim != t->dim) {
		info->unindexed_rows = t->live;
		return 0;
	}
	info->present = true;
	info->metric = t->ix->metric;
	info->nlist = t->ix->nlist;
	info->m = t->ix->m;
	info->nprobes = t->ix->nprobes;
	info->codes = codes(t->ix);
	info->entries = t->ix->nentries;
	info->trained_rows = t->ix->trained_rows;
	info->built_version = t->ix->table_version;
	info->bytes = t->ix->rf ? t->ix->rf->size : 0;
	snprintf(info->file, sizeof info->file, "%s", t->ix_name);
	for (size_t i = 0; i < t->nfrags; i++)
		if (t->frags[i].indexed)
			info->indexed_rows += live_rows(&t->frags[i]);
	info->unindexed_rows = t->live - TV_MIN(info->indexed_rows, t->live);
	return 0;
}

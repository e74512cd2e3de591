/*
 * The public VectorStore API: argument validation shared by every backend,
 * the store factory, and result helpers. Validation happens here, once and
 * before anything changes, so a bad batch is rejected whole and a backend
 * sees only clean input (see store.h).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "store/store.h"
#include "util/common.h"
#include "util/json_check.h"
#include "util/parallel.h"
#include "util/strmap.h"

#define TV_ID_MAX 1024
#define TV_DIM_MAX 65536
#define TV_K_MAX 100000

/* ---- factory -------------------------------------------------------- */

int tv_store_open(tv_store **out, const char *type, const char *settings)
{
	json_t *js = NULL;
	json_error_t jerr;
	int rc;
	*out = NULL;
	if (settings && *settings) {
		js = json_loads(settings, 0, &jerr);
		if (!js || !json_is_object(js)) {
			json_decref(js);
			return tv_err_set(NULL, TV_EINVAL,
			                  "store settings: expected a JSON object (%s at line %d column %d)",
			                  js ? "not an object" : jerr.text, jerr.line, jerr.column);
		}
	}
	if (!type || !strcmp(type, "memory")) {
		rc = tv_store_memory_new(out, js, NULL);
	} else if (!strcmp(type, "lancedb")) {
#if TV_WITH_LANCEDB
		rc = tv_store_lancedb_new(out, js, NULL);
#else
		rc = tv_err_set(NULL, TV_EUNSUPPORTED,
		                "vector_store 'lancedb' is not compiled into this build of teavec: "
		                "rebuild with cmake -DTV_WITH_LANCEDB=ON (needs libprotobuf-c, "
		                "libroaring, libzstd)");
#endif
	} else {
		rc = tv_err_set(NULL, TV_EUNSUPPORTED,
		                "unknown vector_store '%s': expected 'memory' or 'lancedb'", type);
	}
	json_decref(js);
	return rc;
}

void tv_store_close(tv_store *s)
{
	if (s)
		s->m->free(s);
}

const char *tv_store_type(const tv_store *s) { return s->m->type; }

const char *tv_store_errmsg(const tv_store *s) { return s ? s->err.msg : tv_last_errmsg(); }

int tv_collection_name_check(const char *name, tv_err *err)
{
	size_t n = strlen(name);
	if (n == 0 || n > 128)
		return tv_err_set(err, TV_EINVAL, "collection name must be 1..128 characters, got %zu",
		                  n);
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return tv_err_set(err, TV_EINVAL, "collection name '%s' is not allowed", name);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return tv_err_set(err, TV_EINVAL,
			                  "collection name '%.128s': character %zu is not one of "
			                  "A-Z a-z 0-9 _ - .",
			                  name, i + 1);
	}
	return 0;
}

/* ---- add ------------------------------------------------------------ */

static int check_string(tv_err *err, size_t i, const char *field, const char *s, size_t *len,
                        size_t max)
{
	size_t bad;
	*len = strlen(s);
	if (max && *len > max)
		return tv_err_set(err, TV_EINVAL, "rows[%zu].%s: %zu bytes, more than the limit of %zu",
		                  i, field, *len, max);
	if (!tv_utf8_valid(s, *len, &bad))
		return tv_err_set(err, TV_EINVAL, "rows[%zu].%s: invalid UTF-8 at byte %zu", i, field,
		                  bad);
	return 0;
}

static int check_vector(tv_err *err, const char *what, size_t i, const float *v, size_t dim)
{
	uint32_t all = 0;
	if (!v)
		return tv_err_set(err, TV_EINVAL, "%s[%zu]: missing vector", what, i);
	/* A value is NaN or infinite when its exponent bits are all ones. The
	 * branchless pass vectorises (an early-exit isfinite loop did not, and
	 * took 6% of ingest's CPU at 1M x 128); the failing element is looked
	 * for after. */
	const uint32_t *bits = (const uint32_t *)v; /* the build has -fno-strict-aliasing */
	size_t j = 0;
	for (; j + 16 <= dim; j += 16) /* a fixed trip count -O2 vectorises */
		for (size_t k = 0; k < 16; k++)
			all |= (bits[j + k] & 0x7f800000u) + 0x00800000u; /* bit 31: all ones */
	for (; j < dim; j++)
		all |= (bits[j] & 0x7f800000u) + 0x00800000u;
	for (j = 0; (all & 0x80000000u) && j < dim; j++)
		if (!isfinite(v[j]))
			return tv_err_set(err, TV_EINVAL, "%s[%zu].vector[%zu] is %s", what, i, j,
			                  isnan(v[j]) ? "NaN" : "infinite");
	return 0;
}

/* Checks a row. Its metadata is parsed only for backends that keep it
 * parsed (the memory store); for the others a JSON object that is
 * certainly valid is not parsed at all, and anything else is left to
 * jansson to accept or to explain. */
static int check_row(tv_err *err, size_t i, const tv_record *r, size_t dim, bool parse,
                     tv_row *out)
{
	json_error_t jerr;
	const char *meta = r->metadata && *r->metadata ? r->metadata : NULL;
	int rc;
	if (!r->id)
		return tv_err_set(err, TV_EINVAL, "rows[%zu].id: missing", i);
	if ((rc = check_string(err, i, "id", r->id, &out->id_len, TV_ID_MAX)))
		return rc;
	if (out->id_len == 0)
		return tv_err_set(err, TV_EINVAL, "rows[%zu].id: empty", i);
	if (!r->text)
		return tv_err_set(err, TV_EINVAL, "rows[%zu].text: missing", i);
	if ((rc = check_string(err, i, "text", r->text, &out->text_len, 0)))
		return rc;
	out->path_len = 0;
	if (r->path && (rc = check_string(err, i, "path", r->path, &out->path_len, 0)))
		return rc;
	if ((rc = check_vector(err, "rows", i, r->vector, dim)))
		return rc;
	out->id = r->id;
	out->text = r->text;
	out->path = r->path;
	out->vector = r->vector;
	/* validated below; stored as given (re-serialising cost as much as the
	 * parse and changed nothing a reader can rely on), borrowed */
	out->metadata_text = meta ? meta : "{}";
	out->metadata = NULL;
	if (!meta) {
		if (parse && !(out->metadata = json_object()))
			return TV_ENOMEM_SET(err, "row metadata");
		return 0;
	}
	if (!parse && tv_json_object_certain(meta, strlen(meta)))
		return 0;
	out->metadata = json_loads(meta, JSON_REJECT_DUPLICATES, &jerr);
	if (!out->metadata)
		return tv_err_set(err, TV_EINVAL, "rows[%zu].metadata: invalid JSON at column %d: %s", i,
		                  jerr.column, jerr.text);
	if (!json_is_object(out->metadata)) {
		json_decref(out->metadata);
		out->metadata = NULL;
		return tv_err_set(err, TV_EINVAL, "rows[%zu].metadata: expected a JSON object", i);
	}
	if (!parse) {
		json_decref(out->metadata);
		out->metadata = NULL;
	}
	return 0;
}

static void rows_free(tv_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(rows[i].metadata);
	free(rows);
}

static const char *row_key(const void *ctx, size_t v, size_t *len)
{
	const tv_row *rows = ctx;
	*len = rows[v].id_len;
	return rows[v].id;
}

/* Keeps, for each id, only its last occurrence (TEA: the last row wins),
 * preserving the order of the kept rows. */
static int dedup_rows(tv_row *rows, size_t *n, tv_err *err)
{
	tv_strmap m;
	size_t w = 0;
	int rc;
	tv_strmap_init(&m, row_key, rows);
	if ((rc = tv_strmap_reserve(&m, *n)))
		return TV_ENOMEM_SET(err, "id map");
	for (size_t i = 0; i < *n; i++)
		tv_strmap_put(&m, rows[i].id, rows[i].id_len, i);
	for (size_t i = 0; i < *n; i++) {
		if (tv_strmap_get(&m, rows[i].id, rows[i].id_len) != i) {
			json_decref(rows[i].metadata);
			continue;
		}
		rows[w++] = rows[i];
	}
	tv_strmap_free(&m);
	*n = w;
	return 0;
}

static const char *coll_or_default(const char *c) { return c && *c ? c : "default"; }

/* Checks rows on both CPUs for big batches (the check reads every byte
 * given: 5-10% of an ingest). The error reported is the first bad row's,
 * as a check in order would report it. */
#define PARALLEL_CHECK_ROWS 4096

typedef struct check_ctx {
	const tv_record *recs;
	size_t dim;
	bool parse;
	tv_row *rows;
	pthread_mutex_t mu;
	size_t bad; /* lowest failing row, n if none */
	tv_err err;
} check_ctx;

static void check_range(void *arg, size_t b, size_t e)
{
	check_ctx *c = arg;
	tv_err err = {0, ""};
	for (size_t i = b; i < e; i++) {
		if (!check_row(&err, i, &c->recs[i], c->dim, c->parse, &c->rows[i]))
			continue;
		pthread_mutex_lock(&c->mu);
		if (i < c->bad) {
			c->bad = i;
			tv_err_copy(&c->err, &err);
		}
		pthread_mutex_unlock(&c->mu);
		return;
	}
}

static int check_rows(tv_store *s, const tv_record *recs, size_t n, size_t dim, tv_row *rows)
{
	check_ctx c = {recs, dim, !s->m->metadata_text_only, rows, PTHREAD_MUTEX_INITIALIZER, n,
	               {0, ""}};
	/* under PARALLEL_CHECK_ROWS rows this runs on the caller alone */
	tv_parallel_for(n, PARALLEL_CHECK_ROWS / 2, check_range, &c);
	pthread_mutex_destroy(&c.mu);
	return c.bad < n ? tv_err_copy(&s->err, &c.err) : 0;
}

/* Validates and deduplicates recs, then calls the backend's add (or
 * overwrite, when overwrite is set). */
static int add_rows(tv_store *s, const char *collection, const tv_record *recs, size_t n,
                    size_t dim, const tv_filter *replace, size_t *deleted, bool overwrite)
{
	tv_row *rows = NULL;
	size_t kept = 0, live = 0; /* rows checked so far; entries to free */
	int rc;
	if (n == 0 && !replace && !overwrite)
		return 0;
	if (n && !recs)
		return tv_err_set(&s->err, TV_EINVAL, "rows: NULL with n = %zu", n);
	if (dim == 0 || dim > TV_DIM_MAX)
		return tv_err_set(&s->err, TV_EINVAL, "dimension must be 1..%d, got %zu", TV_DIM_MAX,
		                  dim);
	if (!(rows = calloc(n ? n : 1, sizeof *rows)))
		return TV_ENOMEM_SET(&s->err, "rows");
	live = n; /* rows is zeroed: a row never checked holds nothing to free */
	if ((rc = check_rows(s, recs, n, dim, rows)))
		goto done;
	kept = n;
	if ((rc = dedup_rows(rows, &kept, &s->err)))
		goto done;
	live = kept;
	rc = overwrite ? s->m->overwrite(s, collection, rows, kept, dim)
	               : s->m->add(s, collection, rows, kept, dim, replace, deleted);
done:
	rows_free(rows, live);
	return rc;
}

int tv_store_add(tv_store *s, const char *collection, const tv_record *recs, size_t n,
                 size_t dim, size_t *stored)
{
	int rc;
	tv_err_clear(&s->err);
	collection = coll_or_default(collection);
	if (stored)
		*stored = 0;
	if ((rc = tv_collection_name_check(collection, &s->err)))
		return rc;
	if (!(rc = add_rows(s, collection, recs, n, dim, NULL, NULL, false)) && stored)
		*stored = n;
	return rc;
}

static int compile_where(tv_store *s, const char *where, const char *dict, tv_filter **out);

int tv_store_replace(tv_store *s, const char *collection, const char *where,
                     const char *filter_json, const tv_record *rows, size_t n, size_t dim,
                     size_t *deleted)
{
	tv_filter *f = NULL;
	int rc;
	tv_err_clear(&s->err);
	collection = coll_or_default(collection);
	if (deleted)
		*deleted = 0;
	if ((rc = tv_collection_name_check(collection, &s->err)) ||
	    (rc = compile_where(s, where, filter_json, &f)))
		return rc;
	if (!f)
		return add_rows(s, collection, rows, n, dim, NULL, NULL, false);
	if (n == 0 && dim == 0)
		dim = 1; /* a pure delete-where: no vectors to check */
	rc = add_rows(s, collection, rows, n, dim, f, deleted, false);
	tv_filter_free(f);
	return rc;
}

int tv_store_overwrite(tv_store *s, const char *collection, const tv_record *rows, size_t n,
                       size_t dim)
{
	int rc;
	tv_err_clear(&s->err);
	collection = coll_or_default(collection);
	if ((rc = tv_collection_name_check(collection, &s->err)))
		return rc;
	return add_rows(s, collection, rows, n, dim, NULL, NULL, true);
}

int tv_store_get(tv_store *s, const char *collection, const char *where,
                 const char *filter_json, size_t limit, int include_embeddings,
                 tv_results **out)
{
	tv_filter *f = NULL;
	tv_results *res;
	int rc;
	tv_err_clear(&s->err);
	*out = NULL;
	collection = coll_or_default(collection);
	if ((rc = tv_collection_name_check(collection, &s->err)) ||
	    (rc = compile_where(s, where, filter_json, &f)))
		return rc;
	if (!(res = calloc(1, sizeof *res))) {
		tv_filter_free(f);
		return TV_ENOMEM_SET(&s->err, "results");
	}
	rc = s->m->scan(s, collection, f, limit, include_embeddings != 0, res);
	tv_filter_free(f);
	if (rc) {
		tv_results_free(res);
		return rc;
	}
	*out = res;
	return 0;
}

/* ---- query ---------------------------------------------------------- */

static int compile_where(tv_store *s, const char *where, const char *dict, tv_filter **out)
{
	tv_filter *a = NULL, *b = NULL;
	int rc;
	*out = NULL;
	if (where && *where && (rc = tv_filter_parse_sql(&a, where, &s->err)))
		return rc;
	if (dict && *dict && (rc = tv_filter_from_dict_json(&b, dict, &s->err))) {
		tv_filter_free(a);
		return rc;
	}
	*out = tv_filter_and(a, b);
	return 0;
}

int tv_store_query(tv_store *s, const tv_query *q, tv_results **out)
{
	tv_search srch;
	tv_filter *filter = NULL;
	tv_results *res;
	int rc;
	*out = NULL;
	tv_err_clear(&s->err);
	if (!q || q->version != TV_QUERY_VERSION)
		return tv_err_set(&s->err, TV_EINVAL, "query: not initialised with TV_QUERY_INIT");
	if (q->k <= 0 || q->k > TV_K_MAX)
		return tv_err_set(&s->err, TV_EINVAL, "query.k must be 1..%d, got %d", TV_K_MAX, q->k);
	if (q->dim == 0 || q->dim > TV_DIM_MAX)
		return tv_err_set(&s->err, TV_EINVAL, "query vector dimension must be 1..%d, got %zu",
		                  TV_DIM_MAX, q->dim);
	if ((rc = check_vector(&s->err, "query", 0, q->vector, q->dim)))
		return rc;
	srch.collection = coll_or_default(q->collection);
	if ((rc = tv_collection_name_check(srch.collection, &s->err)))
		return rc;
	if ((rc = compile_where(s, q->where, q->filter_json, &filter)))
		return rc;
	srch.vector = q->vector;
	srch.dim = q->dim;
	srch.k = (size_t)q->k;
	srch.filter = filter;
	srch.include_embeddings = q->include_embeddings != 0;
	srch.exact = q->exact != 0;
	srch.nprobes = q->nprobes;
	srch.refine_factor = q->refine_factor;
	if (!(res = calloc(1, sizeof *res))) {
		rc = TV_ENOMEM_SET(&s->err, "results");
		goto done;
	}
	if ((rc = s->m->query(s, &srch, res))) {
		tv_results_free(res);
		goto done;
	}
	*out = res;
done:
	tv_filter_free(filter);
	return rc;
}

void tv_results_free(tv_results *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->items[i].id);
		free(r->items[i].text);
		free(r->items[i].path);
		free(r->items[i].metadata);
		free(r->items[i].vector);
	}
	free(r->items);
	free(r);
}

int tv_result_fill(tv_result *r, const char *id, size_t id_len, const char *text,
                   size_t text_len, const char *path, size_t path_len, const char *metadata,
                   size_t metadata_len, const float *vector, size_t dim, bool include,
                   float distance)
{
	memset(r, 0, sizeof *r);
	r->id = tv_strndup(id, id_len);
	r->text = tv_strndup(text ? text : "", text ? text_len : 0);
	r->path = path ? tv_strndup(path, path_len) : NULL;
	r->metadata = metadata ? tv_strndup(metadata, metadata_len) : tv_strdup("{}");
	r->distance = distance;
	r->score = 1.0f - distance;
	if (include) {
		r->vector = tv_mallocarray(dim, sizeof(float));
		if (r->vector)
			memcpy(r->vector, vector, dim * sizeof(float));
	}
	if (!r->id || !r->text || (path && !r->path) || !r->metadata || (include && !r->vector))
		return TV_ENOMEM;
	return 0;
}

/* ---- the rest ------------------------------------------------------- */

int tv_store_delete(tv_store *s, const char *collection, const char *const *ids, size_t n,
                    size_t *deleted)
{
	int rc;
	tv_err_clear(&s->err);
	collection = coll_or_default(collection);
	if (deleted)
		*deleted = 0;
	if ((rc = tv_collection_name_check(collection, &s->err)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		size_t len;
		if (!ids[i])
			return tv_err_set(&s->err, TV_EINVAL, "ids[%zu]: missing", i);
		len = strlen(ids[i]);
		if (len == 0 || len > TV_ID_MAX || !tv_utf8_valid(ids[i], len, NULL))
			return tv_err_set(&s->err, TV_EINVAL,
			                  "ids[%zu]: must be 1..%d bytes of valid UTF-8", i, TV_ID_MAX);
	}
	return n ? s->m->remove(s, collection, ids, n, deleted) : 0;
}

int tv_store_count(tv_store *s, const char *collection, size_t *out)
{
	int rc;
	tv_err_clear(&s->err);
	*out = 0;
	collection = coll_or_default(collection);
	if ((rc = tv_collection_name_check(collection, &s->err)))
		return rc;
	return s->m->count(s, collection, out);
}

int tv_store_count_where(tv_store *s, const char *collection, const char *where,
                         const char *filter_json, size_t *out)
{
	tv_filter *f = NULL;
	int rc;
	tv_err_clear(&s->err);
	*out = 0;
	collection = coll_or_default(collection);
	if ((rc = tv_collection_name_check(collection, &s->err)) ||
	    (rc = compile_where(s, where, filter_json, &f)))
		return rc;
	rc = f ? s->m->count_where(s, collection, f, out) : s->m->count(s, collection, out);
	tv_filter_free(f);
	return rc;
}

/* The rows passing the filter go in one atomic step, the filter evaluated
 * once on the version the commit lands on: tv_store_replace with no rows. */
int tv_store_delete_where(tv_store *s, const char *collection, const char *where,
                          const char *filter_json, size_t *deleted)
{
	tv_err_clear(&s->err);
	if (deleted)
		*deleted = 0;
	if ((!where || !*where) && (!filter_json || !*filter_json))
		return tv_err_set(&s->err, TV_EINVAL,
		                  "delete_where: give a filter (a filter of TRUE deletes every row)");
	return tv_store_replace(s, collection, where, filter_json, NULL, 0, 0, deleted);
}

int tv_store_get_state(tv_store *s, char **json_out)
{
	json_t *st = NULL;
	int rc;
	tv_err_clear(&s->err);
	*json_out = NULL;
	if ((rc = s->m->get_state(s, &st)))
		return rc;
	*json_out = json_dumps(st, JSON_COMPACT | JSON_REAL_PRECISION(17));
	json_decref(st);
	return *json_out ? 0 : TV_ENOMEM_SET(&s->err, "state document");
}

int tv_store_restore_state(tv_store *s, const char *json)
{
	json_error_t jerr;
	json_t *st;
	int rc;
	tv_err_clear(&s->err);
	if (!json)
		return tv_err_set(&s->err, TV_EINVAL, "state: NULL");
	if (!(st = json_loads(json, 0, &jerr)))
		return tv_err_set(&s->err, TV_EINVAL, "state: invalid JSON at line %d column %d: %s",
		                  jerr.line, jerr.column, jerr.text);
	if (!json_is_object(st)) {
		rc = tv_err_set(&s->err, TV_EINVAL, "state: expected a JSON object");
	} else {
		const char *type = json_string_value(json_object_get(st, "type"));
		if (type && strcmp(type, s->m->type))
			rc = tv_err_set(&s->err, TV_EINVAL,
			                "state: of a '%s' store, cannot restore into a '%s' store", type,
			                s->m->type);
		else
			rc = s->m->restore_state(s, st);
	}
	json_decref(st);
	return rc;
}

int tv_store_optimize(tv_store *s, const char *collection)
{
	int rc;
	tv_err_clear(&s->err);
	if (collection && (rc = tv_collection_name_check(collection, &s->err)))
		return rc;
	return s->m->optimize ? s->m->optimize(s, collection) : 0;
}

int tv_store_set_auto_index(tv_store *s, const char *collection, int on)
{
	int rc;
	tv_err_clear(&s->err);
	collection = coll_or_default(collection);
	if ((rc = tv_collection_name_check(collection, &s->err)))
		return rc;
	return s->m->set_auto_index ? s->m->set_auto_index(s, collection, on != 0) : 0;
}

int tv_store_reindex(tv_store *s, const char *collection)
{
	int rc;
	tv_err_clear(&s->err);
	collection = coll_or_default(collection);
	if ((rc = tv_collection_name_check(collection, &s->err)))
		return rc;
	return s->m->reindex ? s->m->reindex(s, collection) : 0;
}

int tv_store_stats(tv_store *s, const char *collection, char **json_out)
{
	json_t *o;
	size_t rows = 0;
	int rc;
	tv_err_clear(&s->err);
	*json_out = NULL;
	collection = coll_or_default(collection);
	if ((rc = tv_collection_name_check(collection, &s->err)) ||
	    (rc = s->m->count(s, collection, &rows)))
		return rc;
	if (!(o = json_pack("{s:s,s:I,s:n}", "collection", collection, "rows", (json_int_t)rows,
	                    "index")))
		return TV_ENOMEM_SET(&s->err, "stats");
	if (s->m->stats && (rc = s->m->stats(s, collection, o))) {
		json_decref(o);
		return rc;
	}
	if (!(*json_out = json_dumps(o, JSON_COMPACT)))
		rc = TV_ENOMEM_SET(&s->err, "stats");
	json_decref(o);
	return rc;
}

int tv_store_versions(tv_store *s, const char *collection, char **json_out)
{
	json_t *v = NULL;
	int rc;
	tv_err_clear(&s->err);
	*json_out = NULL;
	collection = coll_or_default(collection);
	if ((rc = tv_collection_name_check(collection, &s->err)))
		return rc;
	if (!s->m->versions)
		return tv_err_set(&s->err, TV_EUNSUPPORTED, "the %s store keeps no versions",
		                  s->m->type);
	if ((rc = s->m->versions(s, collection, &v)))
		return rc;
	*json_out = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	return *json_out ? 0 : TV_ENOMEM_SET(&s->err, "versions");
}

int tv_store_checkout(tv_store *s, const char *collection, uint64_t version)
{
	int rc;
	tv_err_clear(&s->err);
	collection = coll_or_default(collection);
	if ((rc = tv_collection_name_check(collection, &s->err)))
		return rc;
	if (!s->m->checkout)
		return tv_err_set(&s->err, TV_EUNSUPPORTED, "the %s store keeps no versions",
		                  s->m->type);
	return s->m->checkout(s, collection, version);
}

int tv_store_collections(tv_store *s, char ***names_out, size_t *n_out)
{
	tv_err_clear(&s->err);
	*names_out = NULL;
	*n_out = 0;
	return s->m->collections(s, names_out, n_out);
}

void tv_strings_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

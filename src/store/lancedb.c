/*
 * The persistent `lancedb` VectorStore: a database root (a local directory;
 * object storage to come) holding one Lance table "<collection>.lance" per
 * collection (table/). Every operation first brings its collection to the
 * newest committed version (one directory listing), so several processes
 * see each other's commits.
 *
 * Search here is exact (all fragments, memory-mapped, SIMD kernels); the
 * IVF_PQ index comes with its own issue. Reads never create the root.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "table/manifest.h"
#include "table/table.h"
#include "util/common.h"

typedef struct ldb_coll {
	char *name;
	tv_table *t;
	uint64_t pinned; /* checked-out version, 0 = follow the newest */
	uint64_t cleaned; /* version of this handle's last cleanup */
} ldb_coll;

/* A collection whose automatic index upkeep this handle turned off. */
typedef struct ldb_noauto {
	char **names;
	size_t n;
} ldb_noauto;

typedef struct ldb_store {
	tv_store base;
	char *root;
	tv_io *io;
	tv_metric metric;
	uint64_t small_rows;     /* fragments below this are merged... */
	size_t min_fragments;    /* ...once this many exist */
	size_t keep_versions;    /* cleanup keeps the newest N versions */
	int64_t keep_seconds;    /* and every version younger than this */
	bool auto_index;         /* build / extend the IVF_PQ index after writes */
	tv_ivfpq_params ix;      /* its parameters (0 = automatic) */
	ldb_noauto noauto;
	ldb_coll *colls;
	size_t ncolls;
} ldb_store;

static char *table_dir(const char *coll) { return tv_sprintf("%s.lance", coll); }

/* The collection's table at its newest version; NULL (rc 0) if absent. */
static int get_table(ldb_store *s, const char *name, tv_table **out)
{
	uint64_t *vs = NULL;
	size_t nv = 0, i;
	char *dir;
	int rc;
	*out = NULL;
	for (i = 0; i < s->ncolls && strcmp(s->colls[i].name, name); i++)
		;
	if (i < s->ncolls && !s->colls[i].pinned && tv_table_surely_latest(s->colls[i].t)) {
		*out = s->colls[i].t; /* the common case, without listing _versions/ */
		return 0;
	}
	if (!(dir = table_dir(name)))
		return TV_ENOMEM_SET(&s->base.err, "collection");
	rc = tv_table_versions(s->io, dir, &vs, &nv, &s->base.err);
	if (!rc && nv == 0) {
		free(dir);
		free(vs);
		return 0;
	}
	if (!rc && i < s->ncolls && s->colls[i].pinned) {
		*out = s->colls[i].t;
	} else if (!rc && i < s->ncolls && tv_table_version(s->colls[i].t) == vs[nv - 1] &&
	           !(tv_io_caps(s->io) & TV_IO_CAP_LOCAL)) {
		*out = s->colls[i].t; /* object storage: the number is all a listing tells */
	} else if (!rc && i < s->ncolls) {
		/* another writer committed, or (on local disk, the same number but
		 * not the same manifest) the table was removed and made again:
		 * catch up, keeping what is still valid */
		if (!(rc = tv_table_refresh(s->colls[i].t, &s->base.err)))
			*out = s->colls[i].t;
	} else if (!rc) {
		tv_table *t;
		if (!(rc = tv_table_open(&t, s->io, dir, 0, &s->base.err))) {
			if (i < s->ncolls) {
				tv_table_close(s->colls[i].t);
				s->colls[i].t = t;
			} else {
				ldb_coll *v = tv_reallocarray(s->colls, s->ncolls + 1, sizeof *v);
				char *nm = tv_strdup(name);
				if (!v || !nm) {
					free(nm);
					if (v)
						s->colls = v;
					tv_table_close(t);
					rc = TV_ENOMEM_SET(&s->base.err, "collections");
				} else {
					s->colls = v;
					s->colls[s->ncolls].name = nm;
					s->colls[s->ncolls].pinned = 0;
					s->colls[s->ncolls].cleaned = 0;
					s->colls[s->ncolls++].t = t;
				}
			}
			if (!rc)
				*out = t;
		}
	}
	free(vs);
	free(dir);
	return rc;
}

static int ldb_collections(tv_store *st, char ***names, size_t *n);
static int refuse_pinned(ldb_store *s, const char *coll);

/* Automatic upkeep after writes, so that an agent upserting a few rows at
 * a time never accumulates thousands of fragments or versions: merge small
 * fragments once min_frags of them exist; clean up every 16 versions. */
static ldb_coll *find_coll(ldb_store *s, const char *name);

static bool auto_index(const ldb_store *s, const char *coll)
{
	if (!s->auto_index)
		return false;
	for (size_t i = 0; i < s->noauto.n; i++)
		if (!strcmp(s->noauto.names[i], coll))
			return false;
	return true;
}

static int maintain(ldb_store *s, const char *coll, tv_table *t, size_t min_frags)
{
	size_t merged = 0, removed = 0;
	ldb_coll *c = find_coll(s, coll);
	int rc = tv_table_compact(t, s->small_rows, min_frags, &merged, &s->base.err);
	/* the vector index: built at 256 rows, then extended / retrained.
	 * After a write the rows are committed whatever happens here: a
	 * failed upkeep (no memory, no space) leaves them searched exactly
	 * and is retried after the next write; only an explicit optimize
	 * reports it. */
	if (!rc && (auto_index(s, coll) || min_frags <= 2)) {
		int irc = tv_table_index_update(t, s->metric, &s->ix,
		                                min_frags <= 2 ? TV_INDEX_OPTIMIZE : TV_INDEX_AUTO, NULL,
		                                &s->base.err);
		if (min_frags <= 2)
			rc = irc;
	}
	if (!rc && (min_frags <= 2 || !c || tv_table_version(t) >= c->cleaned + 16)) {
		rc = tv_table_cleanup(t, s->keep_versions, s->keep_seconds, &removed, &s->base.err);
		if (c)
			c->cleaned = tv_table_version(t);
	}
	return rc;
}

static int ldb_optimize(tv_store *st, const char *coll)
{
	ldb_store *s = (ldb_store *)st;
	char **names = NULL;
	size_t n = 0;
	int rc = 0;
	if (coll) {
		tv_table *t;
		if ((rc = refuse_pinned(s, coll)) || (rc = get_table(s, coll, &t)) || !t)
			return rc;
		return maintain(s, coll, t, 2);
	}
	if ((rc = ldb_collections(st, &names, &n)))
		return rc;
	for (size_t i = 0; !rc && i < n; i++)
		rc = ldb_optimize(st, names[i]);
	tv_strings_free(names, n);
	return rc;
}

static ldb_coll *find_coll(ldb_store *s, const char *name)
{
	for (size_t i = 0; i < s->ncolls; i++)
		if (!strcmp(s->colls[i].name, name))
			return &s->colls[i];
	return NULL;
}

static int refuse_pinned(ldb_store *s, const char *coll)
{
	ldb_coll *c = find_coll(s, coll);
	if (c && c->pinned)
		return tv_err_set(&s->base.err, TV_EINVAL,
		                  "collection '%s' is checked out at version %" PRIu64
		                  " (read-only); check out version 0 to write",
		                  coll, c->pinned);
	return 0;
}

static int ldb_add(tv_store *st, const char *coll, const tv_row *rows, size_t n, size_t dim,
                   const tv_filter *replace, size_t *deleted)
{
	ldb_store *s = (ldb_store *)st;
	tv_table *t;
	char *dir;
	int rc;
	if (deleted)
		*deleted = 0;
	if ((rc = refuse_pinned(s, coll)) || (rc = get_table(s, coll, &t)))
		return rc;
	if (n == 0) /* a delete-where */
		return t ? tv_table_upsert_where(t, NULL, 0, replace, deleted, &st->err) : 0;
	if (t) {
		if (tv_table_dim(t) != dim)
			return tv_err_set(&st->err, TV_EINVAL,
			                  "rows[0].vector: dimension %zu does not match collection '%s' "
			                  "(dimension %u)",
			                  dim, coll, tv_table_dim(t));
		if ((rc = tv_table_upsert_where(t, rows, n, replace, deleted, &st->err)))
			return rc;
		return maintain(s, coll, t, s->min_fragments);
	}
	if (!(dir = table_dir(coll)))
		return TV_ENOMEM_SET(&st->err, "collection");
	rc = tv_table_create(&t, s->io, dir, rows, n, (uint32_t)dim, &st->err);
	free(dir);
	if (!rc && auto_index(s, coll)) /* committed: upkeep failures are retried later */
		(void)tv_table_index_update(t, s->metric, &s->ix, TV_INDEX_AUTO, NULL, &st->err);
	tv_table_close(t); /* get_table caches it on next use */
	return rc;
}

static int ldb_query(tv_store *st, const tv_search *q, tv_results *out)
{
	ldb_store *s = (ldb_store *)st;
	tv_table *t;
	uint64_t *addrs = NULL;
	float *dists = NULL;
	size_t n = 0;
	int rc;
	if ((rc = get_table(s, q->collection, &t)) || !t)
		return rc;
	if (tv_table_dim(t) != q->dim)
		return tv_err_set(&st->err, TV_EINVAL,
		                  "query vector dimension %zu does not match collection '%s' "
		                  "(dimension %u)",
		                  q->dim, q->collection, tv_table_dim(t));
	tv_table_search_opts o = {q->exact, q->nprobes, q->refine_factor};
	if ((rc = tv_table_search(t, q->vector, s->metric, q->k, q->filter, &o, &addrs, &dists, &n,
	                          &st->err)))
		return rc;
	out->dim = q->dim;
	if (n && !(out->items = calloc(n, sizeof *out->items)))
		rc = TV_ENOMEM_SET(&st->err, "results");
	for (size_t i = 0; !rc && i < n; i++) {
		tv_table_row r;
		if ((rc = tv_table_row_at(t, addrs[i], &r, &st->err)))
			break;
		out->n++;
		if (tv_result_fill(&out->items[i], r.v.id, r.v.id_len, r.v.text, r.v.text_len, r.v.path,
		                   r.v.path_len, r.v.metadata, r.v.metadata_len, r.vector, q->dim,
		                   q->include_embeddings, dists[i]))
			rc = TV_ENOMEM_SET(&st->err, "results");
	}
	free(addrs);
	free(dists);
	return rc;
}

static int ldb_overwrite(tv_store *st, const char *coll, const tv_row *rows, size_t n,
                         size_t dim)
{
	ldb_store *s = (ldb_store *)st;
	tv_table *t;
	char *dir;
	int rc;
	if ((rc = refuse_pinned(s, coll)) || (rc = get_table(s, coll, &t)))
		return rc;
	if (t) {
		if ((rc = tv_table_overwrite(t, rows, n, (uint32_t)dim, &st->err)))
			return rc;
		if (auto_index(s, coll)) /* committed: upkeep failures are retried later */
			(void)tv_table_index_update(t, s->metric, &s->ix, TV_INDEX_AUTO, NULL, &st->err);
		return 0;
	}
	if (!(dir = table_dir(coll)))
		return TV_ENOMEM_SET(&st->err, "collection");
	rc = tv_table_create(&t, s->io, dir, rows, n, (uint32_t)dim, &st->err);
	free(dir);
	if (!rc && auto_index(s, coll)) /* committed: upkeep failures are retried later */
		(void)tv_table_index_update(t, s->metric, &s->ix, TV_INDEX_AUTO, NULL, &st->err);
	tv_table_close(t);
	return rc;
}

static int ldb_scan(tv_store *st, const char *coll, const tv_filter *filter, size_t limit,
                    bool include, tv_results *out)
{
	ldb_store *s = (ldb_store *)st;
	tv_table *t;
	uint64_t *addrs = NULL;
	size_t n = 0;
	int rc;
	if ((rc = get_table(s, coll, &t)) || !t)
		return rc;
	if ((rc = tv_table_scan(t, filter, limit, &addrs, &n, &st->err)) ||
	    (rc = tv_table_rows_prepare(t, addrs, n, &st->err))) {
		free(addrs);
		return rc;
	}
	out->dim = tv_table_dim(t);
	if (n && !(out->items = calloc(n, sizeof *out->items)))
		rc = TV_ENOMEM_SET(&st->err, "results");
	for (size_t i = 0; !rc && i < n; i++) {
		tv_table_row r;
		if ((rc = tv_table_row_at(t, addrs[i], &r, &st->err)))
			break;
		out->n++;
		if (tv_result_fill(&out->items[i], r.v.id, r.v.id_len, r.v.text, r.v.text_len, r.v.path,
		                   r.v.path_len, r.v.metadata, r.v.metadata_len, r.vector, out->dim,
		                   include, 0.0f))
			rc = TV_ENOMEM_SET(&st->err, "results");
		out->items[i].score = 0.0f;
	}
	free(addrs);
	return rc;
}

static int ldb_remove(tv_store *st, const char *coll, const char *const *ids, size_t n,
                      size_t *deleted)
{
	ldb_store *s = (ldb_store *)st;
	tv_table *t;
	int rc;
	if (deleted)
		*deleted = 0;
	if ((rc = refuse_pinned(s, coll)) || (rc = get_table(s, coll, &t)) || !t)
		return rc;
	return tv_table_delete_ids(t, ids, n, deleted, &st->err);
}

static int ldb_count(tv_store *st, const char *coll, size_t *out)
{
	ldb_store *s = (ldb_store *)st;
	tv_table *t;
	int rc;
	*out = 0;
	if ((rc = get_table(s, coll, &t)) || !t)
		return rc;
	*out = (size_t)tv_table_rows(t);
	return 0;
}

static int ldb_count_where(tv_store *st, const char *coll, const tv_filter *filter,
                           size_t *out)
{
	ldb_store *s = (ldb_store *)st;
	tv_table *t;
	uint64_t n = 0;
	int rc;
	*out = 0;
	if ((rc = get_table(s, coll, &t)) || !t)
		return rc;
	if ((rc = tv_table_count(t, filter, &n, &st->err)))
		return rc;
	*out = (size_t)n;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ldb_collections(tv_store *st, char ***names, size_t *n)
{
	ldb_store *s = (ldb_store *)st;
	tv_io_entry *e = NULL;
	size_t ne = 0, k = 0;
	char **v;
	int rc = tv_io_list(s->io, "", &e, &ne, &st->err);
	if (rc)
		return rc;
	if (!(v = calloc(ne ? ne : 1, sizeof *v))) {
		tv_io_entries_free(e, ne);
		return TV_ENOMEM_SET(&st->err, "collections");
	}
	for (size_t i = 0; i < ne; i++) {
		size_t len = strlen(e[i].name);
		if (e[i].is_dir && len > 6 && !strcmp(e[i].name + len - 6, ".lance"))
			v[k++] = tv_strndup(e[i].name, len - 6);
	}
	tv_io_entries_free(e, ne);
	qsort(v, k, sizeof *v, cmp_str);
	*names = v;
	*n = k;
	return 0;
}

/* {"type": "lancedb", "path": ROOT, "collections": {NAME: VERSION}} */
static int ldb_get_state(tv_store *st, json_t **out)
{
	ldb_store *s = (ldb_store *)st;
	char **names = NULL;
	size_t n = 0;
	json_t *colls = json_object();
	int rc = ldb_collections(st, &names, &n);
	for (size_t i = 0; !rc && i < n; i++) {
		tv_table *t;
		if (!(rc = get_table(s, names[i], &t)) && t)
			json_object_set_new(colls, names[i], json_integer((json_int_t)tv_table_version(t)));
	}
	tv_strings_free(names, n);
	if (rc) {
		json_decref(colls);
		return rc;
	}
	*out = json_pack("{s:s,s:s,s:o}", "type", "lancedb", "path", s->root, "collections", colls);
	return 0;
}

static int ldb_restore_state(tv_store *st, const json_t *state)
{
	ldb_store *s = (ldb_store *)st;
	const json_t *colls = json_object_get(state, "collections"), *v;
	const char *name;
	int rc;
	if (!json_is_object(colls))
		return tv_err_set(&st->err, TV_EINVAL, "state: 'collections' must be an object");
	json_object_foreach((json_t *)colls, name, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1)
			return tv_err_set(&st->err, TV_EINVAL,
			                  "state: collections.%s: expected a version number", name);
		if ((rc = tv_collection_name_check(name, &st->err)))
			return rc;
	}
	json_object_foreach((json_t *)colls, name, v) {
		tv_table *t;
		if ((rc = get_table(s, name, &t)))
			return rc;
		if (!t)
			return tv_err_set(&st->err, TV_ENOTFOUND, "state: collection '%s' does not exist",
			                  name);
		if (tv_table_version(t) != (uint64_t)json_integer_value(v) &&
		    (rc = tv_table_restore(t, (uint64_t)json_integer_value(v), &st->err)))
			return rc;
	}
	return 0;
}

static int ldb_checkout(tv_store *st, const char *coll, uint64_t version)
{
	ldb_store *s = (ldb_store *)st;
	ldb_coll *c;
	tv_table *t, *pin;
	char *dir;
	int rc;
	if ((c = find_coll(s, coll)))
		c->pinned = 0;
	if ((rc = get_table(s, coll, &t)))
		return rc;
	if (!t)
		return tv_err_set(&st->err, TV_ENOTFOUND, "collection '%s' does not exist", coll);
	if (version == 0)
		return 0;
	if (!(dir = table_dir(coll)))
		return TV_ENOMEM_SET(&st->err, "checkout");
	rc = tv_table_open(&pin, s->io, dir, version, &st->err);
	free(dir);
	if (rc)
		return rc;
	c = find_coll(s, coll);
	tv_table_close(c->t);
	c->t = pin;
	c->pinned = version;
	return 0;
}

static const char *op_name(const Lance__Table__Transaction *txn)
{
	if (!txn)
		return "unknown";
	switch (txn->operation_case) {
	case LANCE__TABLE__TRANSACTION__OPERATION_APPEND: return "append";
	case LANCE__TABLE__TRANSACTION__OPERATION_DELETE: return "delete";
	case LANCE__TABLE__TRANSACTION__OPERATION_OVERWRITE: return "overwrite";
	case LANCE__TABLE__TRANSACTION__OPERATION_CREATE_INDEX: return "create_index";
	case LANCE__TABLE__TRANSACTION__OPERATION_REWRITE: return "rewrite";
	case LANCE__TABLE__TRANSACTION__OPERATION_MERGE: return "merge";
	case LANCE__TABLE__TRANSACTION__OPERATION_RESTORE: return "restore";
	case LANCE__TABLE__TRANSACTION__OPERATION_UPDATE: return "update";
	case LANCE__TABLE__TRANSACTION__OPERATION_PROJECT: return "project";
	case LANCE__TABLE__TRANSACTION__OPERATION_UPDATE_CONFIG: return "update_config";
	default: return "other";
	}
}

static int ldb_versions(tv_store *st, const char *coll, json_t **out)
{
	ldb_store *s = (ldb_store *)st;
	uint64_t *vs = NULL;
	size_t nv = 0;
	char *dir = table_dir(coll);
	json_t *arr = json_array();
	tv_naming naming;
	int rc;
	if (!dir)
		return TV_ENOMEM_SET(&st->err, "versions");
	rc = tv_manifest_versions(s->io, dir, &vs, &nv, &naming, &st->err);
	if (!rc && nv == 0)
		rc = tv_err_set(&st->err, TV_ENOTFOUND, "collection '%s' does not exist", coll);
	for (size_t i = 0; !rc && i < nv; i++) {
		char *mp = tv_manifest_path(dir, naming, vs[i]), when[40] = "";
		tv_manifest mf;
		if (!mp) {
			rc = TV_ENOMEM_SET(&st->err, "versions");
			break;
		}
		if (tv_manifest_read(s->io, mp, &mf, NULL, NULL) == 0) { /* cleanup may race us: skip */
			if (mf.m->timestamp) {
				time_t sec = (time_t)mf.m->timestamp->seconds;
				struct tm tm;
				gmtime_r(&sec, &tm);
				strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
			}
			json_array_append_new(arr, json_pack("{s:I,s:s,s:s}", "version", (json_int_t)vs[i],
			                                     "timestamp", when, "operation", op_name(mf.txn)));
			tv_manifest_free(&mf);
		}
		free(mp);
	}
	free(vs);
	free(dir);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

static void ldb_free(tv_store *st)
{
	ldb_store *s = (ldb_store *)st;
	for (size_t i = 0; i < s->ncolls; i++) {
		tv_table_close(s->colls[i].t);
		free(s->colls[i].name);
	}
	free(s->colls);
	for (size_t i = 0; i < s->noauto.n; i++)
		free(s->noauto.names[i]);
	free(s->noauto.names);
	tv_io_free(s->io);
	free(s->root);
	free(s);
}

static int ldb_set_auto_index(tv_store *st, const char *coll, bool on)
{
	ldb_store *s = (ldb_store *)st;
	ldb_coll *c;
	tv_table *t;
	size_t i;
	int rc;
	for (i = 0; i < s->noauto.n && strcmp(s->noauto.names[i], coll); i++)
		;
	if (!on) {
		char **v;
		if (i < s->noauto.n)
			return 0;
		if (!(v = tv_reallocarray(s->noauto.names, s->noauto.n + 1, sizeof *v)))
			return TV_ENOMEM_SET(&st->err, "settings");
		s->noauto.names = v;
		if (!(v[s->noauto.n] = tv_strdup(coll)))
			return TV_ENOMEM_SET(&st->err, "settings");
		s->noauto.n++;
		return 0;
	}
	if (i < s->noauto.n) {
		free(s->noauto.names[i]);
		s->noauto.names[i] = s->noauto.names[--s->noauto.n];
	}
	/* on again: bring the index up to date now */
	c = find_coll(s, coll);
	if (!s->auto_index || (c && c->pinned))
		return 0;
	if ((rc = get_table(s, coll, &t)) || !t)
		return rc;
	return tv_table_index_update(t, s->metric, &s->ix, TV_INDEX_AUTO, NULL, &st->err);
}

static int ldb_reindex(tv_store *st, const char *coll)
{
	ldb_store *s = (ldb_store *)st;
	tv_table *t;
	int rc;
	if ((rc = refuse_pinned(s, coll)) || (rc = get_table(s, coll, &t)) || !t)
		return rc;
	return tv_table_index_update(t, s->metric, &s->ix, TV_INDEX_REBUILD, NULL, &st->err);
}

/* Bytes of the files under dir (one level of subdirectories). */
static uint64_t dir_bytes(tv_io *io, const char *dir, int depth)
{
	tv_io_entry *e = NULL;
	size_t n = 0;
	uint64_t sum = 0;
	tv_err ignore;
	if (tv_io_list(io, dir, &e, &n, &ignore))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i].is_dir && depth > 0) {
			char *sub = tv_sprintf("%s/%s", dir, e[i].name);
			if (sub)
				sum += dir_bytes(io, sub, depth - 1);
			free(sub);
		} else if (!e[i].is_dir) {
			sum += e[i].size;
		}
	}
	tv_io_entries_free(e, n);
	return sum;
}

static int ldb_stats(tv_store *st, const char *coll, json_t *out)
{
	ldb_store *s = (ldb_store *)st;
	tv_table_index_info ii;
	tv_table *t;
	char *dir;
	int rc;
	if ((rc = get_table(s, coll, &t)) || !t)
		return rc;
	if ((rc = tv_table_index_stat(t, &ii, &st->err)))
		return rc;
	if (!(dir = table_dir(coll)))
		return TV_ENOMEM_SET(&st->err, "stats");
	json_object_set_new(out, "dim", json_integer(tv_table_dim(t)));
	json_object_set_new(out, "version", json_integer((json_int_t)tv_table_version(t)));
	json_object_set_new(out, "fragments", json_integer((json_int_t)tv_table_fragments(t)));
	json_object_set_new(out, "bytes", json_integer((json_int_t)dir_bytes(s->io, dir, 1)));
	free(dir);
	if (ii.present)
		json_object_set_new(
			out, "index",
			json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s}", "type", "IVF_PQ",
		          "search", ii.codes ? "ivf_pq" : "exact (no cluster structure)", "metric",
		          tv_metric_name(ii.metric), "partitions", (json_int_t)ii.nlist, "sub_vectors",
		          (json_int_t)ii.m, "nprobes", (json_int_t)ii.nprobes,
		          "indexed_rows", (json_int_t)ii.indexed_rows,
		          "unindexed_rows", (json_int_t)ii.unindexed_rows, "trained_rows",
		          (json_int_t)ii.trained_rows, "built_version", (json_int_t)ii.built_version,
		          "bytes", (json_int_t)ii.bytes, "file", ii.file));
	return 0;
}

static const tv_store_methods ldb_methods = {
	"lancedb", ldb_add, ldb_query, ldb_remove, ldb_count, ldb_count_where, ldb_overwrite, ldb_scan, ldb_get_state,
	ldb_restore_state,
	ldb_collections, ldb_optimize, ldb_versions, ldb_checkout, ldb_free, ldb_stats, ldb_reindex,
	ldb_set_auto_index, true,
};

/* ~ expanded, relative paths made absolute; URIs kept as they are. */
static char *resolve_root(const char *p)
{
	const char *home = getenv("HOME");
	char cwd[PATH_MAX];
	if (strstr(p, "://"))
		return tv_strdup(p);
	if (p[0] == '~' && (p[1] == '/' || p[1] == 0))
		return tv_sprintf("%s%s", home && *home ? home : "/", p + 1);
	if (p[0] == '/')
		return tv_strdup(p);
	if (!getcwd(cwd, sizeof cwd))
		return NULL;
	return tv_sprintf("%s/%s", cwd, p);
}

static uint64_t setting_u64(const json_t *settings, const char *key, uint64_t def)
{
	const json_t *v = json_object_get(settings, key);
	return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v) : def;
}

int tv_store_lancedb_new(tv_store **out, const json_t *settings, tv_err *err)
{
	const char *path = json_string_value(json_object_get(settings, "lancedb_path"));
	const char *metric = json_string_value(json_object_get(settings, "metric"));
	ldb_store *s;
	int rc;
	*out = NULL;
	if (!(s = calloc(1, sizeof *s)))
		return TV_ENOMEM_SET(err, "lancedb store");
	s->base.m = &ldb_methods;
	if (metric && tv_metric_parse(&s->metric, metric)) {
		free(s);
		return tv_err_set(err, TV_EINVAL, "settings.rag.metric: '%s' is not one of cosine, l2, dot",
		                  metric);
	}
	s->small_rows = setting_u64(settings, "compact_small_rows", 8192);
	s->min_fragments = (size_t)setting_u64(settings, "compact_min_fragments", 16);
	s->keep_versions = (size_t)setting_u64(settings, "cleanup_keep_versions", 10);
	s->keep_seconds = (int64_t)setting_u64(settings, "cleanup_older_than_s", 3600);
	s->auto_index = !json_is_false(json_object_get(settings, "auto_index"));
	s->ix.nlist = (uint32_t)TV_MIN(setting_u64(settings, "index_partitions", 0), 1u << 20);
	s->ix.m = (uint32_t)TV_MIN(setting_u64(settings, "index_sub_vectors", 0), 65536);
	if (!(s->root = resolve_root(path && *path ? path : "~/.tea/vectors/"))) {
		free(s);
		return TV_ENOMEM_SET(err, "lancedb_path");
	}
	if ((rc = tv_io_open(&s->io, s->root, err))) {
		tv_err_prefix(err, rc, "settings.rag.lancedb_path");
		free(s->root);
		free(s);
		return rc;
	}
	*out = &s->base;
	return 0;
}

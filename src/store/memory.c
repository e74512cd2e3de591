/*
 * The in-memory VectorStore: exact search through the shared kernels.
 *
 * Each collection keeps its rows in parallel arrays with the vectors in one
 * contiguous row-major matrix and 1/|x| beside it, so an unfiltered query
 * is one streaming pass of the kernels over the matrix (memory-bandwidth
 * bound) feeding the top-k heap. Ids are found through a hash index; a
 * delete moves the last row into the hole.
 *
 * An upsert batch is applied all or nothing: every allocation it needs is
 * made before the first row changes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/common.h"
#include "util/strmap.h"
#include "vec/vec.h"

typedef struct mem_row {
	char *id, *text, *path, *meta_text;
	size_t id_len, text_len, path_len, meta_len;
	json_t *meta;
} mem_row;

typedef struct mem_coll {
	char *name;
	size_t dim, n, cap;
	mem_row *rows;
	float *vec;      /* n * dim */
	float *inv_norm; /* n */
	tv_strmap ids;   /* id -> row index */
} mem_coll;

typedef struct mem_store {
	tv_store base;
	tv_metric metric;
	mem_coll **colls;
	size_t ncolls;
} mem_store;

static const char *coll_key(const void *ctx, size_t v, size_t *len)
{
	const mem_coll *c = ctx;
	*len = c->rows[v].id_len;
	return c->rows[v].id;
}

static void row_free(mem_row *r)
{
	free(r->id);
	free(r->text);
	free(r->path);
	free(r->meta_text);
	json_decref(r->meta);
	memset(r, 0, sizeof *r);
}

static void coll_free(mem_coll *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		row_free(&c->rows[i]);
	free(c->rows);
	free(c->vec);
	free(c->inv_norm);
	tv_strmap_free(&c->ids);
	free(c->name);
	free(c);
}

static mem_coll *coll_new(const char *name, size_t dim)
{
	mem_coll *c = calloc(1, sizeof *c);
	if (!c || !(c->name = tv_strdup(name))) {
		free(c);
		return NULL;
	}
	c->dim = dim;
	tv_strmap_init(&c->ids, coll_key, c);
	return c;
}

static mem_coll *coll_find(const mem_store *m, const char *name)
{
	for (size_t i = 0; i < m->ncolls; i++)
		if (!strcmp(m->colls[i]->name, name))
			return m->colls[i];
	return NULL;
}

static int coll_attach(mem_store *m, mem_coll *c)
{
	mem_coll **v = tv_reallocarray(m->colls, m->ncolls + 1, sizeof *v);
	if (!v)
		return TV_ENOMEM;
	m->colls = v;
	m->colls[m->ncolls++] = c;
	return 0;
}

/* Room for `extra` more rows in every array and in the id index. */
static int coll_reserve(mem_coll *c, size_t extra)
{
	size_t need, cap;
	void *p;
	if (tv_add_overflow(c->n, extra, &need))
		return TV_ENOMEM;
	if (need > c->cap) {
		cap = c->cap ? c->cap : 16;
		while (cap < need)
			if (tv_mul_overflow(cap, 2, &cap))
				return TV_ENOMEM;
		if (!(p = tv_reallocarray(c->rows, cap, sizeof *c->rows)))
			return TV_ENOMEM;
		c->rows = p;
		if (!(p = tv_reallocarray(c->inv_norm, cap, sizeof *c->inv_norm)))
			return TV_ENOMEM;
		c->inv_norm = p;
		if (tv_mul_overflow(cap, c->dim, &need) ||
		    !(p = tv_reallocarray(c->vec, need, sizeof *c->vec)))
			return TV_ENOMEM;
		c->vec = p;
		c->cap = cap;
	}
	return tv_strmap_reserve(&c->ids, extra);
}

/* Copies a validated row into an owned mem_row (no store change). */
static int row_copy(mem_row *dst, const char *id, size_t id_len, const char *text,
                    size_t text_len, const char *path, size_t path_len, json_t *meta,
                    const char *meta_text)
{
	memset(dst, 0, sizeof *dst);
	dst->id = tv_strndup(id, id_len);
	dst->text = tv_strndup(text, text_len);
	dst->path = path ? tv_strndup(path, path_len) : NULL;
	/* canonical compact text, so that a state round trip returns the same */
	(void)meta_text;
	dst->meta_text = json_dumps(meta, JSON_COMPACT | JSON_REAL_PRECISION(17));
	dst->meta_len = dst->meta_text ? strlen(dst->meta_text) : 0;
	dst->id_len = id_len;
	dst->text_len = text_len;
	dst->path_len = path_len;
	dst->meta = json_incref(meta);
	if (!dst->id || !dst->text || (path && !dst->path) || !dst->meta_text) {
		row_free(dst);
		return TV_ENOMEM;
	}
	return 0;
}

static void set_vector(mem_coll *c, size_t i, const float *v)
{
	float norm;
	memcpy(c->vec + i * c->dim, v, c->dim * sizeof *v);
	norm = tv_vec_norm(v, c->dim);
	c->inv_norm[i] = norm > 0.0f ? 1.0f / norm : 0.0f;
}

/* Applies prepared rows: cannot fail (room was reserved). */
static void coll_apply(mem_coll *c, mem_row *prepared, const float *const *vecs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t at = tv_strmap_get(&c->ids, prepared[i].id, prepared[i].id_len);
		if (at == TV_STRMAP_NONE) {
			at = c->n++;
			c->rows[at] = prepared[i];
			tv_strmap_put(&c->ids, c->rows[at].id, c->rows[at].id_len, at);
		} else {
			row_free(&c->rows[at]);
			c->rows[at] = prepared[i];
		}
		set_vector(c, at, vecs[i]);
	}
}

static void coll_remove_at(mem_coll *c, size_t at);
static bool row_matches(const tv_filter *f, const mem_row *r);
static int mem_match_ids(tv_store *s, const char *collection, const tv_filter *filter,
                         char ***ids, size_t *n);

/* Everything that can fail (copies, capacity, the ids passing replace)
 * happens before the first change, so a failed add changes nothing. */
static int mem_add(tv_store *s, const char *collection, const tv_row *rows, size_t n,
                   size_t dim, const tv_filter *replace, size_t *deleted)
{
	mem_store *m = (mem_store *)s;
	mem_coll *c = coll_find(m, collection), *fresh = NULL;
	mem_row *prep = NULL;
	const float **vecs = NULL;
	char **gone = NULL;
	size_t i = 0, ngone = 0;
	int rc = TV_ENOMEM;
	if (deleted)
		*deleted = 0;
	if (replace && c && (rc = mem_match_ids(s, collection, replace, &gone, &ngone)))
		return rc;
	if (n == 0) {
		for (size_t g = 0; g < ngone; g++)
			coll_remove_at(c, tv_strmap_get(&c->ids, gone[g], strlen(gone[g])));
		if (deleted)
			*deleted = ngone;
		tv_strings_free(gone, ngone);
		return 0;
	}
	rc = TV_ENOMEM;
	if (c && c->n > ngone && c->dim != dim) {
		tv_strings_free(gone, ngone);
		return tv_err_set(&s->err, TV_EINVAL,
		                  "rows[0].vector: dimension %zu does not match collection '%s' "
		                  "(dimension %zu)",
		                  dim, collection, c->dim);
	}
	if (!c && !(c = fresh = coll_new(collection, dim)))
		goto fail;
	if (c->n == 0 && c->dim != dim) {
		/* an emptied collection takes the new dimension; arrays are resized */
		free(c->vec);
		c->vec = NULL;
		c->cap = 0;
		c->dim = dim;
	}
	prep = calloc(n, sizeof *prep);
	vecs = calloc(n, sizeof *vecs);
	if (!prep || !vecs || coll_reserve(c, n))
		goto fail;
	for (i = 0; i < n; i++) {
		if (row_copy(&prep[i], rows[i].id, rows[i].id_len, rows[i].text, rows[i].text_len,
		             rows[i].path, rows[i].path_len, rows[i].metadata, rows[i].metadata_text))
			goto fail;
		vecs[i] = rows[i].vector;
	}
	if (fresh && coll_attach(m, fresh))
		goto fail;
	for (size_t g = 0; g < ngone; g++)
		coll_remove_at(c, tv_strmap_get(&c->ids, gone[g], strlen(gone[g])));
	if (c->n == 0 && c->dim != dim) {
		free(c->vec);
		c->vec = NULL;
		c->cap = 0;
		c->dim = dim;
		if (coll_reserve(c, n))
			goto fail; /* nothing left to lose: the replaced rows are gone */
	}
	coll_apply(c, prep, vecs, n);
	if (deleted)
		*deleted = ngone;
	tv_strings_free(gone, ngone);
	free(prep);
	free(vecs);
	return 0;
fail:
	tv_strings_free(gone, ngone);
	while (prep && i > 0)
		row_free(&prep[--i]);
	free(prep);
	free(vecs);
	coll_free(fresh);
	return rc == TV_ENOMEM ? TV_ENOMEM_SET(&s->err, "rows of the batch") : rc;
}

/* ---- query ---------------------------------------------------------- */

static float dist_row(const mem_store *m, const mem_coll *c, const float *q, float q_inv,
                      size_t i)
{
	const float *x = c->vec + i * c->dim;
	const tv_kernels *k = tv_vec_kernels();
	float d;
	switch (m->metric) {
	case TV_METRIC_L2: return k->l2sq(q, x, c->dim);
	case TV_METRIC_DOT: return -k->dot(q, x, c->dim);
	default:
		if (q_inv == 0.0f || c->inv_norm[i] == 0.0f)
			return 1.0f;
		d = 1.0f - k->dot(q, x, c->dim) * q_inv * c->inv_norm[i];
		return d < 0.0f ? 0.0f : (d > 2.0f ? 2.0f : d);
	}
}

static bool row_matches(const tv_filter *f, const mem_row *r)
{
	tv_row_view v = {r->id, r->id_len, r->text, r->text_len, r->path, r->path_len,
	                 r->meta_text, r->meta_len, r->meta};
	return tv_filter_matches(f, &v);
}

/* Feeds every (matching) row's distance into the top-k heap. */
static int scan(const mem_store *m, const mem_coll *c, const tv_search *q, tv_topk *top)
{
	float q_inv = 0.0f, norm = tv_vec_norm(q->vector, q->dim);
	enum { BLOCK = 1024 };
	float *d;
	if (norm > 0.0f)
		q_inv = 1.0f / norm;
	if (q->filter) {
		for (size_t i = 0; i < c->n; i++)
			if (row_matches(q->filter, &c->rows[i]))
				tv_topk_push(top, dist_row(m, c, q->vector, q_inv, i), i);
		return 0;
	}
	if (!(d = malloc(BLOCK * sizeof *d)))
		return TV_ENOMEM;
	for (size_t off = 0; off < c->n; off += BLOCK) {
		size_t len = TV_MIN((size_t)BLOCK, c->n - off);
		tv_vec_distances(m->metric, q->vector, q_inv, c->vec + off * c->dim,
		                 c->inv_norm + off, len, c->dim, d);
		tv_topk_push_array(top, d, len, off);
	}
	free(d);
	return 0;
}

static int mem_query(tv_store *s, const tv_search *q, tv_results *out)
{
	mem_store *m = (mem_store *)s;
	mem_coll *c = coll_find(m, q->collection);
	tv_topk top;
	int rc;
	if (!c || c->n == 0)
		return 0;
	if (c->dim != q->dim)
		return tv_err_set(&s->err, TV_EINVAL,
		                  "query vector dimension %zu does not match collection '%s' "
		                  "(dimension %zu)",
		                  q->dim, q->collection, c->dim);
	if ((rc = tv_topk_init(&top, q->k)))
		return TV_ENOMEM_SET(&s->err, "top-k");
	if ((rc = scan(m, c, q, &top)))
		goto done;
	tv_topk_sort(&top);
	out->dim = c->dim;
	if (top.n && !(out->items = calloc(top.n, sizeof *out->items))) {
		rc = TV_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < top.n; i++) {
		const mem_row *r = &c->rows[top.id[i]];
		out->n++;
		if ((rc = tv_result_fill(&out->items[i], r->id, r->id_len, r->text, r->text_len,
		                         r->path, r->path_len, r->meta_text, r->meta_len,
		                         c->vec + top.id[i] * c->dim, c->dim,
		                         q->include_embeddings, top.dist[i])))
			goto done;
	}
done:
	tv_topk_free(&top);
	return rc == TV_ENOMEM ? TV_ENOMEM_SET(&s->err, "results") : rc;
}

/* ---- delete, count, collections --------------------------------------- */

static void coll_remove_at(mem_coll *c, size_t at)
{
	size_t last = c->n - 1;
	tv_strmap_del(&c->ids, c->rows[at].id, c->rows[at].id_len);
	row_free(&c->rows[at]);
	if (at != last) {
		c->rows[at] = c->rows[last];
		memcpy(c->vec + at * c->dim, c->vec + last * c->dim, c->dim * sizeof *c->vec);
		c->inv_norm[at] = c->inv_norm[last];
		tv_strmap_put(&c->ids, c->rows[at].id, c->rows[at].id_len, at);
	}
	c->n--;
}

static int mem_remove(tv_store *s, const char *collection, const char *const *ids, size_t n,
                      size_t *deleted)
{
	mem_coll *c = coll_find((mem_store *)s, collection);
	size_t gone = 0;
	for (size_t i = 0; c && i < n; i++) {
		size_t at = tv_strmap_get(&c->ids, ids[i], strlen(ids[i]));
		if (at != TV_STRMAP_NONE) {
			coll_remove_at(c, at);
			gone++;
		}
	}
	if (deleted)
		*deleted = gone;
	return 0;
}

static int mem_count(tv_store *s, const char *collection, size_t *out)
{
	mem_coll *c = coll_find((mem_store *)s, collection);
	*out = c ? c->n : 0;
	return 0;
}

static int mem_match_ids(tv_store *s, const char *collection, const tv_filter *filter,
                         char ***ids, size_t *n)
{
	mem_coll *c = coll_find((mem_store *)s, collection);
	char **v;
	size_t k = 0;
	if (!c || c->n == 0)
		return 0;
	if (!(v = calloc(c->n, sizeof *v)))
		return TV_ENOMEM_SET(&s->err, "ids");
	for (size_t i = 0; i < c->n; i++) {
		if (filter && !row_matches(filter, &c->rows[i]))
			continue;
		if (!(v[k++] = tv_strdup(c->rows[i].id))) {
			tv_strings_free(v, k);
			return TV_ENOMEM_SET(&s->err, "ids");
		}
	}
	*ids = v;
	*n = k;
	return 0;
}

static int mem_count_where(tv_store *s, const char *collection, const tv_filter *filter,
                           size_t *out)
{
	mem_coll *c = coll_find((mem_store *)s, collection);
	*out = 0;
	for (size_t i = 0; c && i < c->n; i++)
		*out += !filter || row_matches(filter, &c->rows[i]);
	return 0;
}

static int mem_overwrite(tv_store *s, const char *collection, const tv_row *rows, size_t n,
                         size_t dim)
{
	tv_filter *all;
	int rc;
	if ((rc = tv_filter_parse_sql(&all, "TRUE", &s->err)))
		return rc;
	rc = mem_add(s, collection, rows, n, dim, all, NULL);
	tv_filter_free(all);
	return rc;
}

static int mem_scan(tv_store *s, const char *collection, const tv_filter *filter, size_t limit,
                    bool include, tv_results *out)
{
	mem_coll *c = coll_find((mem_store *)s, collection);
	size_t cap;
	if (!c || c->n == 0)
		return 0;
	cap = limit && limit < c->n ? limit : c->n;
	out->dim = c->dim;
	if (!(out->items = calloc(cap, sizeof *out->items)))
		return TV_ENOMEM_SET(&s->err, "results");
	for (size_t i = 0; i < c->n && out->n < cap; i++) {
		const mem_row *r = &c->rows[i];
		if (filter && !row_matches(filter, r))
			continue;
		if (tv_result_fill(&out->items[out->n++], r->id, r->id_len, r->text, r->text_len,
		                   r->path, r->path_len, r->meta_text, r->meta_len,
		                   c->vec + i * c->dim, c->dim, include, 0.0f))
			return TV_ENOMEM_SET(&s->err, "results");
		out->items[out->n - 1].score = 0.0f;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int mem_collections(tv_store *s, char ***names, size_t *n)
{
	mem_store *m = (mem_store *)s;
	char **v = tv_mallocarray(m->ncolls, sizeof *v);
	if (!v)
		return TV_ENOMEM_SET(&s->err, "collection names");
	for (size_t i = 0; i < m->ncolls; i++) {
		if (!(v[i] = tv_strdup(m->colls[i]->name))) {
			tv_strings_free(v, i);
			return TV_ENOMEM_SET(&s->err, "collection names");
		}
	}
	qsort(v, m->ncolls, sizeof *v, cmp_str);
	*names = v;
	*n = m->ncolls;
	return 0;
}

/* ---- state ---------------------------------------------------------- */

/* State document:
 * {"type": "memory", "metric": "cosine",
 *  "collections": {NAME: {"dim": D, "ids": [...], "texts": [...],
 *                         "paths": [str|null...], "metadatas": [{...}...],
 *                         "embeddings": [[f32...]...]}}}
 * Numbers are written with 17 significant digits (float32 embeddings need 9,
 * metadata doubles 17), so a restored store answers queries bit for bit the
 * same. */
static json_t *coll_state(const mem_coll *c)
{
	json_t *o = json_object(), *ids = json_array(), *texts = json_array(),
	       *paths = json_array(), *metas = json_array(), *embs = json_array();
	json_object_set_new(o, "dim", json_integer((json_int_t)c->dim));
	json_object_set_new(o, "ids", ids);
	json_object_set_new(o, "texts", texts);
	json_object_set_new(o, "paths", paths);
	json_object_set_new(o, "metadatas", metas);
	json_object_set_new(o, "embeddings", embs);
	for (size_t i = 0; i < c->n; i++) {
		const mem_row *r = &c->rows[i];
		json_t *e = json_array();
		json_array_append_new(ids, json_stringn(r->id, r->id_len));
		json_array_append_new(texts, json_stringn(r->text, r->text_len));
		json_array_append_new(paths, r->path ? json_stringn(r->path, r->path_len) : json_null());
		json_array_append(metas, r->meta);
		for (size_t j = 0; j < c->dim; j++)
			json_array_append_new(e, json_real(c->vec[i * c->dim + j]));
		json_array_append_new(embs, e);
	}
	return o;
}

static int mem_get_state(tv_store *s, json_t **out)
{
	mem_store *m = (mem_store *)s;
	json_t *st = json_object(), *colls = json_object();
	json_object_set_new(st, "type", json_string("memory"));
	json_object_set_new(st, "metric", json_string(tv_metric_name(m->metric)));
	json_object_set_new(st, "collections", colls);
	for (size_t i = 0; i < m->ncolls; i++)
		json_object_set_new(colls, m->colls[i]->name, coll_state(m->colls[i]));
	*out = st;
	return 0;
}

/* Reads one collection of a state document through the public add path's
 * validation, into a fresh store, so a bad document changes nothing. */
static int state_load_coll(tv_store *tmp, const char *name, const json_t *cj, tv_err *err)
{
	const json_t *ids = json_object_get(cj, "ids"), *texts = json_object_get(cj, "texts"),
	             *paths = json_object_get(cj, "paths"), *metas = json_object_get(cj, "metadatas"),
	             *embs = json_object_get(cj, "embeddings");
	size_t n = json_array_size(ids), dim = (size_t)json_integer_value(json_object_get(cj, "dim"));
	tv_record *recs = NULL;
	float *vecs = NULL;
	char **metatext = NULL;
	int rc = TV_EINVAL;
	if (!json_is_array(ids) || !json_is_array(texts) || !json_is_array(embs) ||
	    json_array_size(texts) != n || json_array_size(embs) != n ||
	    (paths && json_array_size(paths) != n) || (metas && json_array_size(metas) != n))
		return tv_err_set(err, TV_EINVAL,
		                  "state: collections.%s: ids, texts, embeddings (and paths, metadatas) "
		                  "must be arrays of equal length",
		                  name);
	if (n == 0)
		return 0;
	recs = calloc(n, sizeof *recs);
	metatext = calloc(n, sizeof *metatext);
	vecs = tv_mallocarray(n, dim * sizeof *vecs);
	if (!recs || !metatext || !vecs) {
		rc = TV_ENOMEM_SET(err, "state");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(embs, i), *md = metas ? json_array_get(metas, i) : NULL;
		if (json_array_size(e) != dim) {
			rc = tv_err_set(err, TV_EINVAL,
			                "state: collections.%s.embeddings[%zu]: expected %zu numbers", name,
			                i, dim);
			goto done;
		}
		for (size_t j = 0; j < dim; j++)
			vecs[i * dim + j] = (float)json_number_value(json_array_get(e, j));
		recs[i].id = json_string_value(json_array_get(ids, i));
		recs[i].text = json_string_value(json_array_get(texts, i));
		recs[i].path = paths ? json_string_value(json_array_get(paths, i)) : NULL;
		recs[i].vector = vecs + i * dim;
		if (md && !json_is_null(md) && !(metatext[i] = json_dumps(md, JSON_COMPACT))) {
			rc = TV_ENOMEM_SET(err, "state");
			goto done;
		}
		recs[i].metadata = metatext[i];
	}
	rc = tv_store_add(tmp, name, recs, n, dim, NULL);
	if (rc)
		tv_err_set(err, rc, "state: collections.%s: %s", name, tv_store_errmsg(tmp));
done:
	for (size_t i = 0; metatext && i < n; i++)
		free(metatext[i]);
	free(metatext);
	free(recs);
	free(vecs);
	return rc;
}

static int mem_restore_state(tv_store *s, const json_t *st)
{
	mem_store *m = (mem_store *)s, *fresh;
	const json_t *colls = json_object_get(st, "collections"), *cj;
	const char *name;
	tv_store *tmp = NULL;
	int rc;
	if (!json_is_object(colls))
		return tv_err_set(&s->err, TV_EINVAL, "state: 'collections' must be an object");
	if ((rc = tv_store_memory_new(&tmp, NULL, &s->err)))
		return rc;
	((mem_store *)tmp)->metric = m->metric;
	json_object_foreach((json_t *)colls, name, cj) {
		if (!json_is_object(cj)) {
			rc = tv_err_set(&s->err, TV_EINVAL, "state: collections.%s must be an object",
			                name);
			goto done;
		}
		if ((rc = tv_collection_name_check(name, &s->err)) ||
		    (rc = state_load_coll(tmp, name, cj, &s->err)))
			goto done;
	}
	/* swap the loaded collections in */
	fresh = (mem_store *)tmp;
	{
		mem_coll **c = m->colls;
		size_t nc = m->ncolls;
		m->colls = fresh->colls;
		m->ncolls = fresh->ncolls;
		fresh->colls = c;
		fresh->ncolls = nc;
	}
done:
	tv_store_close(tmp);
	return rc;
}

static void mem_free(tv_store *s)
{
	mem_store *m = (mem_store *)s;
	for (size_t i = 0; i < m->ncolls; i++)
		coll_free(m->colls[i]);
	free(m->colls);
	free(m);
}

static const tv_store_methods mem_methods = {
	"memory", mem_add, mem_query, mem_remove, mem_count, mem_count_where, mem_overwrite, mem_scan, mem_get_state,
	mem_restore_state,
	mem_collections, NULL, NULL, NULL, mem_free, NULL, NULL, NULL, false,
};

int tv_store_memory_new(tv_store **out, const json_t *settings, tv_err *err)
{
	mem_store *m;
	const char *metric = json_string_value(json_object_get(settings, "metric"));
	tv_metric mt = TV_METRIC_COSINE;
	*out = NULL;
	if (metric && tv_metric_parse(&mt, metric))
		return tv_err_set(err, TV_EINVAL,
		                  "settings.rag.metric: '%s' is not one of cosine, l2, dot", metric);
	if (!(m = calloc(1, sizeof *m)))
		return TV_ENOMEM_SET(err, "memory store");
	m->base.m = &mem_methods;
	m->metric = mt;
	*out = &m->base;
	return 0;
}

/*
 * TEA's RAG actions over the public store and embedder APIs:
 * embedding.create, vector.store, vector.query (vector.index_files lives
 * in index_files.c). Parameter names and result shapes are TEA's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rag/rag_int.h"
#include "util/common.h"

/* ---- shared --------------------------------------------------------- */

int tv_rag__fail(json_t **out, int code, const char *fmt, ...)
{
	char msg[TV_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	json_decref(*out);
	*out = json_pack("{s:b,s:s}", "success", 0, "error", msg);
	tv_err_set(NULL, code, "%s", msg);
	return code;
}

int tv_rag__store(tv_rag *r, tv_store **out, json_t **res)
{
	const char *type = json_string_value(json_object_get(r->settings, "vector_store"));
	char *js;
	int rc;
	if (!r->store) {
		js = json_dumps(r->settings, JSON_COMPACT);
		rc = tv_store_open(&r->store, type ? type : "memory", js);
		free(js);
		if (rc)
			return tv_rag__fail(res, rc, "settings.rag.vector_store: %s", tv_last_errmsg());
	}
	*out = r->store;
	return 0;
}

int tv_rag__embedder(tv_rag *r, const json_t *params, tv_embedder **out, json_t **res)
{
	const json_t *model = json_object_get(params, "model");
	json_t *settings;
	char *js;
	int rc;
	if (model && !json_is_string(model))
		return tv_rag__fail(res, TV_EINVAL, "model: expected a string");
	if (model && (!r->model || strcmp(r->model, json_string_value(model)))) {
		/* another model than the current one: reopen with it */
		tv_embedder_free(r->embedder);
		r->embedder = NULL;
		free(r->model);
		r->model = tv_strdup(json_string_value(model));
	}
	if (!r->embedder) {
		settings = json_deep_copy(r->settings);
		if (r->model)
			json_object_set_new(settings, "embedding_model", json_string(r->model));
		js = json_dumps(settings, JSON_COMPACT);
		json_decref(settings);
		rc = tv_embedder_open(&r->embedder, js);
		free(js);
		if (rc)
			return tv_rag__fail(res, rc, "settings.rag.embedding_provider: %s",
			                    tv_last_errmsg());
	}
	*out = r->embedder;
	return 0;
}

/* texts parameter: a string or a list of strings -> borrowed array. */
int tv_rag__texts(const json_t *params, const char *key, const char ***texts, size_t *n,
                  bool *single, json_t **res)
{
	const json_t *t = json_object_get(params, key), *x;
	size_t i;
	*texts = NULL;
	*n = 0;
	*single = json_is_string(t);
	if (*single) {
		*texts = malloc(sizeof **texts);
		if (!*texts)
			return tv_rag__fail(res, TV_ENOMEM, "%s: out of memory", key);
		(*texts)[0] = json_string_value(t);
		*n = 1;
		return 0;
	}
	if (!json_is_array(t))
		return tv_rag__fail(res, TV_EINVAL, "%s: expected a string or a list of strings", key);
	*texts = tv_mallocarray(json_array_size(t), sizeof **texts);
	if (!*texts)
		return tv_rag__fail(res, TV_ENOMEM, "%s: out of memory", key);
	json_array_foreach(t, i, x) {
		if (!json_is_string(x)) {
			free(*texts);
			*texts = NULL;
			return tv_rag__fail(res, TV_EINVAL, "%s[%zu]: expected a string", key, i);
		}
		(*texts)[i] = json_string_value(x);
	}
	*n = json_array_size(t);
	return 0;
}

static json_t *vec_json(const float *v, size_t dim)
{
	json_t *a = json_array();
	for (size_t i = 0; i < dim; i++)
		json_array_append_new(a, json_real(v[i]));
	return a;
}

const char *tv_rag__collection(const json_t *params)
{
	const char *c = json_string_value(json_object_get(params, "collection"));
	return c && *c ? c : "default";
}

/* ---- embedding.create ----------------------------------------------- */

static int embedding_create(tv_rag *r, const json_t *params, json_t **res)
{
	tv_embedder *e;
	const char **texts = NULL;
	float *out = NULL;
	size_t n, dim;
	bool single;
	int rc;
	if ((rc = tv_rag__texts(params, "text", &texts, &n, &single, res)) ||
	    (rc = tv_rag__embedder(r, params, &e, res)))
		goto done;
	dim = tv_embedder_dim(e);
	if (!(out = tv_mallocarray(n, dim * sizeof *out))) {
		rc = tv_rag__fail(res, TV_ENOMEM, "text: out of memory for %zu embeddings", n);
		goto done;
	}
	if (n && (rc = tv_embedder_embed(e, texts, n, out))) {
		rc = tv_rag__fail(res, rc, "text: %s", tv_embedder_errmsg(e));
		goto done;
	}
	if (single) {
		*res = json_pack("{s:o,s:s,s:i}", "embedding", vec_json(out, dim), "model",
		                 tv_embedder_id(e), "dimensions", (json_int_t)dim);
	} else {
		json_t *all = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(all, vec_json(out + i * dim, dim));
		*res = json_pack("{s:o,s:s,s:i,s:i}", "embeddings", all, "model", tv_embedder_id(e),
		                 "count", (json_int_t)n, "dimensions", (json_int_t)dim);
	}
done:
	free(texts);
	free(out);
	return rc;
}

/* ---- vector.store --------------------------------------------------- */

/* Per-row metadata: one object for all rows or a list of n objects. A
 * string "path" in it also fills the row's path column: TEA's dict filters
 * and LanceDB's `path = '...'` name the source that way, and teavec reads
 * `path` in a filter as the column. */
static int store_metadata(const json_t *params, size_t n, char **meta, char **paths,
                          json_t **res)
{
	const json_t *m = json_object_get(params, "metadata");
	if (!m || json_is_null(m))
		return 0;
	if (json_is_array(m) && json_array_size(m) != n)
		return tv_rag__fail(res, TV_EINVAL, "metadata: %zu objects for %zu texts",
		                    json_array_size(m), n);
	if (!json_is_array(m) && !json_is_object(m))
		return tv_rag__fail(res, TV_EINVAL, "metadata: expected an object or a list of objects");
	for (size_t i = 0; i < n; i++) {
		const json_t *x = json_is_array(m) ? json_array_get(m, i) : m;
		if (json_is_null(x))
			continue;
		if (!json_is_object(x))
			return tv_rag__fail(res, TV_EINVAL, "metadata[%zu]: expected an object", i);
		if (!(meta[i] = json_dumps(x, JSON_COMPACT)))
			return tv_rag__fail(res, TV_ENOMEM, "metadata: out of memory");
		if (json_is_string(json_object_get(x, "path")) &&
		    !(paths[i] = tv_strdup(json_string_value(json_object_get(x, "path")))))
			return tv_rag__fail(res, TV_ENOMEM, "metadata: out of memory");
	}
	return 0;
}

/* ids: given (string or list of n strings) or fresh UUIDv4s. */
static int store_ids(const json_t *params, size_t n, char **ids, json_t **res)
{
	const json_t *g = json_object_get(params, "ids");
	if (json_is_string(g) && n == 1) {
		if (!(ids[0] = tv_strdup(json_string_value(g))))
			return tv_rag__fail(res, TV_ENOMEM, "ids: out of memory");
	} else if (g && !json_is_null(g)) {
		if (!json_is_array(g) || json_array_size(g) != n)
			return tv_rag__fail(res, TV_EINVAL, "ids: expected a list of %zu strings", n);
		for (size_t i = 0; i < n; i++) {
			const json_t *x = json_array_get(g, i);
			if (!json_is_string(x))
				return tv_rag__fail(res, TV_EINVAL, "ids[%zu]: expected a string", i);
			if (!(ids[i] = tv_strdup(json_string_value(x))))
				return tv_rag__fail(res, TV_ENOMEM, "ids: out of memory");
		}
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (ids[i])
			continue;
		if (!(ids[i] = malloc(37)) || tv_uuid4(ids[i]))
			return tv_rag__fail(res, TV_EIO, "ids: cannot generate a UUID");
	}
	return 0;
}

/* embeddings: given (a list of n lists, or one list for a single text)
 * or computed by the embedder. */
static int store_vectors(tv_rag *r, const json_t *params, const char **texts, size_t n,
                         bool single, float **vecs, size_t *dim, json_t **res)
{
	const json_t *g = json_object_get(params, "embeddings"), *row;
	tv_embedder *e;
	int rc;
	if (!g || json_is_null(g)) {
		if ((rc = tv_rag__embedder(r, params, &e, res)))
			return rc;
		*dim = tv_embedder_dim(e);
		if (!(*vecs = tv_mallocarray(n, *dim * sizeof **vecs)))
			return tv_rag__fail(res, TV_ENOMEM, "texts: out of memory");
		if ((rc = tv_embedder_embed(e, texts, n, *vecs)))
			return tv_rag__fail(res, rc, "texts: embedding failed: %s", tv_embedder_errmsg(e));
		return 0;
	}
	if (single && json_is_array(g) && json_is_number(json_array_get(g, 0)))
		g = json_pack("[O]", g);
	else
		json_incref((json_t *)g);
	rc = 0;
	if (!json_is_array(g) || json_array_size(g) != n) {
		rc = tv_rag__fail(res, TV_EINVAL, "embeddings: expected %zu lists of numbers", n);
		goto done;
	}
	*dim = json_array_size(json_array_get(g, 0));
	if (*dim == 0 || !(*vecs = tv_mallocarray(n, *dim * sizeof **vecs))) {
		rc = tv_rag__fail(res, TV_EINVAL, "embeddings[0]: expected a non-empty list of numbers");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		row = json_array_get(g, i);
		if (json_array_size(row) != *dim) {
			rc = tv_rag__fail(res, TV_EINVAL,
			                  "embeddings[%zu]: dimension %zu, but embeddings[0] has %zu", i,
			                  json_array_size(row), *dim);
			goto done;
		}
		for (size_t j = 0; j < *dim; j++) {
			const json_t *x = json_array_get(row, j);
			if (!json_is_number(x)) {
				rc = tv_rag__fail(res, TV_EINVAL, "embeddings[%zu][%zu]: not a number", i, j);
				goto done;
			}
			(*vecs)[i * *dim + j] = (float)json_number_value(x);
		}
	}
done:
	json_decref((json_t *)g);
	return rc;
}

static int vector_store(tv_rag *r, const json_t *params, json_t **res)
{
	const char **texts = NULL, *coll = tv_rag__collection(params);
	char **ids = NULL, **meta = NULL, **paths = NULL;
	float *vecs = NULL;
	tv_record *recs = NULL;
	tv_store *s;
	size_t n = 0, dim = 0, stored = 0;
	bool single;
	int rc;
	if ((rc = tv_rag__texts(params, "texts", &texts, &n, &single, res)))
		return rc;
	ids = calloc(n ? n : 1, sizeof *ids);
	meta = calloc(n ? n : 1, sizeof *meta);
	paths = calloc(n ? n : 1, sizeof *paths);
	recs = calloc(n ? n : 1, sizeof *recs);
	if (!ids || !meta || !paths || !recs) {
		rc = tv_rag__fail(res, TV_ENOMEM, "texts: out of memory");
		goto done;
	}
	if ((rc = store_ids(params, n, ids, res)) || (rc = store_metadata(params, n, meta, paths, res)) ||
	    (rc = tv_rag__store(r, &s, res)) ||
	    (n && (rc = store_vectors(r, params, texts, n, single, &vecs, &dim, res))))
		goto done;
	for (size_t i = 0; i < n; i++)
		recs[i] = (tv_record){ids[i], texts[i], paths[i], meta[i], vecs + i * dim};
	if (n && (rc = tv_store_add(s, coll, recs, n, dim, &stored))) {
		rc = tv_rag__fail(res, rc, "%s", tv_store_errmsg(s));
		goto done;
	}
	{
		json_t *idl = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(idl, json_string(ids[i]));
		*res = json_pack("{s:b,s:i,s:s,s:o}", "success", 1, "stored", (json_int_t)stored,
		                 "collection", coll, "ids", idl);
	}
done:
	for (size_t i = 0; i < n; i++) {
		free(ids ? ids[i] : NULL);
		free(meta ? meta[i] : NULL);
		free(paths ? paths[i] : NULL);
	}
	free(ids);
	free(paths);
	free(meta);
	free(recs);
	free(vecs);
	free(texts);
	return rc;
}

/* ---- vector.query --------------------------------------------------- */

static json_t *result_json(const tv_result *it, size_t dim, bool with_vec)
{
	json_t *meta = json_loads(it->metadata, 0, NULL);
	json_t *o = json_pack("{s:s,s:s,s:f,s:o}", "id", it->id, "text", it->text, "score",
	                      (double)it->score, "metadata", meta ? meta : json_object());
	if (it->path)
		json_object_set_new(o, "path", json_string(it->path));
	if (with_vec && it->vector)
		json_object_set_new(o, "embedding", vec_json(it->vector, dim));
	return o;
}

static int query_filter(const json_t *params, tv_query *q, char **dict, json_t **res)
{
	const json_t *f = json_object_get(params, "filter");
	const json_t *w = json_object_get(params, "where");
	if (json_is_string(f))
		q->where = json_string_value(f);
	else if (json_is_object(f))
		q->filter_json = *dict = json_dumps(f, JSON_COMPACT);
	else if (f && !json_is_null(f))
		return tv_rag__fail(res, TV_EINVAL, "filter: expected an object or a SQL string");
	if (json_is_string(w)) {
		if (q->where)
			return tv_rag__fail(res, TV_EINVAL, "where: give either filter (SQL) or where");
		q->where = json_string_value(w);
	}
	return 0;
}

static int vector_query(tv_rag *r, const json_t *params, json_t **res)
{
	const json_t *jq = json_object_get(params, "query"), *jk = json_object_get(params, "k");
	const json_t *jp = json_object_get(params, "nprobes"), *jr = json_object_get(params, "refine_factor");
	const json_t *jx = json_object_get(params, "exact");
	const char *text = json_string_value(jq), *coll = tv_rag__collection(params);
	tv_query q = TV_QUERY_INIT;
	tv_results *out = NULL;
	tv_embedder *e;
	tv_store *s;
	char *dict = NULL;
	float *qv = NULL;
	int rc;
	if (!text)
		return tv_rag__fail(res, TV_EINVAL, "query: expected a string");
	if (jk && (!json_is_integer(jk) || json_integer_value(jk) < 1 ||
	           json_integer_value(jk) > 100000))
		return tv_rag__fail(res, TV_EINVAL, "k: expected an integer from 1 to 100000");
	if (jp && (!json_is_integer(jp) || json_integer_value(jp) < 1 ||
	           json_integer_value(jp) > 1000000))
		return tv_rag__fail(res, TV_EINVAL, "nprobes: expected an integer from 1 to 1000000");
	if (jr && (!json_is_integer(jr) || json_integer_value(jr) < 1 ||
	           json_integer_value(jr) > 1000))
		return tv_rag__fail(res, TV_EINVAL, "refine_factor: expected an integer from 1 to 1000");
	if (jx && !json_is_boolean(jx))
		return tv_rag__fail(res, TV_EINVAL, "exact: expected true or false");
	if ((rc = query_filter(params, &q, &dict, res)) || (rc = tv_rag__embedder(r, params, &e, res)) ||
	    (rc = tv_rag__store(r, &s, res)))
		goto done;
	if (!(qv = tv_mallocarray(tv_embedder_dim(e), sizeof *qv))) {
		rc = tv_rag__fail(res, TV_ENOMEM, "query: out of memory");
		goto done;
	}
	if ((rc = tv_embedder_embed(e, &text, 1, qv))) {
		rc = tv_rag__fail(res, rc, "query: embedding failed: %s", tv_embedder_errmsg(e));
		goto done;
	}
	q.vector = qv;
	q.dim = tv_embedder_dim(e);
	q.k = jk ? (int)json_integer_value(jk) : 5;
	q.collection = coll;
	q.include_embeddings = json_is_true(json_object_get(params, "include_embeddings"));
	q.exact = json_is_true(jx);
	q.nprobes = jp ? (int)json_integer_value(jp) : 0;
	q.refine_factor = jr ? (int)json_integer_value(jr) : 0;
	if ((rc = tv_store_query(s, &q, &out))) {
		rc = tv_rag__fail(res, rc, "%s", tv_store_errmsg(s));
		goto done;
	}
	{
		json_t *list = json_array();
		for (size_t i = 0; i < out->n; i++)
			json_array_append_new(list, result_json(&out->items[i], out->dim,
			                                        q.include_embeddings));
		*res = json_pack("{s:b,s:o,s:s,s:s,s:i}", "success", 1, "results", list, "query", text,
		                 "collection", coll, "k", (json_int_t)q.k);
	}
done:
	tv_results_free(out);
	free(qv);
	free(dict);
	return rc;
}

/* ---- dispatch ------------------------------------------------------- */

static const struct {
	const char *name;
	int (*fn)(tv_rag *r, const json_t *params, json_t **res);
} actions[] = {
	{"embedding.create", embedding_create},
	{"vector.store", vector_store},
	{"vector.query", vector_query},
	{"vector.index_files", tv_rag__index_files},
};

void tv_rag_set_progress(tv_rag *r, tv_index_progress_fn fn, void *ctx)
{
	r->progress = fn;
	r->progress_ctx = ctx;
}

bool tv_rag_has_action(const char *name)
{
	for (size_t i = 0; i < TV_ARRAY_LEN(actions); i++)
		if (!strcmp(actions[i].name, name))
			return true;
	return false;
}

int tv_rag_call(tv_rag *r, const char *action, const json_t *params, json_t **out)
{
	*out = NULL;
	if (!json_is_object(params))
		return tv_rag__fail(out, TV_EINVAL, "%s: parameters must be a mapping", action);
	for (size_t i = 0; i < TV_ARRAY_LEN(actions); i++) {
		if (strcmp(actions[i].name, action))
			continue;
		int rc = actions[i].fn(r, params, out);
		if (!*out)
			return tv_rag__fail(out, rc ? rc : TV_ENOMEM, "%s: failed", action);
		return rc;
	}
	return tv_rag__fail(out, TV_EINVAL, "unknown action '%s'", action);
}

int tv_rag_open(tv_rag **out, const json_t *settings, tv_err *err)
{
	tv_rag *r = calloc(1, sizeof *r);
	*out = NULL;
	if (!r)
		return TV_ENOMEM_SET(err, "rag context");
	if (settings && !json_is_object(settings)) {
		free(r);
		return tv_err_set(err, TV_EINVAL, "settings.rag: expected a mapping");
	}
	r->settings = settings ? json_deep_copy(settings) : json_object();
	*out = r;
	return 0;
}

void tv_rag_close(tv_rag *r)
{
	if (!r)
		return;
	tv_store_close(r->store);
	tv_embedder_free(r->embedder);
	json_decref(r->settings);
	free(r->model);
	free(r);
}

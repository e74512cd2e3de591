/*
 * vector.index_files: walk, chunk, embed and upsert files incrementally.
 *
 * Each collection C has a file-state table "C.files" beside it, a real
 * table of the same schema: one row per indexed file with id = path =
 * the file's path, metadata {size, mtime_ns, hash, embedder, chunk_by,
 * chunks}, and as vector the file's own embedding (the normalised mean of
 * its chunks' vectors: `vector.query` on C.files finds similar files).
 *
 * A run:
 *  1. lists the files (walk.c) and loads the file state;
 *  2. skips a file whose size and mtime are recorded, without reading it;
 *     reads the others, and skips one whose content hash is recorded
 *     (touched, not changed: only its state row is refreshed);
 *  3. chunks and embeds changed and new files, and commits them in
 *     batches: ONE commit per batch deletes every old chunk of the
 *     batch's files (`path IN (...)`, through the filter AST) and adds the
 *     new ones, so a reader never sees a file with no chunks or with two
 *     versions; then the batch's state rows are committed;
 *  4. removes the chunks and state of files under the given roots that no
 *     longer exist.
 * An interrupted run loses at most the batch in flight: its files' state
 * rows were not written, so the next run redoes them (replacing whatever
 * chunks the lost batch may have committed).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rag/chunk.h"
#include "rag/rag_int.h"
#include "rag/walk.h"
#include "util/common.h"
#include "util/strmap.h"

#define BATCH_FILES 1024               /* one path IN (...) the equality index serves */
#define BATCH_BYTES ((size_t)8 << 20)  /* text per commit */
#define EMBED_BATCH 256                /* texts per embedder call */
#define MAX_CHUNK 4000                 /* bytes per line/paragraph chunk */
#define DEFAULT_MAX_FILE ((uint64_t)10 << 20)

/* ---- the file state --------------------------------------------------- */

typedef struct fstate {
	uint64_t size;
	int64_t mtime_ns;
	char hash[40];
	json_t *meta; /* the row's metadata, parsed */
	bool seen;    /* found by this run's walk */
} fstate;

typedef struct state {
	tv_results *rows;
	fstate *st;
	tv_strmap map; /* path -> index */
} state;

static const char *state_key(const void *ctx, size_t v, size_t *len)
{
	const state *s = ctx;
	*len = strlen(s->rows->items[v].id);
	return s->rows->items[v].id;
}

static void state_free(state *s)
{
	tv_strmap_free(&s->map);
	for (size_t i = 0; s->st && s->rows && i < s->rows->n; i++)
		json_decref(s->st[i].meta);
	free(s->st);
	tv_results_free(s->rows);
	memset(s, 0, sizeof *s);
}

static int state_load(tv_store *store, const char *coll, state *s, json_t **res)
{
	memset(s, 0, sizeof *s);
	if (tv_store_get(store, coll, NULL, NULL, 0, 0, &s->rows))
		return tv_rag__fail(res, TV_EIO, "collection '%s': %s", coll, tv_store_errmsg(store));
	tv_strmap_init(&s->map, state_key, s);
	if (!(s->st = calloc(s->rows->n ? s->rows->n : 1, sizeof *s->st)) ||
	    tv_strmap_reserve(&s->map, s->rows->n))
		return tv_rag__fail(res, TV_ENOMEM, "file state: out of memory");
	for (size_t i = 0; i < s->rows->n; i++) {
		json_t *m = json_loads(s->rows->items[i].metadata, 0, NULL);
		fstate *f = &s->st[i];
		const char *h = json_string_value(json_object_get(m, "hash"));
		f->size = (uint64_t)json_integer_value(json_object_get(m, "size"));
		f->mtime_ns = (int64_t)json_integer_value(json_object_get(m, "mtime_ns"));
		snprintf(f->hash, sizeof f->hash, "%s", h ? h : "");
		f->meta = m;
		tv_strmap_put(&s->map, s->rows->items[i].id, strlen(s->rows->items[i].id), i);
	}
	return 0;
}

static const char *st_str(const fstate *f, const char *key)
{
	const char *v = json_string_value(json_object_get(f->meta, key));
	return v ? v : "";
}

/* ---- one run ---------------------------------------------------------- */

typedef struct pending_file {
	char *path;
	uint64_t size;
	int64_t mtime_ns;
	char hash[40];
	size_t first, nchunks; /* its chunks in the batch */
} pending_file;

typedef struct run {
	tv_rag *r;
	tv_store *store;
	tv_embedder *emb;
	const char *coll;
	char *state_coll;
	tv_chunk_by by;
	size_t dim;
	bool overwrite; /* the dimension changed: the first commit rewrites */
	/* the batch */
	pending_file *files;
	size_t nfiles;
	tv_record *recs;
	char **texts; /* owned chunk texts */
	char **ids, **metas;
	float *vecs;
	size_t nrecs, caprecs;
	size_t bytes;
	/* results */
	size_t indexed, unchanged, chunks, bytes_total, bad_utf8;
	json_t *files_out, *errors, *skipped, *warnings, *messages;
	double t0;
	tv_index_progress prog;
} run;

static void report(run *u, const char *current)
{
	if (!u->r->progress)
		return;
	u->prog.current = current;
	u->prog.elapsed_s = tv_monotonic_s() - u->t0;
	u->prog.chunks = u->chunks;
	u->r->progress(u->r->progress_ctx, &u->prog);
}

static void batch_clear(run *u)
{
	for (size_t i = 0; i < u->nfiles; i++)
		free(u->files[i].path);
	for (size_t i = 0; i < u->nrecs; i++) {
		free(u->texts[i]);
		free(u->ids[i]);
		free(u->metas[i]);
	}
	u->nfiles = 0;
	u->nrecs = 0;
	u->bytes = 0;
}

static void run_free(run *u)
{
	batch_clear(u);
	free(u->files);
	free(u->recs);
	free(u->texts);
	free(u->ids);
	free(u->metas);
	free(u->vecs);
	free(u->state_coll);
	json_decref(u->files_out);
	json_decref(u->errors);
	json_decref(u->skipped);
	json_decref(u->warnings);
	json_decref(u->messages);
}

static int grow_recs(run *u, size_t extra)
{
	size_t need = u->nrecs + extra, cap = u->caprecs ? u->caprecs : 1024;
	if (need <= u->caprecs)
		return 0;
	while (cap < need)
		cap *= 2;
	tv_record *r = tv_reallocarray(u->recs, cap, sizeof *r);
	if (r)
		u->recs = r;
	char **t = r ? tv_reallocarray(u->texts, cap, sizeof *t) : NULL;
	if (t)
		u->texts = t;
	char **i = t ? tv_reallocarray(u->ids, cap, sizeof *i) : NULL;
	if (i)
		u->ids = i;
	char **m = i ? tv_reallocarray(u->metas, cap, sizeof *m) : NULL;
	if (m)
		u->metas = m;
	float *v = m ? tv_reallocarray(u->vecs, cap, u->dim * sizeof *v) : NULL;
	if (!v)
		return TV_ENOMEM;
	u->vecs = v;
	u->caprecs = cap;
	return 0;
}

static void content_hash(const char *d, size_t n, char out[40])
{
	snprintf(out, 40, "%016" PRIx64 "%016" PRIx64, tv_hash64_seed(d, n, 0x7465617665630001ULL),
	         tv_hash64_seed(d, n, 0x7465617665630002ULL));
}

/* Commits the batch: chunks (replacing the files' old ones), then state. */
static int flush(run *u, json_t **res)
{
	json_t *paths, *filter;
	tv_record *srec = NULL;
	char **smeta = NULL;
	float *svec = NULL;
	char *fj;
	size_t gone = 0;
	int rc = 0;
	if (u->nfiles == 0)
		return 0;
	/* embed what the batch holds, EMBED_BATCH texts per call */
	for (size_t i = 0; i < u->nrecs; i += EMBED_BATCH) {
		size_t n = TV_MIN(EMBED_BATCH, u->nrecs - i);
		if ((rc = tv_embedder_embed(u->emb, (const char *const *)u->texts + i, n,
		                            u->vecs + i * u->dim)))
			return tv_rag__fail(res, rc, "embedding %s: %s", u->files[0].path,
			                    tv_embedder_errmsg(u->emb));
	}
	for (size_t i = 0; i < u->nrecs; i++)
		u->recs[i].vector = u->vecs + i * u->dim;
	paths = json_array();
	for (size_t i = 0; i < u->nfiles; i++)
		json_array_append_new(paths, json_string(u->files[i].path));
	filter = json_pack("{s:o}", "path_in", paths);
	fj = json_dumps(filter, JSON_COMPACT);
	json_decref(filter);
	if (!fj)
		return tv_rag__fail(res, TV_ENOMEM, "index: out of memory");
	if (u->overwrite)
		rc = tv_store_overwrite(u->store, u->coll, u->recs, u->nrecs, u->dim);
	else
		rc = tv_store_replace(u->store, u->coll, NULL, fj, u->recs, u->nrecs, u->dim, &gone);
	if (rc)
		rc = tv_rag__fail(res, rc, "collection '%s': %s", u->coll, tv_store_errmsg(u->store));
	free(fj);
	if (rc)
		return rc;
	/* the state rows: the file's embedding is the mean of its chunks' */
	srec = calloc(u->nfiles, sizeof *srec);
	smeta = calloc(u->nfiles, sizeof *smeta);
	svec = calloc(u->nfiles * u->dim, sizeof *svec);
	if (!srec || !smeta || !svec) {
		rc = tv_rag__fail(res, TV_ENOMEM, "file state: out of memory");
		goto done;
	}
	for (size_t i = 0; i < u->nfiles; i++) {
		pending_file *f = &u->files[i];
		float *v = svec + i * u->dim;
		double norm = 0;
		for (size_t c = 0; c < f->nchunks; c++)
			for (size_t d = 0; d < u->dim; d++)
				v[d] += u->vecs[(f->first + c) * u->dim + d];
		for (size_t d = 0; d < u->dim; d++)
			norm += (double)v[d] * v[d];
		for (size_t d = 0; norm > 0 && d < u->dim; d++)
			v[d] = (float)(v[d] / sqrt(norm));
		smeta[i] = tv_sprintf("{\"size\":%" PRIu64 ",\"mtime_ns\":%" PRId64
		                      ",\"hash\":\"%s\",\"embedder\":\"%s\",\"chunk_by\":\"%s\","
		                      "\"chunks\":%zu}",
		                      f->size, f->mtime_ns, f->hash, tv_embedder_id(u->emb),
		                      tv_chunk_by_name(u->by), f->nchunks);
		if (!smeta[i]) {
			rc = tv_rag__fail(res, TV_ENOMEM, "file state: out of memory");
			goto done;
		}
		srec[i].id = f->path;
		srec[i].text = "";
		srec[i].path = f->path;
		srec[i].metadata = smeta[i];
		srec[i].vector = v;
	}
	if (u->overwrite)
		rc = tv_store_overwrite(u->store, u->state_coll, srec, u->nfiles, u->dim);
	else
		rc = tv_store_add(u->store, u->state_coll, srec, u->nfiles, u->dim, NULL);
	u->overwrite = false;
	if (rc)
		rc = tv_rag__fail(res, rc, "collection '%s': %s", u->state_coll,
		                  tv_store_errmsg(u->store));
	for (size_t i = 0; !rc && i < u->nfiles; i++)
		json_array_append_new(u->files_out, json_string(u->files[i].path));
done:
	for (size_t i = 0; smeta && i < u->nfiles; i++)
		free(smeta[i]);
	free(smeta);
	free(srec);
	free(svec);
	batch_clear(u);
	return rc;
}

/* Refreshes the state row of files whose content did not change (only
 * their mtime did), keeping their stored file vector. */
static int touch(run *u, state *s, const tv_walk_file *wf, const char *hash, json_t **res)
{
	tv_results *old = NULL;
	json_t *filter = json_pack("{s:s}", "id", wf->path);
	char *fj = json_dumps(filter, JSON_COMPACT), *meta = NULL;
	size_t k = tv_strmap_get(&s->map, wf->path, strlen(wf->path));
	tv_record rec;
	int rc;
	json_decref(filter);
	if (!fj)
		return tv_rag__fail(res, TV_ENOMEM, "file state: out of memory");
	rc = tv_store_get(u->store, u->state_coll, NULL, fj, 1, 1, &old);
	free(fj);
	if (rc)
		return tv_rag__fail(res, rc, "collection '%s': %s", u->state_coll,
		                    tv_store_errmsg(u->store));
	if (old->n == 1 && old->dim == u->dim) {
		meta = tv_sprintf("{\"size\":%" PRIu64 ",\"mtime_ns\":%" PRId64
		                  ",\"hash\":\"%s\",\"embedder\":\"%s\",\"chunk_by\":\"%s\","
		                  "\"chunks\":%" JSON_INTEGER_FORMAT "}",
		                  wf->size, wf->mtime_ns, hash, tv_embedder_id(u->emb),
		                  tv_chunk_by_name(u->by),
		                  json_integer_value(json_object_get(s->st[k].meta, "chunks")));
		rec.id = wf->path;
		rec.text = "";
		rec.path = wf->path;
		rec.metadata = meta;
		rec.vector = old->items[0].vector;
		if (!meta)
			rc = tv_rag__fail(res, TV_ENOMEM, "file state: out of memory");
		else if ((rc = tv_store_add(u->store, u->state_coll, &rec, 1, u->dim, NULL)))
			rc = tv_rag__fail(res, rc, "collection '%s': %s", u->state_coll,
			                  tv_store_errmsg(u->store));
	}
	free(meta);
	tv_results_free(old);
	return rc;
}

static void skip(run *u, const char *path, const char *why)
{
	json_array_append_new(u->skipped, json_pack("{s:s,s:s}", "path", path, "reason", why));
}

/* Chunks one file into the batch (texts, ids, metadata). */
static int add_chunks(run *u, const tv_walk_file *wf, const char *text, size_t n,
                      const char *hash, json_t **res)
{
	tv_chunk *ch = NULL;
	size_t nch = 0;
	pending_file *pf;
	char *qpath;
	uint64_t ph = tv_hash64(wf->path, strlen(wf->path));
	bool long_path = strlen(wf->path) > 900;
	if (tv_chunk_text(text, n, u->by, u->by == TV_CHUNK_DOCUMENT ? 0 : MAX_CHUNK, &ch, &nch) ||
	    grow_recs(u, nch)) {
		free(ch);
		return tv_rag__fail(res, TV_ENOMEM, "%s: out of memory chunking", wf->path);
	}
	pf = &u->files[u->nfiles];
	memset(pf, 0, sizeof *pf);
	if (!(pf->path = tv_strdup(wf->path))) {
		free(ch);
		return tv_rag__fail(res, TV_ENOMEM, "%s: out of memory", wf->path);
	}
	u->nfiles++;
	pf->size = wf->size;
	pf->mtime_ns = wf->mtime_ns;
	snprintf(pf->hash, sizeof pf->hash, "%s", hash);
	pf->first = u->nrecs;
	pf->nchunks = nch;
	{
		json_t *js = json_string(wf->path);
		qpath = js ? json_dumps(js, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
		json_decref(js);
		if (!qpath) {
			free(ch);
			return tv_rag__fail(res, TV_ENOMEM, "%s: out of memory", wf->path);
		}
	}
	for (size_t i = 0; i < nch; i++) {
		size_t k = u->nrecs;
		u->texts[k] = tv_strndup(text + ch[i].off, ch[i].len);
		if (long_path)
			u->ids[k] = tv_sprintf("%016" PRIx64 "#%zu:%08" PRIx64, ph, i,
			                       tv_hash64(text + ch[i].off, ch[i].len) & 0xFFFFFFFFu);
		else
			u->ids[k] = tv_sprintf("%s#%zu:%08" PRIx64, wf->path, i,
			                       tv_hash64(text + ch[i].off, ch[i].len) & 0xFFFFFFFFu);
		/* the path was JSON-escaped once above; the rest are numbers and names */
		u->metas[k] = tv_sprintf("{\"file\":%s,\"start_line\":%u,\"end_line\":%u,"
		                         "\"chunk_type\":\"%s\"}",
		                         qpath, ch[i].start_line, ch[i].end_line,
		                         tv_chunk_by_name(u->by));
		if (!u->texts[k] || !u->ids[k] || !u->metas[k]) {
			free(u->texts[k]);
			free(u->ids[k]);
			free(u->metas[k]);
			free(ch);
			free(qpath);
			return tv_rag__fail(res, TV_ENOMEM, "%s: out of memory", wf->path);
		}
		u->recs[k].id = u->ids[k];
		u->recs[k].text = u->texts[k];
		u->recs[k].path = pf->path;
		u->recs[k].metadata = u->metas[k];
		u->nrecs++;
		u->bytes += ch[i].len;
	}
	u->chunks += nch;
	free(ch);
	free(qpath);
	return 0;
}

/* One walked file: skip, touch or add to the batch (flushing when full). */
static int one_file(run *u, state *s, const tv_walk *w, const tv_walk_file *wf, bool incr,
                    bool reembed, uint64_t max_size, json_t **res)
{
	size_t k = tv_strmap_get(&s->map, wf->path, strlen(wf->path));
	fstate *st = k == TV_STRMAP_NONE ? NULL : &s->st[k];
	bool same_setup = st && !reembed && !strcmp(st_str(st, "chunk_by"), tv_chunk_by_name(u->by));
	char *data = NULL, *fixed = NULL, hash[40];
	size_t n = 0, nfixed = 0, nbad = 0;
	tv_err err = {0};
	int rc;
	if (st)
		st->seen = true;
	if (incr && same_setup && st->size == wf->size && st->mtime_ns == wf->mtime_ns &&
	    wf->mtime_ns != 0) {
		u->unchanged++;
		return 0;
	}
	if (wf->size > max_size) {
		char why[96];
		snprintf(why, sizeof why, "larger than max_file_size (%" PRIu64 " > %" PRIu64 " bytes)",
		         wf->size, max_size);
		skip(u, wf->path, why);
		return 0;
	}
	if ((rc = tv_walk_read(w, wf, &data, &n, &err))) {
		if (rc == TV_ENOMEM)
			return tv_rag__fail(res, rc, "%s", err.msg);
		json_array_append_new(u->errors, json_pack("{s:s,s:s}", "path", wf->path, "error",
		                                           err.msg));
		return 0;
	}
	u->prog.bytes_done += n;
	if (tv_text_is_binary(data, n)) {
		free(data);
		skip(u, wf->path, "binary content");
		return 0;
	}
	content_hash(data, n, hash);
	if (incr && same_setup && !strcmp(st->hash, hash)) {
		/* touched, not changed: refresh the state row only */
		tv_walk_file cur = *wf;
		free(data);
		cur.size = n;
		u->unchanged++;
		return touch(u, s, &cur, hash, res);
	}
	if ((rc = tv_utf8_repair(data, n, &fixed, &nfixed, &nbad))) {
		free(data);
		return tv_rag__fail(res, rc, "%s: out of memory", wf->path);
	}
	if (nbad) {
		char msg[96];
		snprintf(msg, sizeof msg, "%zu invalid UTF-8 sequence%s replaced by U+FFFD", nbad,
		         nbad == 1 ? "" : "s");
		json_array_append_new(u->warnings,
		                      json_pack("{s:s,s:s}", "path", wf->path, "warning", msg));
		u->bad_utf8++;
	}
	if (u->nfiles == BATCH_FILES || u->bytes >= BATCH_BYTES) {
		if ((rc = flush(u, res))) {
			free(data);
			free(fixed);
			return rc;
		}
	}
	{
		tv_walk_file cur = *wf;
		cur.size = n; /* what was read and hashed */
		rc = add_chunks(u, &cur, fixed ? fixed : data, fixed ? nfixed : n, hash, res);
	}
	u->indexed++;
	u->bytes_total += n;
	free(data);
	free(fixed);
	return rc;
}

/* Whether a recorded path is under one of the roots (so its absence means
 * the file is gone, not that it was indexed from elsewhere). */
static bool under_roots(const char *path, char **roots, size_t nroots)
{
	for (size_t i = 0; i < nroots; i++) {
		size_t n = strlen(roots[i]);
		if (!strncmp(path, roots[i], n) &&
		    (path[n] == 0 || path[n] == '/' || (n && roots[i][n - 1] == '/')))
			return true;
	}
	return false;
}

static bool gone_for_good(const char *path)
{
	struct stat st;
	if (strstr(path, "://"))
		return true; /* not listed under its root: removed */
	return stat(path, &st) != 0 && errno == ENOENT;
}

/* Removes the chunks and state of files that disappeared, in batches. */
static int remove_gone(run *u, state *s, char **roots, size_t nroots, size_t *removed,
                       json_t **res)
{
	json_t *batch = json_array();
	int rc = 0;
	*removed = 0;
	for (size_t i = 0; s->rows && i <= s->rows->n && !rc; i++) {
		if (i < s->rows->n) {
			const char *p = s->rows->items[i].id;
			if (s->st[i].seen || !under_roots(p, roots, nroots) || !gone_for_good(p))
				continue;
			json_array_append_new(batch, json_string(p));
		}
		if (json_array_size(batch) == BATCH_FILES ||
		    (i == s->rows->n && json_array_size(batch))) {
			json_t *f = json_pack("{s:O}", "path_in", batch);
			char *fj = json_dumps(f, JSON_COMPACT);
			size_t gone = 0;
			json_decref(f);
			if (!fj)
				rc = tv_rag__fail(res, TV_ENOMEM, "index: out of memory");
			else if ((rc = tv_store_replace(u->store, u->coll, NULL, fj, NULL, 0, 0, &gone)) ||
			         (rc = tv_store_replace(u->store, u->state_coll, NULL, fj, NULL, 0, 0,
			                                &gone)))
				rc = tv_rag__fail(res, rc, "removing deleted files: %s",
				                  tv_store_errmsg(u->store));
			*removed += json_array_size(batch);
			free(fj);
			json_array_clear(batch);
		}
	}
	json_decref(batch);
	return rc;
}

/* ---- parameters ------------------------------------------------------- */

static int get_bool(const json_t *params, const char *key, bool def, bool *out, json_t **res)
{
	const json_t *v = json_object_get(params, key);
	*out = def;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return tv_rag__fail(res, TV_EINVAL, "%s: expected true or false", key);
	*out = json_is_true(v);
	return 0;
}

/* A string or list of strings, or (for extensions) a comma-separated string. */
static int get_list(const json_t *params, const char *key, bool split_commas,
                    const char ***out, size_t *n, char **scratch, json_t **res)
{
	const json_t *v = json_object_get(params, key), *x;
	size_t i;
	*out = NULL;
	*n = 0;
	*scratch = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t cnt = 1;
		if (!split_commas) {
			if (!(*out = malloc(sizeof **out)))
				return tv_rag__fail(res, TV_ENOMEM, "%s: out of memory", key);
			(*out)[0] = s;
			*n = 1;
			return 0;
		}
		for (const char *p = s; *p; p++)
			cnt += *p == ',';
		if (!(*scratch = tv_strdup(s)) || !(*out = calloc(cnt, sizeof **out))) {
			free(*scratch);
			*scratch = NULL;
			return tv_rag__fail(res, TV_ENOMEM, "%s: out of memory", key);
		}
		for (char *tok = strtok(*scratch, ", "); tok; tok = strtok(NULL, ", "))
			(*out)[(*n)++] = tok;
		return 0;
	}
	if (!json_is_array(v))
		return tv_rag__fail(res, TV_EINVAL, "%s: expected a string or a list of strings", key);
	if (!(*out = calloc(json_array_size(v) + 1, sizeof **out)))
		return tv_rag__fail(res, TV_ENOMEM, "%s: out of memory", key);
	json_array_foreach(v, i, x) {
		if (!json_is_string(x) || !*json_string_value(x)) {
			free(*out);
			*out = NULL;
			return tv_rag__fail(res, TV_EINVAL, "%s[%zu]: expected a non-empty string", key, i);
		}
		(*out)[(*n)++] = json_string_value(x);
	}
	return 0;
}

int tv_rag__index_files(tv_rag *r, const json_t *params, json_t **res)
{
	const char **paths = NULL, **exts = NULL;
	size_t npaths = 0, nexts = 0, removed = 0;
	char *pscratch = NULL, *escratch = NULL, **roots = NULL;
	const json_t *jv;
	const char *pattern = "**/*", *by_name = "paragraph", *old_emb = NULL;
	bool recursive, incremental, reembed = false;
	uint64_t max_size = DEFAULT_MAX_FILE;
	tv_walk w = {0};
	tv_walk_opts wo;
	state s = {0};
	run u;
	tv_results *probe = NULL;
	int rc;
	memset(&u, 0, sizeof u);
	u.r = r;
	u.t0 = tv_monotonic_s();
	u.coll = tv_rag__collection(params);
	if ((rc = get_list(params, "paths", false, &paths, &npaths, &pscratch, res)))
		return rc;
	if (npaths == 0) {
		free(paths);
		return tv_rag__fail(res, TV_EINVAL, "paths: give a file, a directory or a URI");
	}
	if ((rc = get_list(params, "extensions", true, &exts, &nexts, &escratch, res)) ||
	    (rc = get_bool(params, "recursive", true, &recursive, res)) ||
	    (rc = get_bool(params, "incremental", true, &incremental, res)))
		goto out;
	if ((jv = json_object_get(params, "pattern")) && !json_is_null(jv)) {
		if (!json_is_string(jv) || !*json_string_value(jv)) {
			rc = tv_rag__fail(res, TV_EINVAL, "pattern: expected a glob such as \"**/*.md\"");
			goto out;
		}
		pattern = json_string_value(jv);
	}
	if ((jv = json_object_get(params, "chunk_by")) && !json_is_null(jv)) {
		by_name = json_string_value(jv);
		if (!by_name || tv_chunk_by_parse(by_name, &u.by)) {
			rc = tv_rag__fail(res, TV_EINVAL,
			                  "chunk_by: expected \"line\", \"paragraph\" or \"document\"");
			goto out;
		}
	} else {
		tv_chunk_by_parse(by_name, &u.by);
	}
	if ((jv = json_object_get(params, "max_file_size")) && !json_is_null(jv)) {
		if (!json_is_integer(jv) || json_integer_value(jv) < 1) {
			rc = tv_rag__fail(res, TV_EINVAL, "max_file_size: expected a positive integer (bytes)");
			goto out;
		}
		max_size = (uint64_t)json_integer_value(jv);
	}
	if ((rc = tv_rag__store(r, &u.store, res)) || (rc = tv_rag__embedder(r, params, &u.emb, res)))
		goto out;
	u.dim = tv_embedder_dim(u.emb);
	if (!(u.state_coll = tv_sprintf("%s.files", u.coll)) ||
	    !(u.files = calloc(BATCH_FILES, sizeof *u.files)) || !(roots = calloc(npaths, sizeof *roots))) {
		rc = tv_rag__fail(res, TV_ENOMEM, "index: out of memory");
		goto out;
	}
	u.files_out = json_array();
	u.errors = json_array();
	u.skipped = json_array();
	u.warnings = json_array();
	u.messages = json_array();
	/* the collection's dimension must be the embedder's */
	if (tv_store_get(u.store, u.coll, NULL, NULL, 1, 0, &probe)) {
		rc = tv_rag__fail(res, TV_EIO, "collection '%s': %s", u.coll, tv_store_errmsg(u.store));
		goto out;
	}
	if ((rc = state_load(u.store, u.state_coll, &s, res)))
		goto out;
	for (size_t i = 0; i < (s.rows ? s.rows->n : 0); i++)
		if (strcmp(st_str(&s.st[i], "embedder"), tv_embedder_id(u.emb))) {
			old_emb = st_str(&s.st[i], "embedder");
			reembed = true;
			break;
		}
	if ((probe->n && probe->dim != u.dim) || (s.rows && s.rows->n && s.rows->dim != u.dim)) {
		/* new dimension: the first commit rewrites both tables */
		reembed = u.overwrite = true;
		if (!old_emb)
			old_emb = "?";
	}
	if (reembed) {
		char msg[512];
		snprintf(msg, sizeof msg,
		         "embedder changed from '%s' to '%s': re-embedding every file%s", old_emb,
		         tv_embedder_id(u.emb),
		         u.overwrite ? " (new dimension: the collection is rewritten; its older "
		                       "versions stay readable)" : "");
		json_array_append_new(u.messages, json_string(msg));
	}
	wo.pattern = pattern;
	wo.recursive = recursive;
	wo.exts = exts;
	wo.nexts = nexts;
	for (size_t i = 0; i < npaths; i++) {
		tv_err err = {0};
		if ((rc = tv_walk_add(&w, paths[i], &wo, &err))) {
			rc = tv_rag__fail(res, rc, "paths[%zu]: %s", i, err.msg);
			goto out;
		}
		if (!(roots[i] = tv_walk_root_form(paths[i]))) {
			rc = tv_rag__fail(res, TV_ENOMEM, "index: out of memory");
			goto out;
		}
	}
	tv_walk_finish(&w);
	for (size_t i = 0; i < w.n; i++)
		u.prog.bytes_total += w.files[i].size;
	u.prog.files_total = w.n;
	if (w.errors)
		json_array_extend(u.errors, w.errors);
	/* one index build at the end instead of one per batch; the file-state
	 * table is never searched by vector: no index for it */
	if (tv_store_set_auto_index(u.store, u.coll, 0) ||
	    tv_store_set_auto_index(u.store, u.state_coll, 0)) {
		rc = tv_rag__fail(res, TV_ENOMEM, "index: %s", tv_store_errmsg(u.store));
		goto out;
	}
	for (size_t i = 0; i < w.n && !rc; i++) {
		rc = one_file(&u, &s, &w, &w.files[i], incremental, reembed, max_size, res);
		u.prog.files_done = i + 1;
		report(&u, w.files[i].path);
	}
	if (!rc)
		rc = flush(&u, res);
	if (!rc && u.overwrite && /* no file left to write: empty both */
	    ((rc = tv_store_overwrite(u.store, u.coll, NULL, 0, u.dim)) ||
	     (rc = tv_store_overwrite(u.store, u.state_coll, NULL, 0, u.dim))))
		rc = tv_rag__fail(res, rc, "collection '%s': %s", u.coll, tv_store_errmsg(u.store));
	if (!rc)
		rc = remove_gone(&u, &s, roots, npaths, &removed, res);
	if (tv_store_set_auto_index(u.store, u.coll, 1) && !rc)
		rc = tv_rag__fail(res, TV_EIO, "collection '%s': vector index: %s", u.coll,
		                  tv_store_errmsg(u.store));
	if (!rc) {
		json_t *out = json_object();
		json_object_set_new(out, "success", json_true());
		json_object_set_new(out, "indexed", json_integer((json_int_t)u.indexed));
		json_object_set_new(out, "skipped",
		                    json_integer((json_int_t)(u.unchanged + json_array_size(u.skipped))));
		json_object_set_new(out, "unchanged", json_integer((json_int_t)u.unchanged));
		json_object_set_new(out, "removed", json_integer((json_int_t)removed));
		json_object_set_new(out, "chunks", json_integer((json_int_t)u.chunks));
		json_object_set_new(out, "bytes", json_integer((json_int_t)u.bytes_total));
		json_object_set_new(out, "seconds", json_real(tv_monotonic_s() - u.t0));
		json_object_set_new(out, "collection", json_string(u.coll));
		json_object_set(out, "files", u.files_out);
		json_object_set(out, "errors", u.errors);
		json_object_set(out, "skipped_files", u.skipped);
		json_object_set(out, "warnings", u.warnings);
		json_object_set(out, "messages", u.messages);
		json_decref(*res);
		*res = out;
	}
out:
	tv_results_free(probe);
	for (size_t i = 0; roots && i < npaths; i++)
		free(roots[i]);
	free(roots);
	state_free(&s);
	tv_walk_free(&w);
	run_free(&u);
	free(paths);
	free(exts);
	free(pscratch);
	free(escratch);
	return rc;
}

/*
 * vector.index_files: walk, chunk, embed and upsert files incrementally.
 *
 * Each collection C has a file-state table "C.files" beside it, a real
 * table of the same schema: one row per indexed file with id = path =
 * the file's path, metadata {size, mtime_ns, hash, embedder, chunk_by,
 * chunks, embedder_settings} (embedder_settings: what opens the embedder
 * again, e.g. {"embedding_provider": "static", "embedding_model":
 * "/abs/glove.txt"}, for `teavec search`), and as vector the file's own
 * embedding (the normalised mean of its chunks' vectors: `vector.query` on
 * C.files finds similar files).
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
 *
 * Steps 2-3 are a pipeline on two threads (with two CPUs): a producer
 * thread reads, hashes, repairs, chunks and embeds the files in order into
 * a batch and hands it over when full; the calling thread (the committer)
 * commits the batches in order through the store, which only it touches.
 * Two batches exist, one filling while the other commits. Touched files'
 * state refreshes are handed over in the same queue, so every commit
 * happens in the order one thread would make it; a producer failure is
 * handed over as a batch carrying the error, committed (as the error)
 * after what came before it; a commit failure stops the producer. The
 * embedder is only called by the producer. With one CPU, TEAVEC_THREADS=1,
 * or no thread to be had, the caller runs both stages in turn.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "embed/embed.h"
#include "rag/chunk.h"
#include "rag/rag_int.h"
#include "rag/walk.h"
#include "util/common.h"
#include "util/parallel.h"
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

/* A chunk's strings, as offsets in its batch's arena (which may move while
 * the batch fills). */
typedef struct chunk_ref {
	size_t text, id, meta;
} chunk_ref;

/* What one commit writes. The producer fills it (files, chunk texts, ids
 * and metadata in the arena), then prepare() embeds it and makes its
 * records, path filter and state rows; the committer only calls the store.
 * A batch is reused: clearing it keeps its buffers. */
typedef struct batch {
	pending_file *files; /* BATCH_FILES */
	size_t nfiles;
	chunk_ref *refs;
	tv_record *recs;
	const char **texts;
	float *vecs;
	size_t nrecs, caprecs, capvecs;
	size_t bytes; /* chunk text */
	tv_buf arena;
	/* made by prepare() */
	char *filter;   /* {"path_in": [...]} */
	tv_record *srec; /* BATCH_FILES state rows */
	size_t *soff;    /* their metadata in smeta */
	tv_buf smeta;
	float *svec;     /* BATCH_FILES x dim file vectors */
	/* the producer stopped here: rc and message (committed as the error,
	 * after what was handed over before) */
	int rc;
	char msg[TV_ERRMSG_MAX];
	bool last; /* nothing follows */
	struct item *it; /* how it is queued */
} batch;

/* A touched file (same content, new mtime): only its state row is
 * refreshed, in order with the batches. */
typedef struct touch_op {
	char *path;
	uint64_t size;
	int64_t mtime_ns;
	char hash[40];
	json_int_t chunks;
} touch_op;

/* What the producer hands the committer, first in first out. */
typedef struct item {
	struct item *next;
	batch *b; /* a batch, or NULL: t */
	touch_op t;
} item;

#define NBATCHES 2 /* one filling while the other commits */

typedef struct run {
	tv_rag *r;
	tv_store *store;
	tv_embedder *emb;
	const char *emb_id;
	char *emb_id_json;  /* emb_id as a JSON string (model names are the user's) */
	char *emb_settings; /* JSON of tv_embedder__settings, in every state row */
	const char *coll;
	char *state_coll;
	tv_chunk_by by;
	size_t dim;
	bool overwrite; /* the dimension changed: the first commit rewrites (committer) */
	/* the producer's input */
	state *s;
	const tv_walk *w;
	bool incr, reembed;
	uint64_t max_size;
	/* the producer's results (read by the caller once it has joined) */
	size_t indexed, unchanged, chunks, bytes_total, bad_utf8;
	uint64_t bytes_read;
	json_t *errors, *skipped, *warnings;
	/* the committer's */
	json_t *files_out, *messages;
	double t0;
	tv_index_progress prog;
	/* the pipeline: two threads, or the producer committing itself */
	bool threaded, sync;
	batch *pool[NBATCHES];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu: */
	item *head, *tail;
	batch *idle[NBATCHES]; /* empty batches the producer may take */
	size_t nidle;
	bool stop;             /* the committer failed: the producer ends */
	tv_index_progress shared; /* the producer's progress */
} run;

static void report(run *u, const char *current)
{
	if (!u->r->progress)
		return;
	u->prog.current = current;
	u->prog.elapsed_s = tv_monotonic_s() - u->t0;
	u->r->progress(u->r->progress_ctx, &u->prog);
}

/* The committer's report of the producer's progress (threaded). */
static void report_shared(run *u)
{
	if (!u->r->progress)
		return;
	pthread_mutex_lock(&u->mu);
	u->prog.files_done = u->shared.files_done;
	u->prog.bytes_done = u->shared.bytes_done;
	u->prog.chunks = u->shared.chunks;
	u->prog.current = u->shared.current;
	pthread_mutex_unlock(&u->mu);
	report(u, u->prog.current);
}

/* The producer has handled done files, the last being path. Returns true
 * when it must stop (the committer failed). */
static bool progress(run *u, size_t done, const char *path)
{
	bool stop;
	if (!u->threaded) {
		u->prog.files_done = done;
		u->prog.bytes_done = u->bytes_read;
		u->prog.chunks = u->chunks;
		report(u, path);
		return false;
	}
	pthread_mutex_lock(&u->mu);
	u->shared.files_done = done;
	u->shared.bytes_done = u->bytes_read;
	u->shared.chunks = u->chunks;
	u->shared.current = path;
	stop = u->stop;
	pthread_mutex_unlock(&u->mu);
	return stop;
}

static void batch_free(batch *b);

static void run_free(run *u)
{
	for (size_t i = 0; i < NBATCHES; i++) {
		if (u->pool[i])
			free(u->pool[i]->it);
		batch_free(u->pool[i]);
	}
	if (u->sync) {
		pthread_mutex_destroy(&u->mu);
		pthread_cond_destroy(&u->cv);
	}
	free(u->state_coll);
	free(u->emb_settings);
	free(u->emb_id_json);
	json_decref(u->files_out);
	json_decref(u->errors);
	json_decref(u->skipped);
	json_decref(u->warnings);
	json_decref(u->messages);
}

/* ---- batches ---------------------------------------------------------- */

static void batch_clear(batch *b)
{
	for (size_t i = 0; i < b->nfiles; i++)
		free(b->files[i].path);
	free(b->filter);
	b->filter = NULL;
	b->nfiles = b->nrecs = b->bytes = 0;
	b->arena.len = b->smeta.len = 0;
	b->rc = 0;
	b->msg[0] = 0;
	b->last = false;
}

static void batch_free(batch *b)
{
	if (!b)
		return;
	batch_clear(b);
	free(b->files);
	free(b->refs);
	free(b->recs);
	free(b->texts);
	free(b->vecs);
	tv_buf_free(&b->arena);
	free(b->srec);
	free(b->soff);
	tv_buf_free(&b->smeta);
	free(b->svec);
	free(b);
}

static batch *batch_new(size_t dim)
{
	batch *b = calloc(1, sizeof *b);
	/* the arena holds up to BATCH_BYTES of text and its ids and metadata:
	 * reserved once (pages are only touched as it fills) */
	if (b && (tv_buf_reserve(&b->arena, BATCH_BYTES + BATCH_BYTES / 2) ||
	          !(b->files = calloc(BATCH_FILES, sizeof *b->files)) ||
	          !(b->srec = calloc(BATCH_FILES, sizeof *b->srec)) ||
	          !(b->soff = calloc(BATCH_FILES, sizeof *b->soff)) ||
	          !(b->svec = tv_mallocarray(BATCH_FILES, dim * sizeof *b->svec)))) {
		batch_free(b);
		return NULL;
	}
	return b;
}

__attribute__((format(printf, 3, 4)))
static int batch_fail(batch *b, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->msg, sizeof b->msg, fmt, ap);
	va_end(ap);
	b->rc = rc;
	return rc;
}

static int grow_recs(batch *b, size_t extra)
{
	size_t need = b->nrecs + extra, cap = b->caprecs ? b->caprecs : 4096;
	if (need <= b->caprecs)
		return 0;
	while (cap < need)
		cap *= 2;
	chunk_ref *c = tv_reallocarray(b->refs, cap, sizeof *c);
	if (c)
		b->refs = c;
	tv_record *r = c ? tv_reallocarray(b->recs, cap, sizeof *r) : NULL;
	if (r)
		b->recs = r;
	const char **t = r ? tv_reallocarray(b->texts, cap, sizeof *t) : NULL;
	if (!t)
		return TV_ENOMEM;
	b->texts = t;
	b->caprecs = cap;
	return 0;
}

/* Room for the batch's vectors, now that their number is known: a larger
 * buffer is a fresh one (nothing to copy), kept for the next batches. */
static int size_vecs(batch *b, size_t dim)
{
	if (b->nrecs <= b->capvecs)
		return 0;
	free(b->vecs);
	b->capvecs = b->nrecs + b->nrecs / 4;
	if (!(b->vecs = tv_mallocarray(b->capvecs, dim * sizeof *b->vecs))) {
		b->capvecs = 0;
		return TV_ENOMEM;
	}
	return 0;
}

/* Appends s[0..n) and a NUL to the arena; *off receives where it starts. */
static int arena_put(tv_buf *a, const char *s, size_t n, size_t *off)
{
	if (tv_buf_reserve(a, n))
		return TV_ENOMEM;
	*off = a->len;
	memcpy(a->data + a->len, s, n);
	a->len += n + 1;
	a->data[a->len - 1] = 0;
	return 0;
}

/* Appends to the string being built at the arena's end (no NUL counted). */
static int arena_cat(tv_buf *a, const char *s, size_t n)
{
	if (tv_buf_reserve(a, n))
		return TV_ENOMEM;
	memcpy(a->data + a->len, s, n);
	a->len += n;
	return 0;
}

static int arena_cat_u64(tv_buf *a, uint64_t v)
{
	char d[24];
	size_t i = sizeof d;
	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10));
	return arena_cat(a, d + i, sizeof d - i);
}

static void hex(char *out, uint64_t v, int digits)
{
	for (int i = digits - 1; i >= 0; i--, v >>= 4)
		out[i] = "0123456789abcdef"[v & 15];
}

static void content_hash(const char *d, size_t n, char out[40])
{
	snprintf(out, 40, "%016" PRIx64 "%016" PRIx64, tv_hash64_seed(d, n, 0x7465617665630001ULL),
	         tv_hash64_seed(d, n, 0x7465617665630002ULL));
}

/* One chunk's id and metadata at the arena's end: exactly
 * "%s#%zu:%08x" (or the path's hash for long paths) and
 * {"file":...,"start_line":...,"end_line":...,"chunk_type":"..."}. */
static int chunk_strings(batch *b, chunk_ref *r, const char *idp, size_t idn, size_t i,
                         uint64_t h, const char *qpath, const tv_chunk *c, const char *kind)
{
	tv_buf *a = &b->arena;
	char hx[9];
	hex(hx, h & 0xFFFFFFFFu, 8);
	hx[8] = ':';
	r->id = a->len;
	if (arena_cat(a, idp, idn) || arena_cat(a, "#", 1) || arena_cat_u64(a, i) ||
	    arena_cat(a, ":", 1) || arena_cat(a, hx, 8) || arena_cat(a, "", 1))
		return TV_ENOMEM;
	r->meta = a->len;
	if (arena_cat(a, "{\"file\":", 8) || arena_cat(a, qpath, strlen(qpath)) ||
	    arena_cat(a, ",\"start_line\":", 14) || arena_cat_u64(a, c->start_line) ||
	    arena_cat(a, ",\"end_line\":", 12) || arena_cat_u64(a, c->end_line) ||
	    arena_cat(a, ",\"chunk_type\":\"", 15) || arena_cat(a, kind, strlen(kind)) ||
	    arena_cat(a, "\"}", 3))
		return TV_ENOMEM;
	return 0;
}

/* Chunks one file into the batch (texts, ids, metadata). */
static int add_chunks(run *u, batch *b, const tv_walk_file *wf, const char *text, size_t n,
                      const char *hash)
{
	tv_chunk *ch = NULL;
	size_t nch = 0, plen = strlen(wf->path), idn = plen;
	pending_file *pf;
	json_t *js;
	char *qpath = NULL, ph[16];
	const char *idp = wf->path, *kind = tv_chunk_by_name(u->by);
	int rc = 0;
	if (plen > 900) { /* long paths: the path's hash stands for it in ids */
		hex(ph, tv_hash64(wf->path, plen), 16);
		idp = ph;
		idn = 16;
	}
	if (tv_chunk_text(text, n, u->by, u->by == TV_CHUNK_DOCUMENT ? 0 : MAX_CHUNK, &ch, &nch) ||
	    grow_recs(b, nch)) {
		free(ch);
		return batch_fail(b, TV_ENOMEM, "%s: out of memory chunking", wf->path);
	}
	pf = &b->files[b->nfiles];
	memset(pf, 0, sizeof *pf);
	js = json_string(wf->path);
	qpath = js ? json_dumps(js, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	json_decref(js);
	if (!qpath || !(pf->path = tv_strdup(wf->path))) {
		rc = batch_fail(b, TV_ENOMEM, "%s: out of memory", wf->path);
		goto done;
	}
	b->nfiles++;
	pf->size = wf->size;
	pf->mtime_ns = wf->mtime_ns;
	snprintf(pf->hash, sizeof pf->hash, "%s", hash);
	pf->first = b->nrecs;
	pf->nchunks = nch;
	for (size_t i = 0; i < nch; i++) {
		chunk_ref *r = &b->refs[b->nrecs];
		const char *t = text + ch[i].off;
		if (arena_put(&b->arena, t, ch[i].len, &r->text) ||
		    chunk_strings(b, r, idp, idn, i, tv_hash64(t, ch[i].len), qpath, &ch[i], kind)) {
			rc = batch_fail(b, TV_ENOMEM, "%s: out of memory", wf->path);
			goto done;
		}
		b->nrecs++;
		b->bytes += ch[i].len;
	}
	u->chunks += nch;
done:
	free(ch);
	free(qpath);
	return rc;
}

/* Makes a filled batch ready to commit: embeds its chunks (EMBED_BATCH
 * texts per call), and makes the records, the path filter and the state
 * rows (the file's embedding is the normalised mean of its chunks'). */
static int prepare(run *u, batch *b)
{
	json_t *paths, *filter;
	size_t dim = u->dim;
	if (b->nfiles == 0)
		return 0;
	if (size_vecs(b, dim))
		return batch_fail(b, TV_ENOMEM, "index: out of memory for %zu embeddings", b->nrecs);
	for (size_t f = 0; f < b->nfiles; f++)
		for (size_t c = 0; c < b->files[f].nchunks; c++) {
			size_t k = b->files[f].first + c;
			b->texts[k] = b->arena.data + b->refs[k].text;
			b->recs[k].id = b->arena.data + b->refs[k].id;
			b->recs[k].text = b->texts[k];
			b->recs[k].path = b->files[f].path;
			b->recs[k].metadata = b->arena.data + b->refs[k].meta;
			b->recs[k].vector = b->vecs + k * dim;
		}
	for (size_t i = 0; i < b->nrecs; i += EMBED_BATCH) {
		size_t n = TV_MIN(EMBED_BATCH, b->nrecs - i);
		int rc = tv_embedder_embed(u->emb, b->texts + i, n, b->vecs + i * dim);
		if (rc)
			return batch_fail(b, rc, "embedding %s: %s", b->files[0].path,
			                  tv_embedder_errmsg(u->emb));
	}
	paths = json_array();
	for (size_t i = 0; i < b->nfiles; i++)
		json_array_append_new(paths, json_string(b->files[i].path));
	filter = json_pack("{s:o}", "path_in", paths);
	b->filter = json_dumps(filter, JSON_COMPACT);
	json_decref(filter);
	if (!b->filter)
		return batch_fail(b, TV_ENOMEM, "index: out of memory");
	memset(b->svec, 0, b->nfiles * dim * sizeof *b->svec);
	for (size_t i = 0; i < b->nfiles; i++) {
		pending_file *f = &b->files[i];
		float *v = b->svec + i * dim;
		double norm = 0;
		for (size_t c = 0; c < f->nchunks; c++)
			for (size_t d = 0; d < dim; d++)
				v[d] += b->vecs[(f->first + c) * dim + d];
		for (size_t d = 0; d < dim; d++)
			norm += (double)v[d] * v[d];
		for (size_t d = 0; norm > 0 && d < dim; d++)
			v[d] = (float)(v[d] / sqrt(norm));
		b->soff[i] = b->smeta.len;
		if (tv_buf_printf(&b->smeta,
		                  "{\"size\":%" PRIu64 ",\"mtime_ns\":%" PRId64 ",\"hash\":\"%s\","
		                  "\"embedder\":%s,\"chunk_by\":\"%s\",\"chunks\":%zu,"
		                  "\"embedder_settings\":%s}",
		                  f->size, f->mtime_ns, f->hash, u->emb_id_json, tv_chunk_by_name(u->by),
		                  f->nchunks, u->emb_settings) ||
		    tv_buf_append(&b->smeta, "", 1))
			return batch_fail(b, TV_ENOMEM, "file state: out of memory");
		b->srec[i].id = f->path;
		b->srec[i].text = "";
		b->srec[i].path = f->path;
		b->srec[i].vector = v;
	}
	for (size_t i = 0; i < b->nfiles; i++)
		b->srec[i].metadata = b->smeta.data + b->soff[i];
	return 0;
}

/* ---- the committer ---------------------------------------------------- */

/* Commits a prepared batch: ONE commit of its chunks (replacing the
 * files' old ones), then its state rows. A batch the producer stopped at
 * commits nothing and fails with the producer's error. */
static int commit_batch(run *u, batch *b, json_t **res)
{
	size_t gone = 0;
	int rc;
	if (b->rc)
		return tv_rag__fail(res, b->rc, "%s", b->msg);
	if (b->nfiles == 0)
		return 0;
	if (u->overwrite)
		rc = tv_store_overwrite(u->store, u->coll, b->recs, b->nrecs, u->dim);
	else
		rc = tv_store_replace(u->store, u->coll, NULL, b->filter, b->recs, b->nrecs, u->dim,
		                      &gone);
	if (rc)
		return tv_rag__fail(res, rc, "collection '%s': %s", u->coll, tv_store_errmsg(u->store));
	if (u->overwrite)
		rc = tv_store_overwrite(u->store, u->state_coll, b->srec, b->nfiles, u->dim);
	else
		rc = tv_store_add(u->store, u->state_coll, b->srec, b->nfiles, u->dim, NULL);
	u->overwrite = false;
	if (rc)
		return tv_rag__fail(res, rc, "collection '%s': %s", u->state_coll,
		                    tv_store_errmsg(u->store));
	for (size_t i = 0; i < b->nfiles; i++)
		json_array_append_new(u->files_out, json_string(b->files[i].path));
	return 0;
}

/* Refreshes the state row of a file whose content did not change (only
 * its mtime did), keeping its stored file vector. */
static int touch(run *u, const touch_op *t, json_t **res)
{
	tv_results *old = NULL;
	json_t *filter = json_pack("{s:s}", "id", t->path);
	char *fj = json_dumps(filter, JSON_COMPACT), *meta = NULL;
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
		                  ",\"hash\":\"%s\",\"embedder\":%s,\"chunk_by\":\"%s\","
		                  "\"chunks\":%" JSON_INTEGER_FORMAT ",\"embedder_settings\":%s}",
		                  t->size, t->mtime_ns, t->hash, u->emb_id_json, tv_chunk_by_name(u->by),
		                  t->chunks, u->emb_settings);
		rec.id = t->path;
		rec.text = "";
		rec.path = t->path;
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

/* ---- the hand-over ---------------------------------------------------- */

#define STOP 1 /* the producer must stop: the committer failed */

static void push(run *u, item *it)
{
	pthread_mutex_lock(&u->mu);
	it->next = NULL;
	if (u->tail)
		u->tail->next = it;
	else
		u->head = it;
	u->tail = it;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
}

/* Hands the prepared batch *bp over - committed here with one thread,
 * else queued - and puts an empty batch in its place. Nonzero: stop
 * producing (with one thread: the commit's error, in *res; with two: the
 * committer failed, or this was the last batch; *bp is then NULL). */
static int hand_over(run *u, batch **bp, json_t **res)
{
	batch *b = *bp;
	bool last = b->last;
	int rc;
	if (!u->threaded) {
		rc = commit_batch(u, b, res);
		batch_clear(b);
		return rc;
	}
	*bp = NULL;
	b->it->b = b;
	push(u, b->it); /* the committer's from here on */
	if (last)
		return STOP;
	pthread_mutex_lock(&u->mu);
	while (!u->stop && u->nidle == 0)
		pthread_cond_wait(&u->cv, &u->mu);
	if (!u->stop)
		*bp = u->idle[--u->nidle];
	rc = u->stop ? STOP : 0;
	pthread_mutex_unlock(&u->mu);
	return rc;
}

/* A touched file's state refresh, in order with the batches. */
static int hand_touch(run *u, batch *b, const tv_walk_file *wf, uint64_t size,
                      const char *hash, json_int_t chunks, json_t **res)
{
	touch_op t = {(char *)wf->path, size, wf->mtime_ns, "", chunks};
	item *it;
	snprintf(t.hash, sizeof t.hash, "%s", hash);
	if (!u->threaded)
		return touch(u, &t, res);
	if (!(it = calloc(1, sizeof *it)) || !(t.path = tv_strdup(wf->path))) {
		free(it);
		return batch_fail(b, TV_ENOMEM, "file state: out of memory");
	}
	it->t = t;
	push(u, it);
	return 0;
}

/* ---- the producer ----------------------------------------------------- */

static void skip(run *u, const char *path, const char *why)
{
	json_array_append_new(u->skipped, json_pack("{s:s,s:s}", "path", path, "reason", why));
}

/* One walked file: skip, touch or add to the batch (handing the batch
 * over first when it is full). Nonzero: stop (the batch's rc says if the
 * producer failed). */
static int one_file(run *u, batch **bp, const tv_walk_file *wf, json_t **res)
{
	state *s = u->s;
	size_t k = tv_strmap_get(&s->map, wf->path, strlen(wf->path));
	fstate *st = k == TV_STRMAP_NONE ? NULL : &s->st[k];
	bool same_setup =
		st && !u->reembed && !strcmp(st_str(st, "chunk_by"), tv_chunk_by_name(u->by));
	char *data = NULL, *fixed = NULL, hash[40];
	size_t n = 0, nfixed = 0, nbad = 0;
	tv_err err = {0};
	tv_walk_file cur = *wf;
	int rc;
	if (st)
		st->seen = true;
	if (u->incr && same_setup && st->size == wf->size && st->mtime_ns == wf->mtime_ns &&
	    wf->mtime_ns != 0) {
		u->unchanged++;
		return 0;
	}
	if (wf->size > u->max_size) {
		char why[96];
		snprintf(why, sizeof why, "larger than max_file_size (%" PRIu64 " > %" PRIu64 " bytes)",
		         wf->size, u->max_size);
		skip(u, wf->path, why);
		return 0;
	}
	if ((rc = tv_walk_read(u->w, wf, &data, &n, &err))) {
		if (rc == TV_ENOMEM)
			return batch_fail(*bp, rc, "%s", err.msg);
		json_array_append_new(u->errors, json_pack("{s:s,s:s}", "path", wf->path, "error",
		                                           err.msg));
		return 0;
	}
	u->bytes_read += n;
	if (tv_text_is_binary(data, n)) {
		free(data);
		skip(u, wf->path, "binary content");
		return 0;
	}
	content_hash(data, n, hash);
	if (u->incr && same_setup && !strcmp(st->hash, hash)) {
		/* touched, not changed: refresh the state row only */
		free(data);
		u->unchanged++;
		return hand_touch(u, *bp, wf, n, hash,
		                  json_integer_value(json_object_get(st->meta, "chunks")), res);
	}
	if ((rc = tv_utf8_repair(data, n, &fixed, &nfixed, &nbad))) {
		free(data);
		return batch_fail(*bp, rc, "%s: out of memory", wf->path);
	}
	if (nbad) {
		char msg[96];
		snprintf(msg, sizeof msg, "%zu invalid UTF-8 sequence%s replaced by U+FFFD", nbad,
		         nbad == 1 ? "" : "s");
		json_array_append_new(u->warnings,
		                      json_pack("{s:s,s:s}", "path", wf->path, "warning", msg));
		u->bad_utf8++;
	}
	if (((*bp)->nfiles == BATCH_FILES || (*bp)->bytes >= BATCH_BYTES) &&
	    ((rc = prepare(u, *bp)) || (rc = hand_over(u, bp, res)))) {
		free(data);
		free(fixed);
		return rc;
	}
	cur.size = n; /* what was read and hashed */
	rc = add_chunks(u, *bp, &cur, fixed ? fixed : data, fixed ? nfixed : n, hash);
	u->indexed++;
	u->bytes_total += n;
	free(data);
	free(fixed);
	return rc;
}

/* Reads, hashes, chunks and embeds every walked file in order, handing
 * the batches over as they fill; the last one (or the one it failed at)
 * says so. With one thread, returns the run's status (*res set on
 * error); with two, the committer reports. */
static int produce(run *u, json_t **res)
{
	batch *b = u->pool[0];
	int rc = 0;
	for (size_t i = 0; i < u->w->n && !rc; i++) {
		rc = one_file(u, &b, &u->w->files[i], res);
		if (progress(u, i + 1, u->w->files[i].path) && !rc)
			rc = STOP;
	}
	if (rc && !(b && b->rc))
		return u->threaded ? 0 : rc; /* the commit failed: it said why */
	if (!b->rc)
		prepare(u, b);
	b->last = true;
	rc = hand_over(u, &b, res);
	return u->threaded ? 0 : rc;
}

static void *producer_main(void *p)
{
	produce(p, NULL);
	return NULL;
}

/* ---- the committer ---------------------------------------------------- */

/* The next item, reporting progress while it waits. */
static item *next_item(run *u)
{
	item *it;
	pthread_mutex_lock(&u->mu);
	while (!u->head) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 100000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&u->cv, &u->mu, &ts) == ETIMEDOUT && u->r->progress &&
		    !u->head) {
			pthread_mutex_unlock(&u->mu);
			report_shared(u);
			pthread_mutex_lock(&u->mu);
		}
	}
	it = u->head;
	u->head = it->next;
	if (!u->head)
		u->tail = NULL;
	pthread_mutex_unlock(&u->mu);
	return it;
}

/* Commits what the producer thread hands over, in order, until its last
 * batch or a failure (which stops the producer); joins it. */
static int commit_all(run *u, pthread_t producer, json_t **res)
{
	bool last = false;
	int rc = 0;
	while (!rc && !last) {
		item *it = next_item(u);
		if (it->b) {
			batch *b = it->b;
			rc = commit_batch(u, b, res);
			last = b->last;
			batch_clear(b);
			pthread_mutex_lock(&u->mu);
			u->idle[u->nidle++] = b;
			pthread_cond_broadcast(&u->cv);
			pthread_mutex_unlock(&u->mu);
			report_shared(u);
		} else {
			rc = touch(u, &it->t, res);
			free(it->t.path);
			free(it);
		}
	}
	pthread_mutex_lock(&u->mu);
	u->stop = rc != 0;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
	pthread_join(producer, NULL);
	while (u->head) { /* after a failure: what was queued behind it */
		item *it = u->head;
		u->head = it->next;
		if (!it->b) {
			free(it->t.path);
			free(it);
		}
	}
	u->tail = NULL;
	return rc;
}

/* Runs the pipeline: a producer thread and the caller's committing, or
 * with one CPU (or no thread to be had) the caller doing both in turn. */
static int pipeline(run *u, json_t **res)
{
	pthread_condattr_t ca;
	pthread_t th;
	u->threaded = tv_ncpu() > 1;
	for (size_t i = 0; i < (u->threaded ? NBATCHES : 1); i++)
		if (!(u->pool[i] = batch_new(u->dim)) ||
		    !(u->pool[i]->it = calloc(1, sizeof *u->pool[i]->it)))
			return tv_rag__fail(res, TV_ENOMEM, "index: out of memory");
	if (u->threaded) {
		u->threaded = false;
		if (pthread_condattr_init(&ca))
			return produce(u, res);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (!pthread_mutex_init(&u->mu, NULL)) {
			if (!pthread_cond_init(&u->cv, &ca)) {
				u->sync = true;
				for (size_t i = 1; i < NBATCHES; i++)
					u->idle[u->nidle++] = u->pool[i];
				u->threaded = true; /* before the producer reads it */
				if (pthread_create(&th, NULL, producer_main, u))
					u->threaded = false; /* no thread: no reader */
			} else {
				pthread_mutex_destroy(&u->mu);
			}
		}
		pthread_condattr_destroy(&ca);
	}
	if (!u->threaded)
		return produce(u, res);
	return commit_all(u, th, res); /* reports after the last batch too */
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
	json_t *gone_paths = json_array();
	int rc = 0;
	*removed = 0;
	for (size_t i = 0; s->rows && i <= s->rows->n && !rc; i++) {
		if (i < s->rows->n) {
			const char *p = s->rows->items[i].id;
			if (s->st[i].seen || !under_roots(p, roots, nroots) || !gone_for_good(p))
				continue;
			json_array_append_new(gone_paths, json_string(p));
		}
		if (json_array_size(gone_paths) == BATCH_FILES ||
		    (i == s->rows->n && json_array_size(gone_paths))) {
			json_t *f = json_pack("{s:O}", "path_in", gone_paths);
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
			*removed += json_array_size(gone_paths);
			free(fj);
			json_array_clear(gone_paths);
		}
	}
	json_decref(gone_paths);
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
	u.emb_id = tv_embedder_id(u.emb);
	{
		json_t *es = tv_embedder__settings(u.emb);
		json_t *id = json_string(u.emb_id);
		u.emb_settings = es ? json_dumps(es, JSON_COMPACT) : NULL;
		u.emb_id_json = id ? json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
		json_decref(es);
		json_decref(id);
	}
	if (!u.emb_settings || !u.emb_id_json || !(u.state_coll = tv_sprintf("%s.files", u.coll)) ||
	    !(roots = calloc(npaths, sizeof *roots))) {
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
	u.s = &s;
	u.w = &w;
	u.incr = incremental;
	u.reembed = reembed;
	u.max_size = max_size;
	rc = pipeline(&u, res);
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

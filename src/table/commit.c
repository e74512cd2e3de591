/*
 * Writing tables: upsert, delete and create, each ONE Lance commit
 * (LANCE-FORMAT.md section 3):
 *
 *   1. new immutable files under unique names: the data file of the new
 *      rows (data/<32 hex>.lance) and, for every fragment losing rows, a
 *      new cumulative deletion bitmap (_deletions/<frag>-<readver>-<id>.bin);
 *   2. the transaction (_transactions/<readver>-<uuid>.txn, and inline);
 *   3. the manifest of version N+1, created only if absent (link(2) on
 *      local disk). Losing that race to another writer (teavec or LanceDB)
 *      reloads the newest version and recomputes the deletions against it
 *      (the new data file is reused), up to MAX_ATTEMPTS, else
 *      TV_ECONFLICT. Nothing a reader can see changes before step 3.
 *
 * An upsert is a Lance Update operation (removed/updated/new fragments):
 * the old rows of re-used ids disappear in the same version in which the
 * new rows appear. Fragment ids only grow (max_fragment_id), and the index
 * section of the previous manifest is carried over untouched.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "table/pb.h"
#include "table/table_int.h"
#include "util/common.h"
#include "util/hugemem.h"
#include "util/parallel.h"

#define MAX_ATTEMPTS 64 /* LanceDB allows 20; our retries are cheap (only deletions are recomputed) */
/* Writer flags we can preserve: deletion files (1), deprecated v2 (4),
 * table config (8). */
#define WRITE_FLAGS_OK (1u | 4u | 8u)

/* ---- id index --------------------------------------------------------- */

struct tv_id_dup {
	size_t e;
	uint64_t addr;
};

static const char *ent_key(const void *ctx, size_t e, size_t *len)
{
	const tv_table *t = ctx;
	*len = t->ent_len[e];
	return t->id_arena.data + t->ent_off[e];
}

void tv_table__ids_free(tv_table *t)
{
	tv_strmap_free(&t->ids);
	tv_buf_free(&t->id_arena);
	tv_huge_free(t->ent_off, t->capent * sizeof *t->ent_off);
	tv_huge_free(t->ent_len, t->capent * sizeof *t->ent_len);
	tv_huge_free(t->ent_addr, t->capent * sizeof *t->ent_addr);
	free(t->seen_frags);
	free(t->dups);
	t->dups = NULL;
	t->ndups = t->capdups = 0;
	t->ent_off = NULL;
	t->ent_len = NULL;
	t->ent_addr = NULL;
	t->seen_frags = NULL;
	t->nent = t->capent = t->nseen = 0;
	t->probe_scans = 0; /* small upserts may scan again until it is rebuilt */
}

static size_t frag_index(const tv_table *t, uint64_t fid);

/* The row at addr (fragment id << 32 | offset) as an address in this
 * version (fragment index << 32 | offset), or UINT64_MAX when its
 * fragment is gone or the row deleted. */
static uint64_t live_addr(const tv_table *t, uint64_t addr)
{
	uint64_t off = addr & 0xFFFFFFFFu;
	size_t fi = frag_index(t, addr >> 32);
	if (fi == SIZE_MAX || off >= t->frags[fi].rows || tv_table__is_deleted(&t->frags[fi], off))
		return UINT64_MAX;
	return ((uint64_t)fi << 32) | off;
}

static int dup_push(tv_table *t, size_t e, uint64_t addr)
{
	if (t->ndups == t->capdups) {
		size_t cap = t->capdups ? t->capdups * 2 : 64;
		struct tv_id_dup *v = tv_reallocarray(t->dups, cap, sizeof *v);
		if (!v)
			return TV_ENOMEM;
		t->dups = v;
		t->capdups = cap;
	}
	t->dups[t->ndups++] = (struct tv_id_dup){e, addr};
	t->dups_sorted = false;
	return 0;
}

static int ent_put(tv_table *t, const char *id, size_t len, uint64_t hash, uint64_t addr)
{
	size_t e;
	int rc;
	if (!t->ids.key_of)
		tv_strmap_init(&t->ids, ent_key, t);
	if (t->nent == t->capent) { /* room first: the map may point at entry nent */
		size_t cap = t->capent ? t->capent * 2 : 1024, old = t->capent;
		uint64_t *off, *ad;
		uint32_t *len32;
		if (cap > SIZE_MAX / 8)
			return TV_ENOMEM;
		/* all three at the new size or none: their size is capent's */
		off = tv_huge_calloc(cap * sizeof *off);
		len32 = tv_huge_calloc(cap * sizeof *len32);
		ad = tv_huge_calloc(cap * sizeof *ad);
		if (!off || !len32 || !ad) {
			tv_huge_free(off, cap * sizeof *off);
			tv_huge_free(len32, cap * sizeof *len32);
			tv_huge_free(ad, cap * sizeof *ad);
			return TV_ENOMEM;
		}
		if (old) {
			memcpy(off, t->ent_off, old * sizeof *off);
			memcpy(len32, t->ent_len, old * sizeof *len32);
			memcpy(ad, t->ent_addr, old * sizeof *ad);
		}
		tv_huge_free(t->ent_off, old * sizeof *off);
		tv_huge_free(t->ent_len, old * sizeof *len32);
		tv_huge_free(t->ent_addr, old * sizeof *ad);
		t->ent_off = off;
		t->ent_len = len32;
		t->ent_addr = ad;
		t->capent = cap;
	}
	/* entry nent is filled in before the map can point at it */
	t->ent_off[t->nent] = t->id_arena.len;
	t->ent_len[t->nent] = (uint32_t)len;
	t->ent_addr[t->nent] = addr;
	if (tv_buf_append(&t->id_arena, id, len))
		return TV_ENOMEM;
	if ((e = tv_strmap_insert_h(&t->ids, id, len, hash, t->nent, &rc)) != TV_STRMAP_NONE) {
		t->id_arena.len -= len; /* a known id: the entry takes its newest row */
		if (live_addr(t, t->ent_addr[e]) != UINT64_MAX && dup_push(t, e, t->ent_addr[e]))
			return TV_ENOMEM; /* the older one is live: a repeated id */
		t->ent_addr[e] = addr;
		return 0;
	}
	if (!rc)
		t->nent++;
	else
		t->id_arena.len -= len;
	return rc;
}

static bool seen(const tv_table *t, uint64_t fid)
{
	size_t lo = 0, hi = t->nseen;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (t->seen_frags[mid] == fid)
			return true;
		if (t->seen_frags[mid] < fid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static int mark_seen(tv_table *t, uint64_t fid)
{
	uint64_t *v = tv_reallocarray(t->seen_frags, t->nseen + 1, sizeof *v);
	size_t i;
	if (!v)
		return TV_ENOMEM;
	t->seen_frags = v;
	for (i = t->nseen; i > 0 && v[i - 1] > fid; i--)
		v[i] = v[i - 1];
	v[i] = fid;
	t->nseen++;
	return 0;
}

/* The index holds, per id, the newest row it has seen, and skips rows
 * deleted when it read their fragment: right as long as deletions only
 * grow and fragments once gone stay gone. A restore breaks both (rows and
 * fragments come back), so it is rebuilt after one. */
void tv_table__ids_reloaded(tv_table *t, const tv_frag *old, size_t nold)
{
	size_t j = 0;
	if (!t->ids.key_of)
		return;
	for (size_t i = 0; i < t->nfrags; i++) { /* both sorted by fragment id */
		const tv_frag *f = &t->frags[i];
		bool back;
		while (j < nold && old[j].id < f->id)
			j++;
		if (j < nold && old[j].id == f->id && !tv_table__same_files(old[j].pb, f->pb))
			back = true; /* the id names other files: the table was made again */
		else if (j < nold && old[j].id == f->id) /* rows deleted before, live now? */
			back = old[j].deleted &&
			       (!f->deleted || !roaring_bitmap_is_subset(old[j].deleted, f->deleted));
		else /* a fragment indexed, then gone, now back */
			back = seen(t, f->id);
		if (back) {
			tv_table__ids_free(t);
			return;
		}
	}
}

/* Keys hashed ahead of their probe: enough to cover a memory latency. */
#define PREFETCH 16

/* Adds the ids of fragments this handle has not indexed yet. */
int tv_table__build_ids(tv_table *t, tv_err *err)
{
	uint64_t more = 0, hr[PREFETCH];
	int rc;
	for (size_t fi = 0; fi < t->nfrags; fi++)
		if (!seen(t, t->frags[fi].id))
			more += t->frags[fi].rows;
	if (!t->ids.key_of)
		tv_strmap_init(&t->ids, ent_key, t);
	if (more > 1024 && tv_strmap_reserve(&t->ids, (size_t)more)) /* no rehashing as it grows */
		return TV_ENOMEM_SET(err, "id index");
	for (size_t fi = 0; fi < t->nfrags; fi++) {
		tv_frag *f = &t->frags[fi];
		const tv_strcol *s = &f->str[TV_COL_ID];
		if (seen(t, f->id))
			continue;
		if ((rc = tv_table__strings(t, f, TV_COL_ID, err)))
			return rc;
		/* row r is hashed and its slot prefetched PREFETCH rows before
		 * it is put (see tv_strmap_prefetch); hr[r % PREFETCH] holds its
		 * hash meanwhile */
		for (uint64_t r = 0; r < f->rows + PREFETCH; r++) {
			uint64_t q = r - PREFETCH;
			if (r >= PREFETCH && !tv_table__is_deleted(f, q) && (!s->valid || s->valid[q]) &&
			    ent_put(t, s->data + s->offsets[q], (size_t)(s->offsets[q + 1] - s->offsets[q]),
			            hr[q % PREFETCH], (f->id << 32) | q))
				return TV_ENOMEM_SET(err, "id index");
			if (r < f->rows) { /* after q's use: the same slot of hr */
				hr[r % PREFETCH] = tv_strmap_hash(s->data + s->offsets[r],
				                                  (size_t)(s->offsets[r + 1] - s->offsets[r]));
				tv_strmap_prefetch(&t->ids, hr[r % PREFETCH]);
			}
		}
		if (mark_seen(t, f->id))
			return TV_ENOMEM_SET(err, "id index");
	}
	return 0;
}

static size_t frag_index(const tv_table *t, uint64_t fid)
{
	size_t lo = 0, hi = t->nfrags;
	while (lo < hi) { /* manifests list fragments by id */
		size_t mid = (lo + hi) / 2;
		if (t->frags[mid].id == fid)
			return mid;
		if (t->frags[mid].id < fid)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = 0; i < t->nfrags; i++) /* in case a writer did not sort them */
		if (t->frags[i].id == fid)
			return i;
	return SIZE_MAX;
}

/* The ids of a commit's new rows (fragment fid, in order) go into the
 * index before the commit point, while the data file syncs (publish waits
 * for it anyway; 10,000 new ids cost 0.8 ms at 1M rows here), and come
 * out again if the commit fails. hs: their hashes, from the lookups; the
 * rows are at hand, so the next write need not read the fragment's ids
 * back from its file. */
typedef struct ids_pending {
	uint64_t fid;
	size_t nent0, arena0; /* entries and id bytes before */
	size_t *e;            /* entries of ids already known (NULL: nothing pending)... */
	uint64_t *was;        /* ...and the rows they named */
	size_t nknown;
} ids_pending;

static void ids_pending_free(ids_pending *pd)
{
	free(pd->e);
	free(pd->was);
	memset(pd, 0, sizeof *pd);
}

static void ids_pending_undo(tv_table *t, ids_pending *pd)
{
	if (!pd->e)
		return;
	while (pd->nknown > 0) { /* in reverse: an id twice in the batch */
		pd->nknown--;
		t->ent_addr[pd->e[pd->nknown]] = pd->was[pd->nknown];
	}
	while (t->nent > pd->nent0) { /* the map finds them through the arena */
		size_t e = --t->nent;
		tv_strmap_del(&t->ids, t->id_arena.data + t->ent_off[e], t->ent_len[e]);
	}
	t->id_arena.len = pd->arena0;
	ids_pending_free(pd);
}

static void ids_pending_add(tv_table *t, ids_pending *pd, uint64_t fid, const char *const *ids,
                            const size_t *lens, const uint64_t *hs, size_t n)
{
	memset(pd, 0, sizeof *pd);
	if (!t->ids.key_of || !hs || seen(t, fid))
		return;
	if (!(pd->e = tv_mallocarray(n ? n : 1, sizeof *pd->e)) ||
	    !(pd->was = tv_mallocarray(n ? n : 1, sizeof *pd->was)) ||
	    tv_strmap_reserve(&t->ids, n)) {
		ids_pending_free(pd); /* the index stays as it is: built later */
		return;
	}
	pd->fid = fid;
	pd->nent0 = t->nent;
	pd->arena0 = t->id_arena.len;
	for (size_t i = 0; i < n + PREFETCH; i++) {
		size_t q = i - PREFETCH, e;
		if (i < n)
			tv_strmap_prefetch(&t->ids, hs[i]);
		if (i < PREFETCH)
			continue;
		if ((e = tv_strmap_get_h(&t->ids, ids[q], lens[q], hs[q])) != TV_STRMAP_NONE) {
			pd->e[pd->nknown] = e;
			pd->was[pd->nknown++] = t->ent_addr[e];
			t->ent_addr[e] = (fid << 32) | q;
		} else if (ent_put(t, ids[q], lens[q], hs[q], (fid << 32) | q)) {
			ids_pending_free(pd); /* no memory: no index, rebuilt on demand */
			tv_table__ids_free(t);
			return;
		}
	}
}

/* The commit went through and t holds its version: fid counts as indexed
 * (marked only now: a reload would take an indexed fragment it had not
 * seen before for one come back, and drop the index). */
static void ids_pending_done(tv_table *t, ids_pending *pd)
{
	if (pd->e && t->ids.key_of && mark_seen(t, pd->fid))
		tv_table__ids_free(t);
	ids_pending_free(pd);
}

/* ---- pieces of a commit ---------------------------------------------- */

typedef struct newfile {
	char name[64];
	uint64_t size;
	int32_t *fields;
	int32_t *cols;
	size_t nfields;
	uint64_t rows;
} newfile;

static void newfile_free(newfile *nf)
{
	free(nf->fields);
	free(nf->cols);
	memset(nf, 0, sizeof *nf);
}

static int col_of_field(const tv_table *t, int32_t id)
{
	for (int c = 0; c < TV_NCOLS; c++)
		if (t->field[c] == id)
			return c;
	return -1;
}

typedef struct rows_writer rows_writer;
static void rows_writer_written(rows_writer *w, int rc);

/* Writes the rows as one data file holding every top-level field of the
 * table's schema (which must all be ours). With rw, tells rw when the
 * bytes are written (nf complete), before the file is synced and
 * published. */
static int write_rows(tv_table *t, const Lance__Table__Manifest *m, const tv_row *rows, size_t n,
                      newfile *nf, rows_writer *rw, tv_err *err)
{
	tv_lance_schema s = {NULL, 0};
	tv_col_in *cols = NULL;
	const char **strs[TV_NCOLS] = {0};
	size_t *lens[TV_NCOLS] = {0};
	float *vecs = NULL;
	tv_wfile *w = NULL;
	unsigned char rnd[16];
	char *path = NULL;
	int rc = TV_ENOMEM;
	bool contiguous = true; /* the caller's vectors already form one matrix */
	for (size_t i = 1; i < n && contiguous; i++)
		contiguous = rows[i].vector == rows[0].vector + i * t->dim;
	if (!(s.fields = calloc(m->n_fields, sizeof *s.fields)) ||
	    !(cols = calloc(m->n_fields, sizeof *cols)) ||
	    !(nf->fields = calloc(m->n_fields, sizeof *nf->fields)) ||
	    !(nf->cols = calloc(m->n_fields, sizeof *nf->cols)) ||
	    (!contiguous && !(vecs = tv_mallocarray(n, (size_t)t->dim * sizeof *vecs))))
		goto done;
	for (int c = 0; c < TV_COL_VEC; c++)
		if (!(strs[c] = calloc(n, sizeof **strs)) || !(lens[c] = calloc(n, sizeof **lens)))
			goto done;
	for (size_t i = 0; i < n; i++) {
		strs[TV_COL_ID][i] = rows[i].id, lens[TV_COL_ID][i] = rows[i].id_len;
		strs[TV_COL_TEXT][i] = rows[i].text, lens[TV_COL_TEXT][i] = rows[i].text_len;
		strs[TV_COL_PATH][i] = rows[i].path, lens[TV_COL_PATH][i] = rows[i].path_len;
		strs[TV_COL_META][i] = rows[i].metadata_text;
		lens[TV_COL_META][i] = strlen(rows[i].metadata_text);
		if (vecs)
			memcpy(vecs + i * t->dim, rows[i].vector, t->dim * sizeof *vecs);
	}
	for (size_t i = 0; i < m->n_fields; i++) {
		Lance__File__Field *f = m->fields[i];
		int c;
		if (f->parent_id != -1)
			continue;
		if ((c = col_of_field(t, f->id)) < 0) {
			rc = tv_err_set(err, TV_EUNSUPPORTED,
			                "%s: column '%s' is not one teavec writes (id, text, path, "
			                "metadata, vector)", t->dir, f->name);
			goto done;
		}
		s.fields[s.n] = (tv_lance_field){f->id, -1, f->name, f->logical_type, f->nullable,
		                                 f->encoding};
		cols[s.n] = c == TV_COL_VEC ? (tv_col_in){TV_COL_F32_VEC, NULL, NULL,
		                                          vecs ? vecs : rows[0].vector, t->dim}
		                            : (tv_col_in){TV_COL_UTF8, strs[c], lens[c], NULL, 0};
		nf->fields[s.n] = f->id;
		nf->cols[s.n] = (int32_t)s.n;
		s.n++;
	}
	nf->nfields = s.n;
	nf->rows = n;
	if ((rc = tv_random_bytes(rnd, sizeof rnd)))
		goto done;
	for (int i = 0; i < 16; i++)
		snprintf(nf->name + 2 * i, 3, "%02x", rnd[i]);
	strcat(nf->name, ".lance");
	rc = TV_ENOMEM;
	if (!(path = tv_sprintf("%s/data/%s", t->dir, nf->name)))
		goto done;
	if ((rc = tv_io_open_write(t->io, path, &w, err)))
		goto done;
	if ((rc = tv_datafile_write(w, &s, cols, n, &nf->size, err))) {
		tv_wfile_abort(w);
		goto done;
	}
	if (rw) {
		rows_writer_written(rw, 0);
		if (tv_table__sync_pause_ms)
			nanosleep(&(struct timespec){tv_table__sync_pause_ms / 1000,
			                             (long)(tv_table__sync_pause_ms % 1000) * 1000000L},
			          NULL);
	}
	rc = tv_wfile_commit(w, 0, err);
done:
	if (rc == TV_ENOMEM)
		TV_ENOMEM_SET(err, "new data file");
	if (rw && rc)
		rows_writer_written(rw, rc); /* no-op if it was told already */
	for (int c = 0; c < TV_NCOLS; c++) {
		free(strs[c]);
		free(lens[c]);
	}
	free(s.fields);
	free(cols);
	free(vecs);
	free(path);
	return rc;
}

/* The new rows' data file, written on a thread of its own while the
 * committing thread looks up the rows those ids replace, then makes the
 * plan and writes the transaction file while this thread syncs and
 * publishes the data file (ingesting 1M x 128 in batches of 10,000: the
 * data file's fsync is disk-bound, about 6 ms a batch, and the lookups,
 * plan and transaction file take 4-5 ms). The manifest, which makes the
 * file part of the table, waits for the file to be durable under its name
 * (rows_writer_join). An upsert of 1,000 rows x 384 gains too: its
 * deletion file and transaction are written while the 1.5 MB data file
 * syncs (7.3 -> 6.0 ms here). Only for local tables (an object-store
 * handle keeps one connection), with two CPUs, and for batches worth a
 * thread. */
#define THREADED_WRITE_ROWS 256

unsigned tv_table__sync_pause_ms;

struct rows_writer {
	tv_table *t;
	const Lance__Table__Manifest *m;
	const tv_row *rows;
	size_t n;
	newfile *nf;
	tv_err err;
	int rc;
	bool joined;   /* no thread to wait for */
	bool written;  /* the bytes are written (or failed): nf is complete */
	int written_rc;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void rows_writer_written(rows_writer *w, int rc)
{
	pthread_mutex_lock(&w->mu);
	if (!w->written) {
		w->written = true;
		w->written_rc = rc;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
}

static void *rows_writer_run(void *arg)
{
	rows_writer *w = arg;
	w->rc = write_rows(w->t, w->m, w->rows, w->n, w->nf, w, &w->err);
	return NULL;
}

/* Starts the write, on a thread if that pays, else right here. */
static int rows_writer_start(rows_writer *w)
{
	tv_err_clear(&w->err);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (w->n >= THREADED_WRITE_ROWS && tv_ncpu() > 1 &&
	    (tv_io_caps(w->t->io) & TV_IO_CAP_LOCAL) &&
	    pthread_create(&w->th, NULL, rows_writer_run, w) == 0)
		return 0;
	w->joined = w->written = true;
	return w->rc = write_rows(w->t, w->m, w->rows, w->n, w->nf, NULL, &w->err);
}

/* Waits for the file to be durable and published; its error, if any, goes
 * to err unless rc says err holds one. */
static int rows_writer_join(rows_writer *w, int rc, tv_err *err)
{
	if (!w->joined) {
		pthread_join(w->th, NULL);
		w->joined = w->written = true;
	}
	if (w->rc && !rc)
		return tv_err_copy(err, &w->err);
	return rc;
}

/* Waits for the file's bytes to be written (nf complete), not for the
 * sync; a failure is the writer's error, as rows_writer_join. */
static int rows_writer_wait_written(rows_writer *w, int rc, tv_err *err)
{
	bool failed;
	pthread_mutex_lock(&w->mu);
	while (!w->written)
		pthread_cond_wait(&w->cv, &w->mu);
	failed = w->written_rc != 0;
	pthread_mutex_unlock(&w->mu);
	return failed ? rows_writer_join(w, rc, err) : rc;
}

static void rows_writer_free(rows_writer *w)
{
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
}

/* Everything one attempt allocates, freed together. */
typedef struct plan {
	Lance__Table__DataFragment **frags; /* new manifest's fragment list */
	size_t nfrags;
	Lance__Table__DataFragment *changed; /* copies with new deletion files */
	Lance__Table__DeletionFile *dels;
	size_t nchanged;
	uint64_t *removed;
	size_t nremoved;
	Lance__Table__DataFragment added, added_txn;
	Lance__Table__DataFile addfile, *addfiles[1];
	bool has_added;
	uint64_t deleted_rows;
} plan;

static void plan_free(plan *p)
{
	free(p->frags);
	free(p->changed);
	free(p->dels);
	free(p->removed);
	memset(p, 0, sizeof *p);
}

static int write_deletion(tv_table *t, const tv_frag *f, roaring_bitmap_t *bm,
                          Lance__Table__DeletionFile *d, tv_err *err)
{
	size_t n = roaring_bitmap_portable_size_in_bytes(bm);
	char *buf = malloc(n ? n : 1), *path = NULL;
	uint64_t id;
	int rc = TV_ENOMEM;
	lance__table__deletion_file__init(d);
	if (!buf || (rc = tv_random_bytes(&id, sizeof id)))
		goto done;
	roaring_bitmap_portable_serialize(bm, buf);
	d->has_file_type = 1;
	d->file_type = LANCE__TABLE__DELETION_FILE__FILE_TYPE__BITMAP;
	d->has_read_version = t->version != 0;
	d->read_version = t->version;
	d->has_id = 1;
	d->id = id;
	d->has_num_deleted_rows = 1;
	d->num_deleted_rows = roaring_bitmap_get_cardinality(bm);
	rc = TV_ENOMEM;
	if (!(path = tv_sprintf("%s/_deletions/%" PRIu64 "-%" PRIu64 "-%" PRIu64 ".bin", t->dir, f->id,
	                        t->version, id)))
		goto done;
	rc = tv_io_put(t->io, path, buf, n, 0, err);
done:
	if (rc == TV_ENOMEM)
		TV_ENOMEM_SET(err, "deletion file");
	free(buf);
	free(path);
	return rc;
}

/* Marks row off of fragment fi for deletion (counted in *total unless
 * already marked). */
static int mark(tv_table *t, roaring_bitmap_t **del, size_t fi, uint32_t off, uint64_t *total,
                tv_err *err)
{
	if (!del[fi] && !(del[fi] = t->frags[fi].deleted ? roaring_bitmap_copy(t->frags[fi].deleted)
	                                                 : roaring_bitmap_create()))
		return TV_ENOMEM_SET(err, "deletions");
	if (!roaring_bitmap_contains(del[fi], off)) {
		roaring_bitmap_add(del[fi], off);
		(*total)++;
	}
	return 0;
}

typedef struct probe_keys {
	const char *const *ids;
	const size_t *lens;
} probe_keys;

static const char *probe_key(const void *ctx, size_t v, size_t *len)
{
	const probe_keys *k = ctx;
	*len = k->lens[v];
	return k->ids[v];
}

/* The rows holding these ids, found by one pass over the id column with
 * the few ids in a small hash set: for a handle without the id index, a
 * small upsert into a big table then costs a scan of the ids (about 10 ms
 * a million rows here) instead of indexing them all (1.2 s at 1M in a
 * fresh process). Rows of foreign writers repeating an id all go.
 * Fragments with skip[fi] set are left out (an id file answered for
 * them); with keep set, the scan also gathers (hash, address) of every
 * row, deleted or not, for a new id file. */
typedef struct probe_ctx {
	tv_table *t;
	tv_strmap q;
	roaring_bitmap_t **del;
	uint64_t *total;
	size_t fi;
	bool keep;
	uint64_t *hashes, *addrs;
	size_t nkept, capkept;
	tv_err *err;
} probe_ctx;

static int probe_row(void *ctx, uint64_t r, const char *id, size_t len)
{
	probe_ctx *c = ctx;
	uint64_t h;
	if (!id)
		return 0;
	h = tv_strmap_hash(id, len);
	if (c->keep) { /* deleted rows too: a restore can make them live again */
		if (c->nkept == c->capkept) {
			size_t cap = c->capkept ? c->capkept * 2 : 65536;
			uint64_t *a = tv_reallocarray(c->hashes, cap, sizeof *a);
			if (!a)
				return TV_ENOMEM_SET(c->err, "id file");
			c->hashes = a;
			if (!(a = tv_reallocarray(c->addrs, cap, sizeof *a)))
				return TV_ENOMEM_SET(c->err, "id file");
			c->addrs = a;
			c->capkept = cap;
		}
		c->hashes[c->nkept] = h;
		c->addrs[c->nkept++] = c->t->frags[c->fi].id << 32 | r;
	}
	if (tv_table__is_deleted(&c->t->frags[c->fi], r) ||
	    tv_strmap_get_h(&c->q, id, len, h) == TV_STRMAP_NONE)
		return 0;
	return mark(c->t, c->del, c->fi, (uint32_t)r, c->total, c->err);
}

static int probe_scan(tv_table *t, const char *const *ids, const size_t *lens, size_t n,
                      const bool *skip, bool keep, roaring_bitmap_t **del, uint64_t *total,
                      tv_err *err)
{
	probe_keys k = {ids, lens};
	probe_ctx c = {t, {0}, del, total, 0, keep, NULL, NULL, 0, 0, err};
	int rc = 0;
	tv_strmap_init(&c.q, probe_key, &k);
	for (size_t i = 0; i < n && !rc; i++)
		if (tv_strmap_get(&c.q, ids[i], lens[i]) == TV_STRMAP_NONE &&
		    tv_strmap_put(&c.q, ids[i], lens[i], i))
			rc = TV_ENOMEM_SET(err, "upsert ids");
	for (c.fi = 0; c.fi < t->nfrags && !rc; c.fi++) {
		tv_frag *f = &t->frags[c.fi];
		const tv_strcol *s = &f->str[TV_COL_ID];
		tv_datafile *df;
		if (skip && skip[c.fi])
			continue;
		if (f->loaded[TV_COL_ID]) { /* read for another reason already */
			for (uint64_t r = 0; r < f->rows && !rc; r++)
				rc = probe_row(&c, r, s->valid && !s->valid[r] ? NULL : s->data + s->offsets[r],
				               (size_t)(s->offsets[r + 1] - s->offsets[r]));
		} else if (f->file[TV_COL_ID] >= 0 &&
		           !(rc = tv_table__datafile(t, f, f->file[TV_COL_ID], &df, err))) {
			rc = tv_datafile_each_string(df, f->col[TV_COL_ID], 0, f->rows, probe_row, &c, err);
		}
	}
	if (!rc && keep)
		tv_table__idfile_write(t, c.hashes, c.addrs, c.nkept);
	free(c.hashes);
	free(c.addrs);
	tv_strmap_free(&c.q);
	return rc;
}

/* The id file answers for the fragments it covers; the others are
 * scanned. TV_ENOTFOUND when there is no usable id file. */
typedef struct file_hits {
	tv_table *t;
	roaring_bitmap_t **del;
	uint64_t *total;
	tv_err *err;
} file_hits;

static int file_hit(void *ctx, size_t fi, uint32_t off)
{
	file_hits *h = ctx;
	return mark(h->t, h->del, fi, off, h->total, h->err);
}

static int probe_with_file(tv_table *t, const char *const *ids, const size_t *lens, size_t n,
                           roaring_bitmap_t **del, uint64_t *total, tv_err *err)
{
	bool *covered = calloc(t->nfrags ? t->nfrags : 1, sizeof *covered);
	file_hits h = {t, del, total, err};
	int rc;
	if (!covered)
		return TV_ENOMEM_SET(err, "id file");
	rc = tv_table__idfile_lookup(t, ids, lens, n, covered, file_hit, &h, err);
	if (!rc)
		rc = probe_scan(t, ids, lens, n, covered, false, del, total, err);
	free(covered);
	return rc;
}

static int cmp_dup(const void *a, const void *b)
{
	const struct tv_id_dup *x = a, *y = b;
	return x->e < y->e ? -1 : x->e > y->e;
}

/* Marks the live rows of index entry e: its newest row and any older one
 * a foreign writer left with the same id (t->dups sorted). */
static int mark_entry(tv_table *t, size_t e, roaring_bitmap_t **del, uint64_t *total,
                      tv_err *err)
{
	uint64_t a = live_addr(t, t->ent_addr[e]);
	size_t lo = 0, hi = t->ndups;
	int rc;
	if (a != UINT64_MAX && (rc = mark(t, del, (size_t)(a >> 32), (uint32_t)a, total, err)))
		return rc;
	while (lo < hi) { /* the first pair of e */
		size_t mid = (lo + hi) / 2;
		if (t->dups[mid].e < e)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < t->ndups && t->dups[lo].e == e; lo++)
		if ((a = live_addr(t, t->dups[lo].addr)) != UINT64_MAX &&
		    (rc = mark(t, del, (size_t)(a >> 32), (uint32_t)a, total, err)))
			return rc;
	return 0;
}

/* Adds to del the offsets of these ids; *total counts the new ones. A
 * handle's first small upserts into a big table scan the ids (probe_scan);
 * from the third, or for a big batch, it keeps an id index, extended with
 * each new fragment. When it uses the index, hs (if not NULL) receives the
 * ids' hashes, for ids_pending_add. */
static int collect(tv_table *t, const char *const *ids, const size_t *lens, size_t n,
                   uint64_t *hs, roaring_bitmap_t **del, uint64_t *total, tv_err *err)
{
	uint64_t hr[PREFETCH];
	int rc;
	if (!t->ids.key_of && t->probe_scans < 2 && (uint64_t)n * 64 < t->live) {
		t->probe_scans++;
		if ((rc = probe_with_file(t, ids, lens, n, del, total, err)) != TV_ENOTFOUND)
			return rc;
		/* what the file marked is right and marking twice counts once */
		return probe_scan(t, ids, lens, n, NULL, t->live >= TV_IDFILE_MIN_ROWS, del, total,
		                  err);
	}
	if ((rc = tv_table__build_ids(t, err)))
		return rc;
	if (t->ndups && !t->dups_sorted) {
		qsort(t->dups, t->ndups, sizeof *t->dups, cmp_dup);
		t->dups_sorted = true;
	}
	for (size_t i = 0; i < n + PREFETCH; i++) { /* as in tv_table__build_ids */
		size_t q = i - PREFETCH,
		       e = i >= PREFETCH ? tv_strmap_get_h(&t->ids, ids[q], lens[q], hr[q % PREFETCH])
		                         : TV_STRMAP_NONE;
		if (e != TV_STRMAP_NONE && (rc = mark_entry(t, e, del, total, err)))
			return rc;
		if (i < n) { /* after q's use: the same slot of hr */
			hr[i % PREFETCH] = tv_strmap_hash(ids[i], lens[i]);
			tv_strmap_prefetch(&t->ids, hr[i % PREFETCH]);
			if (hs)
				hs[i] = hr[i % PREFETCH];
		}
	}
	return 0;
}

/* Marks the live rows passing where, by their address (not their id: a
 * table another writer filled may hold an id twice, and only the rows
 * that pass may go). *matched receives how many passed. */
static int collect_where(tv_table *t, const tv_filter *where, roaring_bitmap_t **del,
                         uint64_t *total, size_t *matched, tv_err *err)
{
	uint64_t *addrs = NULL;
	size_t na = 0;
	int rc = tv_table_scan(t, where, 0, &addrs, &na, err);
	for (size_t i = 0; !rc && i < na; i++)
		rc = mark(t, del, (size_t)(addrs[i] >> 32), (uint32_t)addrs[i], total, err);
	*matched = rc ? 0 : na;
	free(addrs);
	return rc;
}

static void datafile_pb(Lance__Table__DataFile *df, newfile *nf)
{
	lance__table__data_file__init(df);
	df->path = nf->name;
	df->n_fields = df->n_column_indices = nf->nfields;
	df->fields = nf->fields;
	df->column_indices = nf->cols;
	df->has_file_major_version = 1;
	df->file_major_version = 2;
	df->has_file_size_bytes = 1;
	df->file_size_bytes = nf->size;
}

static uint32_t next_fragment_id(const Lance__Table__Manifest *m)
{
	uint64_t mx = 0;
	bool any = false;
	if (m->has_max_fragment_id)
		return m->max_fragment_id + 1;
	for (size_t i = 0; i < m->n_fragments; i++, any = true)
		mx = TV_MAX(mx, m->fragments[i]->id);
	return any ? (uint32_t)mx + 1 : 0;
}

/* Builds the new fragment list: changed fragments get their new deletion
 * file, emptied ones go, the new rows' fragment is added. */
static int make_plan(tv_table *t, roaring_bitmap_t **del, newfile *nf, plan *p, tv_err *err)
{
	const Lance__Table__Manifest *m = t->mf.m;
	size_t k = 0;
	int rc;
	p->frags = calloc(m->n_fragments + 1, sizeof *p->frags);
	p->changed = calloc(m->n_fragments ? m->n_fragments : 1, sizeof *p->changed);
	p->dels = calloc(m->n_fragments ? m->n_fragments : 1, sizeof *p->dels);
	p->removed = calloc(m->n_fragments ? m->n_fragments : 1, sizeof *p->removed);
	if (!p->frags || !p->changed || !p->dels || !p->removed)
		return TV_ENOMEM_SET(err, "commit");
	for (size_t i = 0; i < t->nfrags; i++) {
		tv_frag *f = &t->frags[i];
		if (!del[i]) {
			p->frags[k++] = f->pb;
			continue;
		}
		if (roaring_bitmap_get_cardinality(del[i]) >= f->rows) {
			p->removed[p->nremoved++] = f->id;
			continue;
		}
		if ((rc = write_deletion(t, f, del[i], &p->dels[p->nchanged], err)))
			return rc;
		p->changed[p->nchanged] = *f->pb;
		p->changed[p->nchanged].deletion_file = &p->dels[p->nchanged];
		p->frags[k++] = &p->changed[p->nchanged++];
	}
	if (nf && nf->rows) {
		datafile_pb(&p->addfile, nf);
		p->addfiles[0] = &p->addfile;
		lance__table__data_fragment__init(&p->added);
		p->added.n_files = 1;
		p->added.files = p->addfiles;
		p->added.has_physical_rows = 1;
		p->added.physical_rows = nf->rows;
		p->added_txn = p->added; /* in the transaction the id is left 0 */
		p->added.has_id = 1;
		p->added.id = next_fragment_id(m);
		p->frags[k++] = &p->added;
		p->has_added = true;
	}
	p->nfrags = k;
	return 0;
}

static uint64_t flags_for(plan *p, const Lance__Table__Manifest *m, bool writer)
{
	uint64_t f = 0;
	for (size_t i = 0; i < p->nfrags; i++)
		if (p->frags[i]->deletion_file)
			f |= 1;
	if (writer && m->n_config)
		f |= 8;
	return f;
}

/* Transaction + manifest of version N+1; TV_EEXISTS if we lost the race.
 * With rw (a data file still being synced), the manifest is published
 * once that file is durable under its name. */
static int publish(tv_table *t, plan *p, Lance__Table__Transaction *txn, rows_writer *rw,
                   tv_err *err)
{
	tv_buf mb = {0};
	Lance__Table__Manifest nm = *t->mf.m;
	Lance__Table__Timestamp ts = LANCE__TABLE__TIMESTAMP__INIT;
	Lance__Table__WriterVersion wv = LANCE__TABLE__WRITER_VERSION__INIT;
	Lance__Table__DataStorageFormat fmt = LANCE__TABLE__DATA_STORAGE_FORMAT__INIT;
	char uuid[37], txname[96], *path = NULL, *mpath = NULL;
	uint8_t *tb = NULL;
	size_t tl;
	int64_t now = tv_time_ns();
	int rc;
	if ((rc = tv_uuid4(uuid)))
		return tv_err_set(err, rc, "no randomness for a transaction id");
	txn->has_read_version = t->version != 0;
	txn->read_version = t->version;
	txn->uuid = uuid;
	snprintf(txname, sizeof txname, "%" PRIu64 "-%s.txn", t->version, uuid);
	tl = lance__table__transaction__get_packed_size(txn);
	if (!(tb = malloc(tl ? tl : 1)) || !(path = tv_sprintf("%s/_transactions/%s", t->dir, txname)) ||
	    !(mpath = tv_manifest_path(t->dir, t->naming, t->version + 1))) {
		rc = TV_ENOMEM_SET(err, "commit");
		goto done;
	}
	lance__table__transaction__pack(txn, tb);
	if ((rc = tv_io_put(t->io, path, tb, tl, 0, err)))
		goto done;
	nm.fragments = p->frags;
	nm.n_fragments = p->nfrags;
	nm.has_version = 1;
	nm.version = t->version + 1;
	ts.has_seconds = ts.has_nanos = 1;
	ts.seconds = now / 1000000000;
	ts.nanos = (int32_t)(now % 1000000000);
	nm.timestamp = &ts;
	wv.library = "teavec";
	wv.version = TV_VERSION_STRING;
	nm.writer_version = &wv;
	fmt.file_format = "lance";
	fmt.version = "2.0";
	nm.data_format = &fmt;
	nm.transaction_file = txname;
	if (p->has_added || nm.has_max_fragment_id) {
		nm.has_max_fragment_id = 1;
		nm.max_fragment_id = p->has_added ? (uint32_t)p->added.id : nm.max_fragment_id;
	}
	nm.has_reader_feature_flags = nm.has_writer_feature_flags = 1;
	nm.reader_feature_flags = flags_for(p, &nm, false);
	nm.writer_feature_flags = flags_for(p, &nm, true);
	if ((rc = tv_manifest_encode(&nm, txn, t->mf.index_section, t->mf.index_len, &mb))) {
		rc = rc == TV_ENOMEM ? TV_ENOMEM_SET(err, mpath)
		                     : tv_err_set(err, rc, "%s: a manifest section is over 4 GiB", mpath);
		goto done;
	}
	if (rw && (rc = rows_writer_join(rw, 0, err)))
		goto done;
	rc = tv_io_put(t->io, mpath, mb.data, mb.len, TV_IO_PUT_IF_ABSENT, err);
	if (!rc) {
		/* best effort, as LanceDB: a stale hint is never trusted by readers
		 * (teavec lists _versions/, as LanceDB does on local disk), so
		 * it is not fsync'd: 2 of a commit's 8 fsyncs */
		char hint[48], *hp = tv_sprintf("%s/_versions/latest_version_hint.json", t->dir);
		snprintf(hint, sizeof hint, "{\"version\":%" PRIu64 "}", t->version + 1);
		if (hp)
			tv_io_put(t->io, hp, hint, strlen(hint), TV_IO_PUT_NO_SYNC, NULL);
		free(hp);
	}
done:
	tv_buf_free(&mb);
	free(tb);
	free(path);
	free(mpath);
	return rc;
}

/* Every field the new data file holds is still in the schema. */
static bool schema_still_has(const Lance__Table__Manifest *m, const newfile *nf)
{
	for (size_t i = 0; i < nf->nfields; i++) {
		bool found = false;
		for (size_t j = 0; j < m->n_fields && !found; j++)
			found = m->fields[j]->id == nf->fields[i];
		if (!found)
			return false;
	}
	return true;
}

static void backoff(int attempt)
{
	unsigned r = 0;
	struct timespec ts;
	tv_random_bytes(&r, sizeof r);
	ts.tv_sec = 0;
	ts.tv_nsec = (long)(1000000L * (1 + r % (unsigned)(2 << TV_MIN(attempt, 7))));
	nanosleep(&ts, NULL);
}

/* After publishing version N+1: loads it, without listing _versions/ (a
 * stat per version: 0.3 ms late in a bulk load, where cleanup keeps every
 * version younger than an hour). A newer one is seen by the next call. */
static int reload_committed(tv_table *t, tv_err *err)
{
	int rc = tv_table__reload(t, t->version + 1, err);
	if (rc == TV_ENOTFOUND) { /* already cleaned up by another writer */
		tv_err_clear(err);
		rc = tv_table__reload(t, 0, err);
	}
	return rc;
}

/* The retry loop shared by upsert and delete. nf is the new rows' data
 * file (NULL for a delete). */
static int commit(tv_table *t, const char *const *ids, const size_t *lens, uint64_t *hs,
                  size_t n, newfile *nf, rows_writer *rw, const tv_filter *where,
                  size_t *deleted, tv_err *err)
{
	for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
		roaring_bitmap_t **del;
		Lance__Table__Transaction txn = LANCE__TABLE__TRANSACTION__INIT;
		Lance__Table__Transaction__Update up = LANCE__TABLE__TRANSACTION__UPDATE__INIT;
		Lance__Table__Transaction__Append ap = LANCE__TABLE__TRANSACTION__APPEND__INIT;
		Lance__Table__Transaction__Delete dl = LANCE__TABLE__TRANSACTION__DELETE__INIT;
		Lance__Table__DataFragment *newf[1];
		plan p;
		ids_pending pd = {0};
		uint64_t total = 0;
		size_t where_total = 0;
		int rc;
		memset(&p, 0, sizeof p);
		if (attempt > 0) {
			if ((rc = tv_table__reload(t, 0, err)))
				return rc;
			if (nf && !schema_still_has(t->mf.m, nf))
				return tv_err_set(err, TV_ECONFLICT,
				                  "%s: the table's schema changed under this write "
				                  "(another writer replaced or altered it)", t->dir);
		}
		if (t->mf.m->writer_feature_flags & ~(uint64_t)WRITE_FLAGS_OK)
			return tv_err_set(err, TV_EUNSUPPORTED,
			                  "%s: table uses Lance writer features 0x%" PRIx64
			                  " teavec cannot preserve",
			                  t->dir, t->mf.m->writer_feature_flags);
		if (!(del = calloc(t->nfrags ? t->nfrags : 1, sizeof *del)))
			return TV_ENOMEM_SET(err, "commit");
		rc = collect(t, ids, lens, n, hs, del, &total, err);
		if (!rc && where) /* evaluated on the version we commit on top of */
			rc = collect_where(t, where, del, &total, &where_total, err);
		if (rw && !rw->joined) /* the file's name and size; publish waits for the rest */
			rc = rows_writer_wait_written(rw, rc, err);
		if (!rc && total == 0 && !nf) {
			if (deleted)
				*deleted = 0; /* nothing to do: no new version */
		} else if (!rc && !(rc = make_plan(t, del, nf, &p, err))) {
			if (p.has_added && total == 0) {
				newf[0] = &p.added_txn;
				ap.n_fragments = 1;
				ap.fragments = newf;
				txn.operation_case = LANCE__TABLE__TRANSACTION__OPERATION_APPEND;
				txn.append = &ap;
			} else if (p.has_added) {
				newf[0] = &p.added_txn;
				up.n_new_fragments = 1;
				up.new_fragments = newf;
				up.n_removed_fragment_ids = p.nremoved;
				up.removed_fragment_ids = p.removed;
				up.n_updated_fragments = p.nchanged;
				up.updated_fragments = calloc(p.nchanged ? p.nchanged : 1, sizeof(void *));
				for (size_t i = 0; up.updated_fragments && i < p.nchanged; i++)
					up.updated_fragments[i] = &p.changed[i];
				txn.operation_case = LANCE__TABLE__TRANSACTION__OPERATION_UPDATE;
				txn.update = &up;
			} else {
				dl.n_deleted_fragment_ids = p.nremoved;
				dl.deleted_fragment_ids = p.removed;
				dl.n_updated_fragments = p.nchanged;
				dl.updated_fragments = calloc(p.nchanged ? p.nchanged : 1, sizeof(void *));
				for (size_t i = 0; dl.updated_fragments && i < p.nchanged; i++)
					dl.updated_fragments[i] = &p.changed[i];
				txn.operation_case = LANCE__TABLE__TRANSACTION__OPERATION_DELETE;
				txn.delete_ = &dl;
			}
			if (txn.operation_case == LANCE__TABLE__TRANSACTION__OPERATION_UPDATE && !up.updated_fragments)
				rc = TV_ENOMEM_SET(err, "commit");
			else if (txn.operation_case == LANCE__TABLE__TRANSACTION__OPERATION_DELETE && !dl.updated_fragments)
				rc = TV_ENOMEM_SET(err, "commit");
			else {
				if (p.has_added)
					ids_pending_add(t, &pd, p.added.id, ids, lens, hs, n);
				rc = publish(t, &p, &txn, rw, err);
				if (rc)
					ids_pending_undo(t, &pd);
			}
			free(up.updated_fragments);
			free(dl.updated_fragments);
			if (!rc && deleted)
				*deleted = where ? where_total : total;
		}
		for (size_t i = 0; i < t->nfrags; i++)
			if (del[i])
				roaring_bitmap_free(del[i]);
		free(del);
		plan_free(&p);
		if (rc != TV_EEXISTS) {
			if (rc == 0 && (total || nf))
				rc = reload_committed(t, err);
			if (rc == 0)
				ids_pending_done(t, &pd);
			else if (pd.e) { /* committed, not reloaded: start again */
				ids_pending_free(&pd);
				tv_table__ids_free(t);
			}
			return rc;
		}
		backoff(attempt);
	}
	return tv_err_set(err, TV_ECONFLICT, "%s: gave up after %d commit attempts against "
	                  "concurrent writers", t->dir, MAX_ATTEMPTS);
}

int tv_table_upsert(tv_table *t, const tv_row *rows, size_t n, tv_err *err)
{
	return tv_table_upsert_where(t, rows, n, NULL, NULL, err);
}

int tv_table_upsert_where(tv_table *t, const tv_row *rows, size_t n, const tv_filter *where,
                          size_t *deleted, tv_err *err)
{
	const char **ids;
	size_t *lens;
	uint64_t *hs;
	newfile nf;
	rows_writer rw;
	int rc;
	memset(&nf, 0, sizeof nf);
	if (deleted)
		*deleted = 0;
	if (n == 0)
		return where ? commit(t, NULL, NULL, NULL, 0, NULL, NULL, where, deleted, err) : 0;
	ids = calloc(n, sizeof *ids);
	lens = calloc(n, sizeof *lens);
	hs = calloc(n, sizeof *hs);
	if (!ids || !lens || !hs) {
		free(ids);
		free(lens);
		free(hs);
		return TV_ENOMEM_SET(err, "upsert");
	}
	for (size_t i = 0; i < n; i++) {
		ids[i] = rows[i].id;
		lens[i] = rows[i].id_len;
	}
	memset(&rw, 0, sizeof rw);
	rw.t = t;
	rw.m = t->mf.m;
	rw.rows = rows;
	rw.n = n;
	rw.nf = &nf;
	if ((rc = rows_writer_start(&rw)))
		tv_err_copy(err, &rw.err);
	else
		rc = commit(t, ids, lens, hs, n, &nf, &rw, where, deleted, err);
	rows_writer_join(&rw, rc, err); /* if commit returned before waiting */
	rows_writer_free(&rw);
	newfile_free(&nf);
	free(ids);
	free(lens);
	free(hs);
	return rc;
}

int tv_table_delete_ids(tv_table *t, const char *const *ids, size_t n, size_t *deleted,
                        tv_err *err)
{
	size_t *lens = calloc(n ? n : 1, sizeof *lens);
	int rc;
	if (!lens)
		return TV_ENOMEM_SET(err, "delete");
	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(ids[i]);
	rc = commit(t, ids, lens, NULL, n, NULL, NULL, NULL, deleted, err);
	free(lens);
	return rc;
}

/* ---- create ----------------------------------------------------------- */

static int create_v1(tv_io *io, const char *dir, const tv_row *rows, size_t n, uint32_t dim,
                     tv_err *err)
{
	static const char *names[TV_NCOLS] = {"id", "text", "path", "metadata", "vector"};
	Lance__File__Field fs[TV_NCOLS], *fp[TV_NCOLS];
	Lance__Table__Manifest m = LANCE__TABLE__MANIFEST__INIT;
	Lance__Table__Transaction txn = LANCE__TABLE__TRANSACTION__INIT;
	Lance__Table__Transaction__Overwrite ow = LANCE__TABLE__TRANSACTION__OVERWRITE__INIT;
	Lance__Table__DataFragment *newf[1];
	tv_table t;
	newfile nf;
	plan p;
	char lt[48];
	int rc;
	memset(&t, 0, sizeof t);
	memset(&nf, 0, sizeof nf);
	memset(&p, 0, sizeof p);
	snprintf(lt, sizeof lt, "fixed_size_list:float:%u", dim);
	for (int c = 0; c < TV_NCOLS; c++) {
		tv_lance_field f = {c, -1, (char *)names[c], c == TV_COL_VEC ? lt : "string",
		                    c != TV_COL_ID, c == TV_COL_VEC ? 1 : 2};
		tv_lance__field_init(&fs[c], &f);
		fp[c] = &fs[c];
		t.field[c] = c;
	}
	m.n_fields = TV_NCOLS;
	m.fields = fp;
	t.io = io;
	t.dir = (char *)dir;
	t.dim = dim;
	t.naming = TV_NAMING_V2;
	t.mf.m = &m;
	if ((rc = write_rows(&t, &m, rows, n, &nf, NULL, err)) || (rc = make_plan(&t, NULL, &nf, &p, err)))
		goto done;
	newf[0] = &p.added_txn;
	ow.n_fragments = 1;
	ow.fragments = newf;
	ow.n_schema = TV_NCOLS;
	ow.schema = fp;
	txn.operation_case = LANCE__TABLE__TRANSACTION__OPERATION_OVERWRITE;
	txn.overwrite = &ow;
	rc = publish(&t, &p, &txn, NULL, err);
done:
	plan_free(&p);
	newfile_free(&nf);
	return rc;
}

int tv_table_create(tv_table **out, tv_io *io, const char *dir, const tv_row *rows, size_t n,
                    uint32_t dim, tv_err *err)
{
	int rc, created;
	*out = NULL;
	rc = create_v1(io, dir, rows, n, dim, err);
	if (rc && rc != TV_EEXISTS)
		return rc;
	created = rc == 0;
	if ((rc = tv_table_open(out, io, dir, 0, err)))
		return rc;
	if (!created) /* another writer created it first: upsert into theirs */
		rc = tv_table_upsert(*out, rows, n, err);
	if (rc) {
		tv_table_close(*out);
		*out = NULL;
	}
	return rc;
}

/* ---- overwrite -------------------------------------------------------- */

int tv_table_overwrite(tv_table *t, const tv_row *rows, size_t n, uint32_t dim, tv_err *err)
{
	static const char *names[TV_NCOLS] = {"id", "text", "path", "metadata", "vector"};
	for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
		Lance__File__Field fs[TV_NCOLS], *fp[TV_NCOLS];
		Lance__Table__Manifest m;
		Lance__Table__Transaction txn = LANCE__TABLE__TRANSACTION__INIT;
		Lance__Table__Transaction__Overwrite ow = LANCE__TABLE__TRANSACTION__OVERWRITE__INIT;
		Lance__Table__DataFragment *newf[1];
		tv_table nt;
		newfile nf;
		plan p;
		char lt[48];
		uint32_t next;
		int rc;
		if (attempt > 0 && (rc = tv_table__reload(t, 0, err)))
			return rc;
		memset(&nf, 0, sizeof nf);
		memset(&p, 0, sizeof p);
		snprintf(lt, sizeof lt, "fixed_size_list:float:%u", dim);
		/* the new version: our schema, no fragments yet, fragment ids going on
		 * from the old ones, no indexes (they describe the old rows) */
		m = *t->mf.m;
		next = next_fragment_id(t->mf.m);
		memset(&nt, 0, sizeof nt);
		for (int c = 0; c < TV_NCOLS; c++) {
			tv_lance_field f = {c, -1, (char *)names[c], c == TV_COL_VEC ? lt : "string",
			                    c != TV_COL_ID, c == TV_COL_VEC ? 1 : 2};
			tv_lance__field_init(&fs[c], &f);
			fp[c] = &fs[c];
			nt.field[c] = c;
		}
		m.n_fields = TV_NCOLS;
		m.fields = fp;
		m.n_fragments = 0;
		m.fragments = NULL;
		m.has_max_fragment_id = next > 0;
		m.max_fragment_id = next > 0 ? next - 1 : 0;
		nt.io = t->io;
		nt.dir = t->dir;
		nt.dim = dim;
		nt.naming = t->naming;
		nt.version = t->version;
		nt.mf.m = &m;
		if (!(rc = write_rows(&nt, &m, rows, n, &nf, NULL, err)) &&
		    !(rc = make_plan(&nt, NULL, &nf, &p, err))) {
			newf[0] = &p.added_txn;
			ow.n_fragments = p.has_added;
			ow.fragments = newf;
			ow.n_schema = TV_NCOLS;
			ow.schema = fp;
			txn.operation_case = LANCE__TABLE__TRANSACTION__OPERATION_OVERWRITE;
			txn.overwrite = &ow;
			rc = publish(&nt, &p, &txn, NULL, err);
		}
		plan_free(&p);
		newfile_free(&nf);
		if (rc != TV_EEXISTS)
			return rc ? rc : tv_table__reload(t, 0, err);
		backoff(attempt);
	}
	return tv_err_set(err, TV_ECONFLICT, "%s: gave up after %d commit attempts against "
	                  "concurrent writers", t->dir, MAX_ATTEMPTS);
}

/* ---- restore ---------------------------------------------------------- */

int tv_table_restore(tv_table *t, uint64_t version, tv_err *err)
{
	for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
		tv_table *old = NULL;
		Lance__Table__Transaction txn = LANCE__TABLE__TRANSACTION__INIT;
		Lance__Table__Transaction__Restore rs = LANCE__TABLE__TRANSACTION__RESTORE__INIT;
		plan p;
		int rc;
		memset(&p, 0, sizeof p);
		if (attempt > 0) {
			if ((rc = tv_table__reload(t, 0, err)))
				return rc;
		}
		if ((rc = tv_table_open(&old, t->io, t->dir, version, err)))
			return rc;
		p.nfrags = old->mf.m->n_fragments;
		p.frags = old->mf.m->fragments;
		rs.has_version = 1;
		rs.version = version;
		txn.operation_case = LANCE__TABLE__TRANSACTION__OPERATION_RESTORE;
		txn.restore = &rs;
		{
			/* the restored content, on top of the newest version's numbering */
			Lance__Table__Manifest *cur = t->mf.m, nm = *old->mf.m;
			uint32_t maxid = cur->has_max_fragment_id ? cur->max_fragment_id : 0;
			nm.has_max_fragment_id = cur->has_max_fragment_id || old->mf.m->has_max_fragment_id;
			nm.max_fragment_id = TV_MAX(maxid, old->mf.m->max_fragment_id);
			t->mf.m = &nm;
			rc = publish(t, &p, &txn, NULL, err);
			t->mf.m = cur;
		}
		tv_table_close(old);
		if (rc != TV_EEXISTS)
			return rc ? rc : reload_committed(t, err);
		backoff(attempt);
	}
	return tv_err_set(err, TV_ECONFLICT, "%s: restore gave up after %d attempts", t->dir,
	                  MAX_ATTEMPTS);
}

/* ---- compaction ------------------------------------------------------- */

/* A fragment worth rewriting: small, or with over 10% of its rows deleted. */
static bool heavy_deletes(const tv_frag *f)
{
	return f->deleted && roaring_bitmap_get_cardinality(f->deleted) * 10 > f->rows;
}

static bool compactable(const tv_frag *f, uint64_t small)
{
	return f->rows < small || heavy_deletes(f);
}

/* Live rows of the chosen fragments as tv_rows (strings borrowed from the
 * fragments' loaded columns; metadata copied NUL-terminated). */
static int gather(tv_table *t, const size_t *pick, size_t np, tv_row **rows_out, size_t *n_out,
                  float **vecs_out, char ***meta_out, tv_err *err)
{
	size_t total = 0, k = 0;
	tv_row *rows;
	float *vecs;
	char **meta;
	int rc;
	for (size_t i = 0; i < np; i++)
		total += t->frags[pick[i]].rows;
	rows = calloc(total ? total : 1, sizeof *rows);
	vecs = tv_mallocarray(total ? total : 1, (size_t)t->dim * sizeof *vecs);
	meta = calloc(total ? total : 1, sizeof *meta);
	*rows_out = rows;
	*vecs_out = vecs;
	*meta_out = meta;
	if (!rows || !vecs || !meta)
		return TV_ENOMEM_SET(err, "compaction");
	for (size_t i = 0; i < np; i++) {
		tv_frag *f = &t->frags[pick[i]];
		for (int c = 0; c < TV_COL_VEC; c++)
			if ((rc = tv_table__strings(t, f, c, err)))
				return rc;
		for (uint64_t r = 0; r < f->rows; r++) {
			tv_table_row tr;
			if (tv_table__is_deleted(f, r))
				continue;
			if ((rc = tv_table_row_at(t, ((uint64_t)pick[i] << 32) | r, &tr, err)))
				return rc;
			memcpy(vecs + k * t->dim, tr.vector, t->dim * sizeof *vecs);
			rows[k].id = tr.v.id;
			rows[k].id_len = tr.v.id_len;
			rows[k].text = tr.v.text;
			rows[k].text_len = tr.v.text_len;
			rows[k].path = tr.v.path;
			rows[k].path_len = tr.v.path_len;
			if (!(meta[k] = tv_strndup(tr.v.metadata, tr.v.metadata_len)))
				return TV_ENOMEM_SET(err, "compaction");
			rows[k].metadata_text = meta[k];
			rows[k].vector = vecs + k * t->dim;
			k++;
		}
	}
	*n_out = k;
	return 0;
}

int tv_table_compact(tv_table *t, uint64_t small_rows, size_t min_fragments, size_t *rewritten,
                     tv_err *err)
{
	size_t *pick = calloc(t->nfrags ? t->nfrags : 1, sizeof *pick), np = 0, nrows = 0;
	bool any_deleted = false;
	tv_row *rows = NULL;
	float *vecs = NULL;
	char **meta = NULL;
	newfile nf;
	plan p;
	int rc = 0;
	memset(&nf, 0, sizeof nf);
	memset(&p, 0, sizeof p);
	*rewritten = 0;
	if (!pick)
		return TV_ENOMEM_SET(err, "compaction");
	for (size_t i = 0, total = 0; i < t->nfrags && total < (1u << 18); i++)
		if (compactable(&t->frags[i], small_rows)) {
			pick[np++] = i;
			total += t->frags[i].rows;
			any_deleted |= heavy_deletes(&t->frags[i]);
		}
	/* deleted rows alone trigger it only when asked for (optimize) */
	if (np < min_fragments && !(any_deleted && np >= 1 && min_fragments <= 2))
		goto done;
	if (t->mf.m->writer_feature_flags & ~(uint64_t)WRITE_FLAGS_OK)
		goto done; /* a table we cannot write: leave it as it is */
	if ((rc = gather(t, pick, np, &rows, &nrows, &vecs, &meta, err)))
		goto done;
	if (nrows && (rc = write_rows(t, t->mf.m, rows, nrows, &nf, NULL, err)))
		goto done;
	{
		Lance__Table__Transaction txn = LANCE__TABLE__TRANSACTION__INIT;
		Lance__Table__Transaction__Rewrite rw = LANCE__TABLE__TRANSACTION__REWRITE__INIT;
		Lance__Table__Transaction__Rewrite__RewriteGroup grp =
			LANCE__TABLE__TRANSACTION__REWRITE__REWRITE_GROUP__INIT, *grps[1] = {&grp};
		Lance__Table__DataFragment **old = calloc(np, sizeof *old), *newf[1];
		size_t k = 0, j = 0;
		if (!old || !(p.frags = calloc(t->nfrags + 1, sizeof *p.frags))) {
			free(old);
			rc = TV_ENOMEM_SET(err, "compaction");
			goto done;
		}
		for (size_t i = 0; i < t->nfrags; i++) {
			if (j < np && pick[j] == i)
				old[j++] = t->frags[i].pb;
			else
				p.frags[k++] = t->frags[i].pb;
		}
		if (nrows) {
			datafile_pb(&p.addfile, &nf);
			p.addfiles[0] = &p.addfile;
			lance__table__data_fragment__init(&p.added);
			p.added.n_files = 1;
			p.added.files = p.addfiles;
			p.added.has_physical_rows = 1;
			p.added.physical_rows = nf.rows;
			p.added.has_id = 1;
			p.added.id = next_fragment_id(t->mf.m);
			p.frags[k++] = &p.added;
			p.has_added = true;
			newf[0] = &p.added;
			grp.n_new_fragments = 1;
			grp.new_fragments = newf;
		}
		p.nfrags = k;
		grp.n_old_fragments = np;
		grp.old_fragments = old;
		rw.n_groups = 1;
		rw.groups = grps;
		txn.operation_case = LANCE__TABLE__TRANSACTION__OPERATION_REWRITE;
		txn.rewrite = &rw;
		rc = publish(t, &p, &txn, NULL, err);
		free(old);
	}
	if (rc == TV_EEXISTS) {
		/* another writer committed meanwhile: compaction is optional, the
		 * new data file is left for cleanup; try again on a later write */
		tv_err_clear(err);
		rc = 0;
	} else if (!rc) {
		*rewritten = np;
		rc = reload_committed(t, err);
	}
done:
	for (size_t i = 0; meta && i < nrows; i++)
		free(meta[i]);
	free(meta);
	free(rows);
	free(vecs);
	free(pick);
	free(p.frags);
	newfile_free(&nf);
	return rc;
}

/* ---- cleanup ---------------------------------------------------------- */

typedef struct nameset {
	tv_strmap map;
	char **names;
	size_t n, cap;
} nameset;

static const char *ns_key(const void *ctx, size_t v, size_t *len)
{
	const nameset *s = ctx;
	*len = strlen(s->names[v]);
	return s->names[v];
}

static int ns_add(nameset *s, char *name) /* takes name */
{
	if (!name)
		return TV_ENOMEM;
	if (tv_strmap_get(&s->map, name, strlen(name)) != TV_STRMAP_NONE) {
		free(name);
		return 0;
	}
	if (s->n == s->cap) {
		char **v = tv_reallocarray(s->names, s->cap = s->cap ? s->cap * 2 : 256, sizeof *v);
		if (!v) {
			free(name);
			return TV_ENOMEM;
		}
		s->names = v;
	}
	s->names[s->n] = name;
	return tv_strmap_put(&s->map, name, strlen(name), s->n++);
}

static bool ns_has(const nameset *s, const char *name)
{
	return tv_strmap_get(&s->map, name, strlen(name)) != TV_STRMAP_NONE;
}

/* Every file a manifest references, as "data/x", "_deletions/y",
 * "_transactions/z". */
static int referenced(const Lance__Table__Manifest *m, nameset *s)
{
	int rc = 0;
	if (m->transaction_file && *m->transaction_file)
		rc = ns_add(s, tv_sprintf("_transactions/%s", m->transaction_file));
	for (size_t i = 0; !rc && i < m->n_fragments; i++) {
		const Lance__Table__DataFragment *f = m->fragments[i];
		const Lance__Table__DeletionFile *d = f->deletion_file;
		for (size_t j = 0; !rc && j < f->n_files; j++)
			rc = ns_add(s, tv_sprintf("data/%s", f->files[j]->path ? f->files[j]->path : ""));
		if (!rc && d)
			rc = ns_add(s, tv_sprintf("_deletions/%" PRIu64 "-%" PRIu64 "-%" PRIu64 ".%s", f->id,
			                          d->read_version, d->id,
			                          d->file_type == LANCE__TABLE__DELETION_FILE__FILE_TYPE__BITMAP
			                                  ? "bin" : "arrow"));
	}
	return rc;
}

static int sweep_dir(tv_table *t, const char *sub, const nameset *keep, int64_t cutoff_ns,
                     size_t *removed, tv_err *err)
{
	char *dir = tv_sprintf("%s/%s", t->dir, sub);
	tv_io_entry *e = NULL;
	size_t n = 0;
	int rc;
	if (!dir)
		return TV_ENOMEM_SET(err, sub);
	if ((rc = tv_io_list(t->io, dir, &e, &n, err))) {
		free(dir);
		return rc;
	}
	for (size_t i = 0; !rc && i < n; i++) {
		char *rel, *path;
		if (e[i].is_dir || e[i].mtime_ns > cutoff_ns)
			continue; /* young files may belong to a commit in flight */
		rel = tv_sprintf("%s/%s", sub, e[i].name);
		if (rel && !ns_has(keep, rel) && (path = tv_sprintf("%s/%s", dir, e[i].name))) {
			if (!(rc = tv_io_remove(t->io, path, err)))
				(*removed)++;
			free(path);
		}
		free(rel);
	}
	tv_io_entries_free(e, n);
	free(dir);
	return rc;
}

int tv_table_cleanup(tv_table *t, size_t keep, int64_t older_than_s, size_t *removed,
                     tv_err *err)
{
	uint64_t *vs = NULL;
	size_t nv = 0;
	tv_naming naming;
	nameset live;
	int64_t cutoff = tv_time_ns() - older_than_s * 1000000000LL;
	int rc;
	*removed = 0;
	memset(&live, 0, sizeof live);
	tv_strmap_init(&live.map, ns_key, &live);
	if ((rc = tv_manifest_versions(t->io, t->dir, &vs, &nv, &naming, err)))
		return rc;
	for (size_t i = 0; !rc && i < nv; i++) {
		char *mp = tv_manifest_path(t->dir, naming, vs[i]);
		tv_io_entry st;
		bool kept = i + keep >= nv || i == nv - 1;
		if (!mp) {
			rc = TV_ENOMEM_SET(err, "cleanup");
			break;
		}
		if (!kept && (rc = tv_io_stat(t->io, mp, &st, err)) == 0)
			kept = st.mtime_ns > cutoff;
		if (!rc && kept) {
			tv_manifest mf;
			if (!(rc = tv_manifest_read(t->io, mp, &mf, NULL, err))) {
				rc = referenced(mf.m, &live) ? TV_ENOMEM_SET(err, "cleanup") : 0;
				tv_manifest_free(&mf);
			}
		} else if (!rc && !(rc = tv_io_remove(t->io, mp, err))) {
			(*removed)++;
		}
		free(mp);
	}
	if (!rc)
		rc = sweep_dir(t, "data", &live, cutoff, removed, err);
	if (!rc)
		rc = sweep_dir(t, "_deletions", &live, cutoff, removed, err);
	if (!rc)
		rc = sweep_dir(t, "_transactions", &live, cutoff, removed, err);
	for (size_t i = 0; i < live.n; i++)
		free(live.names[i]);
	free(live.names);
	tv_strmap_free(&live.map);
	free(vs);
	return rc;
}

/*
 * The id file: a persisted index from id to row addresses, so that a new
 * process's small upserts into a big table find the rows they replace
 * without reading every id (a TEA agent is often a process per run).
 *
 * "<table>.lance/_teavec/ids-<version, 20 digits>.idx", a directory
 * LanceDB neither reads nor cleans up; integers little-endian:
 *
 *   0    8   magic "TVIDS\0\0\1"
 *   8    8   the table version whose fragments it covers
 *   16   8   F, fragments covered
 *   24   8   S, slots (a power of two, at least twice E)
 *   32   8   E, entries
 *   40   8   tv_hash64 of "teavec id file": a host hashing otherwise
 *            ignores the file
 *   48   8   checksum of bytes [0, 48), the fragment table and the sums
 *   56   8   0
 *   64       F x {u64 fragment id, u64 physical rows}
 *            B x u64 block sums: tv_hash64_seed(block, its bytes, its
 *            number) of each 4 KiB block of the slots, then of the entries
 *            S x u64 slots: 0 empty, else (hash >> 32) << 32 | (entry + 1);
 *            a key's probe starts at slot hash mod S and runs to an empty
 *            slot (linear probing); hash = tv_strmap_hash(id)
 *            E x u64 entries: row address (fragment id << 32 | offset)
 *
 * Every row of the covered fragments has an entry, deleted or not (a
 * restore can make a deleted row live again; an id held by several rows,
 * as a foreign writer may leave, has several). A lookup
 * checks only the blocks it reads, so it costs a few pages however big the
 * table. Nothing in the file is trusted: a candidate counts only if its
 * fragment is in the version with the same row count, the row is live,
 * and its id read from the data file is the key; a bad magic, size or sum
 * makes the file unusable, and the caller scans the ids instead (and
 * writes a new file). Lance never reuses a fragment id nor rewrites a data
 * file, so a file stays right for the fragments it lists at any later
 * version; rows in other fragments (newer commits, compactions, other
 * writers) are found by scanning those fragments.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table/table_int.h"

#define ID_DIR "_teavec"
#define HDR 64
#define BLOCK 512 /* u64 per checked block: 4 KiB */

static const uint8_t MAGIC[8] = {'T', 'V', 'I', 'D', 'S', 0, 0, 1};

unsigned long tv_table__idfile_lookups;

static uint64_t host_probe(void) { return tv_hash64("teavec id file", 14); }

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static bool parse_name(const char *name, uint64_t *version)
{
	unsigned long long v;
	int end = 0;
	if (strlen(name) != 4 + 20 + 4 || strncmp(name, "ids-", 4) ||
	    sscanf(name, "ids-%20llu.idx%n", &v, &end) != 1 || end != (int)strlen(name))
		return false;
	*version = v;
	return true;
}

/* The entries of _teavec/. */
static int list_files(tv_table *t, tv_io_entry **e, size_t *n, tv_err *err)
{
	char *dir = tv_sprintf("%s/" ID_DIR, t->dir);
	int rc;
	if (!dir)
		return TV_ENOMEM_SET(err, "id file");
	rc = tv_io_list(t->io, dir, e, n, err);
	free(dir);
	return rc;
}

/* ---- lookup -------------------------------------------------------------- */

typedef struct idfile {
	tv_rfile *rf;
	const uint8_t *map;
	uint64_t nfrags, nslots, nent, nblocks;
	const uint8_t *frags, *sums, *slots, *ents;
	uint8_t *checked; /* per block: 0 unchecked, 1 good */
} idfile;

static void idfile_close(idfile *f)
{
	tv_rfile_close(f->rf);
	free(f->checked);
	memset(f, 0, sizeof *f);
}

static uint64_t blocks_of(uint64_t words) { return (words + BLOCK - 1) / BLOCK; }

/* Opens and checks the header, fragment table and sums. TV_ENOTFOUND when
 * the file is unusable (gone, damaged, for another hash). */
static int idfile_open(tv_table *t, const char *name, idfile *f, tv_err *err)
{
	char *path = tv_sprintf("%s/" ID_DIR "/%s", t->dir, name);
	tv_err ignore;
	uint64_t size, need, sum;
	int rc;
	memset(f, 0, sizeof *f);
	if (!path)
		return TV_ENOMEM_SET(err, "id file");
	rc = tv_io_open_read(t->io, path, &f->rf, &ignore);
	free(path);
	if (rc == TV_ENOMEM)
		return tv_err_copy(err, &ignore);
	if (rc || !f->rf->map || f->rf->size < HDR)
		goto unusable;
	f->map = f->rf->map;
	size = f->rf->size;
	f->nfrags = rd64(f->map + 16);
	f->nslots = rd64(f->map + 24);
	f->nent = rd64(f->map + 32);
	if (memcmp(f->map, MAGIC, 8) || rd64(f->map + 40) != host_probe() || f->nslots == 0 ||
	    (f->nslots & (f->nslots - 1)) || f->nent >= f->nslots || f->nent >= UINT32_MAX ||
	    f->nfrags > size / 16 || f->nslots > size / 8 || f->nent > size / 8)
		goto unusable;
	f->nblocks = blocks_of(f->nslots) + blocks_of(f->nent);
	need = HDR + 16 * f->nfrags + 8 * f->nblocks + 8 * f->nslots + 8 * f->nent;
	if (need != size)
		goto unusable;
	f->frags = f->map + HDR;
	f->sums = f->frags + 16 * f->nfrags;
	f->slots = f->sums + 8 * f->nblocks;
	f->ents = f->slots + 8 * f->nslots;
	sum = tv_hash64_seed(f->map, 48, 0);
	sum = tv_hash64_seed(f->frags, 16 * f->nfrags, sum);
	sum = tv_hash64_seed(f->sums, 8 * f->nblocks, sum);
	if (sum != rd64(f->map + 48) || !(f->checked = calloc(f->nblocks, 1)))
		goto unusable;
	return 0;
unusable:
	idfile_close(f);
	return TV_ENOTFOUND;
}

/* Checks the block holding word i of region (slots: first block 0;
 * entries: after the slots' blocks) once. */
static bool block_ok(idfile *f, const uint8_t *region, uint64_t words, uint64_t first,
                     uint64_t i)
{
	uint64_t b = i / BLOCK, lo = b * BLOCK, n = TV_MIN((uint64_t)BLOCK, words - lo);
	if (!f->checked[first + b])
		f->checked[first + b] = tv_hash64_seed(region + 8 * lo, 8 * n, first + b) ==
		                        rd64(f->sums + 8 * (first + b));
	return f->checked[first + b];
}

typedef struct id_cmp {
	const char *key;
	size_t len;
	bool same;
} id_cmp;

static int cmp_id(void *ctx, uint64_t r, const char *s, size_t len)
{
	id_cmp *c = ctx;
	(void)r;
	c->same = s && len == c->len && !memcmp(s, c->key, len);
	return 0;
}

/* Whether live row off of fragment fi holds id key. */
static int row_has_id(tv_table *t, size_t fi, uint64_t off, const char *key, size_t len,
                      bool *same, tv_err *err)
{
	tv_frag *f = &t->frags[fi];
	const tv_strcol *s = &f->str[TV_COL_ID];
	id_cmp c = {key, len, false};
	tv_datafile *df;
	int rc;
	*same = false;
	if (f->file[TV_COL_ID] < 0)
		return 0;
	if (f->loaded[TV_COL_ID]) {
		if (!s->valid || s->valid[off])
			cmp_id(&c, off, s->data + s->offsets[off],
			       (size_t)(s->offsets[off + 1] - s->offsets[off]));
	} else if ((rc = tv_table__datafile(t, f, f->file[TV_COL_ID], &df, err)) ||
	           (rc = tv_datafile_each_string(df, f->col[TV_COL_ID], off, 1, cmp_id, &c, err))) {
		return rc;
	}
	*same = c.same;
	return 0;
}

int tv_table__idfile_lookup(tv_table *t, const char *const *ids, const size_t *lens, size_t n,
                            bool *covered, int (*hit)(void *ctx, size_t fi, uint32_t off),
                            void *ctx, tv_err *err)
{
	tv_io_entry *e = NULL;
	size_t ne = 0, best = SIZE_MAX;
	uint64_t v, cov_live = 0, slot_blocks;
	idfile f;
	int rc;
	if (!(tv_io_caps(t->io) & TV_IO_CAP_MMAP))
		return TV_ENOTFOUND;
	if ((rc = list_files(t, &e, &ne, err))) { /* a cache: only memory is worth failing for */
		if (rc == TV_ENOMEM)
			return rc;
		tv_err_clear(err);
		return TV_ENOTFOUND;
	}
	for (size_t i = 0; i < ne; i++)
		if (!e[i].is_dir && parse_name(e[i].name, &v) &&
		    (best == SIZE_MAX || strcmp(e[i].name, e[best].name) > 0))
			best = i;
	rc = best == SIZE_MAX ? TV_ENOTFOUND : idfile_open(t, e[best].name, &f, err);
	tv_io_entries_free(e, ne);
	if (rc)
		return rc;
	memset(covered, 0, t->nfrags * sizeof *covered);
	for (uint64_t i = 0; i < f.nfrags; i++) {
		long fi = tv_table__frag_pos(t, rd64(f.frags + 16 * i));
		if (fi >= 0 && t->frags[fi].rows == rd64(f.frags + 16 * i + 8) && !covered[fi]) {
			const tv_frag *fr = &t->frags[fi];
			covered[fi] = true;
			cov_live += fr->rows - (fr->deleted ? roaring_bitmap_get_cardinality(fr->deleted) : 0);
		}
	}
	if (cov_live * 4 < t->live * 3) { /* too stale: a scan, which writes a new one */
		idfile_close(&f);
		return TV_ENOTFOUND;
	}
	slot_blocks = blocks_of(f.nslots);
	for (size_t i = 0; i < n && !rc; i++) {
		uint64_t h = tv_strmap_hash(ids[i], lens[i]), mask = f.nslots - 1, j = h & mask;
		for (uint64_t steps = 0; steps < f.nslots && !rc; steps++, j = (j + 1) & mask) {
			uint64_t s, ent, addr, off;
			long fi;
			bool same;
			if (!block_ok(&f, f.slots, f.nslots, 0, j))
				goto damaged;
			if (!(s = rd64(f.slots + 8 * j)))
				break;
			if ((s >> 32) != (h >> 32))
				continue;
			if ((ent = (s & 0xFFFFFFFFu) - 1) >= f.nent ||
			    !block_ok(&f, f.ents, f.nent, slot_blocks, ent))
				goto damaged;
			addr = rd64(f.ents + 8 * ent);
			off = addr & 0xFFFFFFFFu;
			fi = tv_table__frag_pos(t, addr >> 32);
			if (fi < 0 || !covered[fi])
				continue; /* a fragment this version no longer has */
			if (off >= t->frags[fi].rows)
				goto damaged;
			if (tv_table__is_deleted(&t->frags[fi], off))
				continue;
			if (!(rc = row_has_id(t, (size_t)fi, off, ids[i], lens[i], &same, err)) && same)
				rc = hit(ctx, (size_t)fi, (uint32_t)off);
		}
	}
	if (!rc)
		tv_table__idfile_lookups++;
	idfile_close(&f);
	return rc;
damaged:
	/* nothing was marked that is not right; the caller scans everything */
	idfile_close(&f);
	return TV_ENOTFOUND;
}

/* ---- writing ------------------------------------------------------------- */

static bool is_id_name(const char *name)
{
	uint64_t v;
	return parse_name(name, &v);
}

void tv_table__idfile_write(tv_table *t, const uint64_t *hashes, const uint64_t *addrs, size_t n)
{
	uint64_t nslots = 16, nblocks, hdr[8], *slots = NULL, *sums = NULL, *frags = NULL, sum;
	char name[40], *path = NULL;
	tv_wfile *w = NULL;
	tv_err ignore;
	size_t nf = t->nfrags;
	if (!(tv_io_caps(t->io) & TV_IO_CAP_MMAP) || n >= UINT32_MAX - 1)
		return;
	while (nslots < 2 * (uint64_t)n)
		nslots *= 2;
	nblocks = blocks_of(nslots) + blocks_of(n);
	if (!(slots = calloc(nslots, sizeof *slots)) || !(sums = calloc(nblocks, sizeof *sums)) ||
	    !(frags = calloc(2 * (nf ? nf : 1), sizeof *frags)))
		goto done;
	for (size_t i = 0; i < n; i++) {
		uint64_t j = hashes[i] & (nslots - 1);
		while (slots[j])
			j = (j + 1) & (nslots - 1);
		slots[j] = (hashes[i] >> 32) << 32 | (uint64_t)(i + 1);
	}
	for (uint64_t b = 0; b < blocks_of(nslots); b++)
		sums[b] = tv_hash64_seed(slots + b * BLOCK, 8 * TV_MIN((uint64_t)BLOCK, nslots - b * BLOCK),
		                         b);
	for (uint64_t b = 0; b < blocks_of(n); b++)
		sums[blocks_of(nslots) + b] =
			tv_hash64_seed(addrs + b * BLOCK, 8 * TV_MIN((uint64_t)BLOCK, n - b * BLOCK),
			               blocks_of(nslots) + b);
	for (size_t i = 0; i < nf; i++) {
		frags[2 * i] = t->frags[i].id;
		frags[2 * i + 1] = t->frags[i].rows;
	}
	memcpy(hdr, MAGIC, 8);
	hdr[1] = t->version;
	hdr[2] = nf;
	hdr[3] = nslots;
	hdr[4] = n;
	hdr[5] = host_probe();
	hdr[7] = 0;
	sum = tv_hash64_seed(hdr, 48, 0);
	sum = tv_hash64_seed(frags, 16 * nf, sum);
	hdr[6] = tv_hash64_seed(sums, 8 * nblocks, sum);
	snprintf(name, sizeof name, "ids-%020" PRIu64 ".idx", t->version);
	if (!(path = tv_sprintf("%s/" ID_DIR "/%s", t->dir, name)) ||
	    tv_io_open_write(t->io, path, &w, &ignore))
		goto done;
	/* a cache: not fsync'd. Published whole (rename); damage from a crash
	 * shows as a bad sum and the file is not used */
	if (tv_wfile_write(w, hdr, sizeof hdr, &ignore) ||
	    tv_wfile_write(w, frags, 16 * nf, &ignore) ||
	    tv_wfile_write(w, sums, 8 * nblocks, &ignore) ||
	    tv_wfile_write(w, slots, 8 * nslots, &ignore) ||
	    tv_wfile_write(w, addrs, 8 * n, &ignore)) {
		tv_wfile_abort(w);
		goto done;
	}
	if (!tv_wfile_commit(w, TV_IO_PUT_NO_SYNC, &ignore)) /* a reader keeps its mapping */
		tv_table__sidecar_remove_older(t, is_id_name, name, false);
done:
	free(slots);
	free(sums);
	free(frags);
	free(path);
}

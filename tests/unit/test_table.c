/* The lancedb store's table engine on real files: persistence, versions
 * and restore, concurrent writer processes, SIGKILL during commits, and
 * damaged files. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "io/io.h"
#include "table/table.h"
#include "teavec.h"
#include "tv_test.h"

#define DIM 8

static char root[4096];

static const char *extra = "";

static tv_store *open_db(void)
{
	char settings[4400];
	tv_store *s = NULL;
	snprintf(settings, sizeof settings, "{\"lancedb_path\": \"%s\"%s}", root, extra);
	if (tv_store_open(&s, "lancedb", settings))
		fprintf(stderr, "open: %s\n", tv_last_errmsg());
	return s;
}

static void vec_of(long i, float *v)
{
	for (int j = 0; j < DIM; j++)
		v[j] = (float)((i * 31 + j * 17) % 101) / 10.0f - 5.0f;
	v[0] = (float)i / 100.0f;
}

/* Upserts ids [first, first + n) with text tag. */
static int upsert(tv_store *s, long first, long n, const char *tag)
{
	tv_record r[256];
	float v[256 * DIM];
	char ids[256][24];
	int rc;
	for (long i = 0; i < n; i++) {
		snprintf(ids[i], sizeof ids[i], "id%ld", first + i);
		vec_of(first + i, v + i * DIM);
		r[i] = (tv_record){ids[i], tag, NULL, NULL, v + i * DIM};
	}
	rc = tv_store_add(s, "t", r, (size_t)n, DIM, NULL);
	if (rc)
		fprintf(stderr, "upsert: %s\n", tv_store_errmsg(s));
	return rc;
}

/* Every live row, for checks. */
static tv_results *all(tv_store *s)
{
	tv_results *r = NULL;
	if (tv_store_get(s, "t", NULL, NULL, 0, 0, &r))
		fprintf(stderr, "all: %s\n", tv_store_errmsg(s));
	if (r && r->n == 0) {
		tv_results_free(r);
		r = NULL;
	}
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int distinct_ids(tv_results *r)
{
	const char **v;
	int ok = 1;
	if (!r || r->n < 2)
		return 1;
	if (!(v = malloc(r->n * sizeof *v)))
		return 0;
	for (size_t i = 0; i < r->n; i++)
		v[i] = r->items[i].id;
	qsort(v, r->n, sizeof *v, cmp_str);
	for (size_t i = 1; i < r->n && ok; i++)
		ok = strcmp(v[i - 1], v[i]) != 0;
	free(v);
	return ok;
}

static void test_rows_persist_across_reopen(void)
{
	tv_store *s;
	tv_results *r;
	size_t n = 0;
	snprintf(root, sizeof root, "%s", tv_test_tmpdir("persist"));
	s = open_db();
	REQUIRE(s);
	REQUIRE(upsert(s, 0, 100, "a") == 0);
	REQUIRE(upsert(s, 50, 100, "b") == 0);
	tv_store_close(s);
	s = open_db();
	REQUIRE(s);
	tv_store_count(s, "t", &n);
	CHECK_EQ_INT(n, 150);
	r = all(s);
	REQUIRE(r);
	CHECK(distinct_ids(r));
	for (size_t i = 0; i < r->n; i++)
		CHECK(!strcmp(r->items[i].text, atoi(r->items[i].id + 2) >= 50 ? "b" : "a"));
	tv_results_free(r);
	tv_store_close(s);
}

/* A fresh handle's small upserts into a bigger table find the old rows by
 * scanning the ids (no id index built); later ones through the index: in
 * every case the old rows go in the same commit, nothing is duplicated. */
static void test_small_upserts_into_a_big_table_replace_old_rows(void)
{
	tv_store *s;
	tv_results *r;
	size_t n = 0;
	snprintf(root, sizeof root, "%s", tv_test_tmpdir("probe"));
	s = open_db();
	REQUIRE(s);
	for (long i = 0; i < 4000; i += 200)
		REQUIRE(upsert(s, i, 200, "a") == 0);
	tv_store_close(s);
	s = open_db(); /* no id index yet */
	REQUIRE(s);
	for (int round = 0; round < 4; round++) {
		char tag[8];
		snprintf(tag, sizeof tag, "r%d", round);
		/* 20 existing ids spread over the fragments, 10 new ones */
		REQUIRE(upsert(s, 3990 + round * 10, 30, tag) == 0);
		REQUIRE(upsert(s, 1000 * round + 7, 1, tag) == 0);
		tv_store_count(s, "t", &n);
		CHECK_EQ_INT(n, 4020 + 10 * (size_t)round);
	}
	tv_store_close(s);
	s = open_db();
	REQUIRE(s);
	r = all(s);
	REQUIRE(r);
	CHECK_EQ_INT(r->n, 4050);
	CHECK(distinct_ids(r));
	for (size_t i = 0; i < r->n; i++) {
		long id = atol(r->items[i].id + 2);
		const char *want = id >= 4020 ? "r3" : id >= 4010 ? "r2" : id >= 4000 ? "r1" : id >= 3990 ? "r0" : "a";
		if (id < 3990 && id % 1000 == 7) /* the single-row upserts */
			want = id == 7 ? "r0" : id == 1007 ? "r1" : id == 2007 ? "r2" : "r3";
		CHECK_MSG(!strcmp(r->items[i].text, want), "id%ld: %s, want %s", id, r->items[i].text, want);
	}
	tv_results_free(r);
	tv_store_close(s);
}

/* Upserts ids [first, first + n) of any size, text tag. */
static int big_upsert(tv_store *s, long first, long n, const char *tag)
{
	tv_record *r = calloc((size_t)n, sizeof *r);
	float *v = calloc((size_t)n * DIM, sizeof *v);
	char (*ids)[24] = calloc((size_t)n, sizeof *ids);
	int rc = TV_ENOMEM;
	if (r && v && ids) {
		for (long i = 0; i < n; i++) {
			snprintf(ids[i], sizeof ids[i], "id%ld", first + i);
			vec_of(first + i, v + i * DIM);
			r[i] = (tv_record){ids[i], tag, NULL, NULL, v + i * DIM};
		}
		rc = tv_store_add(s, "t", r, (size_t)n, DIM, NULL);
	}
	free(r);
	free(v);
	free(ids);
	return rc;
}

/* Every live row has the text its id range says: ranges[k] = {first, n}
 * upserted in order with tags[k]. */
static int texts_match(tv_store *s, const long (*ranges)[2], const char *const *tags, int nr,
                       size_t want_rows)
{
	tv_results *r = all(s);
	size_t bad = 0;
	if (!r || r->n != want_rows || !distinct_ids(r)) {
		tv_results_free(r);
		return 0;
	}
	for (size_t i = 0; i < r->n; i++) {
		long id = atol(r->items[i].id + 2);
		const char *want = NULL;
		for (int k = 0; k < nr; k++)
			if (id >= ranges[k][0] && id < ranges[k][0] + ranges[k][1])
				want = tags[k];
		bad += !want || strcmp(r->items[i].text, want);
	}
	tv_results_free(r);
	return bad == 0;
}

/* Upserts of 2,048 rows or more write their data file on a thread of
 * their own while the committing thread looks up the rows they replace:
 * overlapping big batches replace exactly, with one thread or several,
 * and a failure on the writing thread (data/ made a plain file) fails the
 * upsert naming the path and leaves the table as it was. */
static void test_big_upserts_replace_exactly_and_fail_whole(void)
{
	static const long ranges[][2] = {{0, 5000}, {2500, 5000}, {6000, 3000}, {100, 10}};
	static const char *const tags[] = {"a", "b", "c", "d"};
	static const char *threads[] = {"1", "2"};
	char data[4200], keep[4300];
	for (int t = 0; t < 2; t++) {
		tv_store *s;
		size_t n = 0;
		char sub[32];
		setenv("TEAVEC_THREADS", threads[t], 1);
		snprintf(sub, sizeof sub, "big%d", t);
		snprintf(root, sizeof root, "%s", tv_test_tmpdir(sub));
		s = open_db();
		REQUIRE(s);
		for (int k = 0; k < 4; k++)
			REQUIRE(big_upsert(s, ranges[k][0], ranges[k][1], tags[k]) == 0);
		CHECK(texts_match(s, ranges, tags, 4, 9000));
		snprintf(data, sizeof data, "%s/t.lance/data", root);
		snprintf(keep, sizeof keep, "%s.keep", data);
		REQUIRE(rename(data, keep) == 0);
		REQUIRE(fclose(fopen(data, "w")) == 0);
		for (long rows = 3000; rows >= 30; rows /= 100) { /* on the thread, then not */
			int rc = big_upsert(s, 8000, rows, "x");
			CHECK(rc != 0);
			CHECK_MSG(strstr(tv_store_errmsg(s), "t.lance/data/") != NULL, "message: %s",
			          tv_store_errmsg(s));
		}
		REQUIRE(unlink(data) == 0 && rename(keep, data) == 0);
		tv_store_count(s, "t", &n);
		CHECK_EQ_INT(n, 9000);
		CHECK(texts_match(s, ranges, tags, 4, 9000));
		tv_store_close(s);
		s = open_db(); /* and on disk */
		REQUIRE(s);
		CHECK(texts_match(s, ranges, tags, 4, 9000));
		REQUIRE(big_upsert(s, 8500, 3000, "e") == 0);
		{
			static const long r2[][2] = {{0, 5000}, {2500, 5000}, {6000, 3000}, {100, 10},
			                             {8500, 3000}};
			static const char *const t2[] = {"a", "b", "c", "d", "e"};
			CHECK(texts_match(s, r2, t2, 5, 11500));
		}
		tv_store_close(s);
	}
	unsetenv("TEAVEC_THREADS");
}

/* Lookups answered through an id file in this process (table/idfile.c). */
extern unsigned long tv_table__idfile_lookups;
extern unsigned tv_table__sync_pause_ms;

/* The path of the table's id file (the newest), or "" if it has none. */
static const char *id_file(void)
{
	static char best[4400];
	char dir[4200], name[256] = "";
	DIR *d;
	struct dirent *e;
	snprintf(dir, sizeof dir, "%s/t.lance/_teavec", root);
	if ((d = opendir(dir))) {
		while ((e = readdir(d)))
			if (!strncmp(e->d_name, "ids-", 4) && strcmp(e->d_name, name) > 0)
				snprintf(name, sizeof name, "%s", e->d_name);
		closedir(d);
	}
	snprintf(best, sizeof best, "%s%s%s", *name ? dir : "", *name ? "/" : "", name);
	return best;
}

/* Upserts [first, first + n) with tag in a new handle; returns whether its
 * lookup went through the id file. */
static int fresh_upsert(long first, long n, const char *tag, int *via_file)
{
	unsigned long before = tv_table__idfile_lookups;
	tv_store *s = open_db();
	int rc = s ? upsert(s, first, n, tag) : -1;
	tv_store_close(s);
	*via_file = tv_table__idfile_lookups > before;
	return rc;
}

/* A new handle's small upserts into a table of 65,536 live rows or more
 * find the rows they replace through the id file that the first such
 * upsert's scan writes: right for the fragments it covers and for later
 * ones (scanned), and, damaged or cut short, not used (a scan again, which
 * writes a new one). Smaller tables get no id file. */
static void test_id_file_serves_new_handles_and_survives_damage(void)
{
	enum { N = 70000 };
	long ranges[8][2] = {{0, N}};
	const char *tags[8] = {"a"};
	int nr = 1, via = 0;
	size_t want = N;
	tv_store *s;
	char path[4400];
	struct stat st;
	snprintf(root, sizeof root, "%s", tv_test_tmpdir("idfile"));
	s = open_db();
	REQUIRE(s);
	for (long i = 0; i < N; i += 10000)
		REQUIRE(big_upsert(s, i, 10000, "a") == 0);
	tv_store_close(s);
	CHECK_EQ_STR(id_file(), "");
#define STEP(first, n, tag, new_rows, want_via)                                   \
	do {                                                                      \
		REQUIRE(fresh_upsert(first, n, tag, &via) == 0);                  \
		CHECK_MSG(via == (want_via), "%s: through the id file: %d", tag, via); \
		ranges[nr][0] = first, ranges[nr][1] = n, tags[nr++] = tag;       \
		want += new_rows;                                                 \
		s = open_db();                                                    \
		REQUIRE(s);                                                       \
		CHECK_MSG(texts_match(s, (const long (*)[2])ranges, tags, nr, want), "after %s", tag); \
		tv_store_close(s);                                                \
	} while (0)
	STEP(N - 25, 50, "b", 25, 0); /* a scan, which writes the file */
	REQUIRE(*id_file());
	snprintf(path, sizeof path, "%s", id_file());
	STEP(100, 30, "c", 0, 1);          /* rows the file covers */
	STEP(N - 10, 20, "d", 0, 1);       /* rows "b" wrote: a fragment it does not cover */
	REQUIRE(stat(path, &st) == 0 && st.st_size > 4096 * 4);
	{ /* every used slot's hash bits damaged, the header and sums intact:
	   * only the blocks' checksums can tell */
		int fd = open(path, O_RDWR);
		uint64_t h[8], off, nb, slot;
		REQUIRE(fd >= 0 && pread(fd, h, sizeof h, 0) == sizeof h);
		nb = (h[3] + 511) / 512 + (h[4] + 511) / 512;
		off = 64 + 16 * h[2] + 8 * nb;
		for (uint64_t j = 0; j < h[3]; j++)
			if (pread(fd, &slot, 8, (off_t)(off + 8 * j)) == 8 && slot) {
				slot ^= (uint64_t)1 << 60;
				CHECK(pwrite(fd, &slot, 8, (off_t)(off + 8 * j)) == 8);
			}
		close(fd);
	}
	STEP(5000, 10, "e", 0, 0); /* not used: a scan, and a new file */
	REQUIRE(*id_file() && strcmp(id_file(), path) > 0);
	CHECK(stat(path, &st) != 0); /* the older one went */
	snprintf(path, sizeof path, "%s", id_file());
	STEP(6000, 10, "f", 0, 1);
	REQUIRE(truncate(path, 4096 * 3) == 0); /* cut short */
	STEP(7000, 10, "g", 0, 0);
	snprintf(path, sizeof path, "%s", id_file());
	STEP(N + 100, 5, "h", 5, 1); /* new ids only */
	/* back to the version after "b": rows 100-129 of the first fragment,
	 * deleted when the file was written (by "c"), are live again; the file
	 * must still find them */
	{
		s = open_db();
		REQUIRE(s && tv_store_restore_state(s, "{\"collections\": {\"t\": 8}}") == 0);
		tv_store_close(s);
		nr = 2; /* "a" and "b" */
		want = N + 25;
	}
	STEP(100, 30, "i", 0, 1);
#undef STEP
	/* a smaller table never gets one */
	snprintf(root, sizeof root, "%s", tv_test_tmpdir("idfile-small"));
	s = open_db();
	REQUIRE(s && big_upsert(s, 0, 5000, "a") == 0);
	tv_store_close(s);
	REQUIRE(fresh_upsert(10, 5, "b", &via) == 0);
	CHECK(!via);
	CHECK_EQ_STR(id_file(), "");
}

/* A handle's in-memory id index after a restore (here, or by another
 * handle): rows it saw deleted, and fragments it saw go, are back, and an
 * upsert still replaces them. */
static void test_upserts_after_a_restore_replace_the_restored_rows(void)
{
	static const long r1[][2] = {{0, 300}, {0, 10}};
	static const char *const t1[] = {"a", "c"};
	for (int other = 0; other < 2; other++) {
		tv_store *s, *o;
		char sub[32];
		snprintf(sub, sizeof sub, "restore%d", other);
		snprintf(root, sizeof root, "%s", tv_test_tmpdir(sub));
		s = open_db();
		REQUIRE(s);
		REQUIRE(upsert(s, 0, 150, "a") == 0 && upsert(s, 150, 150, "a") == 0); /* v1, v2 */
		REQUIRE(upsert(s, 0, 10, "b") == 0);   /* v3 */
		REQUIRE(upsert(s, 200, 10, "x") == 0); /* v4: the index now has id0-9 in v3's fragment */
		o = other ? open_db() : s;
		REQUIRE(o && tv_store_restore_state(o, "{\"collections\": {\"t\": 2}}") == 0);
		if (other)
			tv_store_close(o);
		REQUIRE(upsert(s, 0, 10, "c") == 0); /* the restored id0-9 must go */
		CHECK_MSG(texts_match(s, r1, t1, 2, 300), "restore by %s", other ? "another handle" : "the same handle");
		tv_store_close(s);
	}
}

static void test_versions_list_and_checkout_reads_the_past(void)
{
	tv_store *s;
	char *js = NULL;
	size_t n = 0;
	snprintf(root, sizeof root, "%s", tv_test_tmpdir("versions"));
	s = open_db();
	REQUIRE(s);
	REQUIRE(upsert(s, 0, 10, "a") == 0);
	REQUIRE(upsert(s, 5, 10, "b") == 0);
	REQUIRE(tv_store_versions(s, "t", &js) == 0);
	CHECK_MSG(strstr(js, "{\"version\":1,") && strstr(js, "\"operation\":\"overwrite\"") &&
	          strstr(js, "{\"version\":2,") && strstr(js, "\"operation\":\"update\""), "%s", js);
	free(js);
	CHECK_EQ_INT(tv_store_checkout(s, "t", 1), 0);
	tv_store_count(s, "t", &n);
	CHECK_EQ_INT(n, 10);
	CHECK_EQ_INT(upsert(s, 100, 1, "c"), TV_EINVAL);
	CHECK(strstr(tv_store_errmsg(s), "checked out at version 1") != NULL);
	CHECK_EQ_INT(tv_store_checkout(s, "t", 0), 0);
	tv_store_count(s, "t", &n);
	CHECK_EQ_INT(n, 15);
	CHECK_EQ_INT(tv_store_checkout(s, "t", 42), TV_ENOTFOUND);
	CHECK_EQ_INT(tv_store_checkout(s, "nope", 1), TV_ENOTFOUND);
	tv_store_close(s);
	REQUIRE(tv_store_open(&s, "memory", NULL) == 0);
	CHECK_EQ_INT(tv_store_versions(s, "t", &js), TV_EUNSUPPORTED);
	tv_store_close(s);
}

/* Text of the row with this id, or "" (a copy, for checks). */
static const char *text_of(tv_store *s, const char *id, char *buf, size_t cap)
{
	tv_results *r = NULL;
	char where[64];
	snprintf(where, sizeof where, "id = '%s'", id);
	buf[0] = 0;
	if (tv_store_get(s, "t", where, NULL, 0, 0, &r) == 0 && r && r->n == 1)
		snprintf(buf, cap, "%s", r->items[0].text);
	tv_results_free(r);
	return buf;
}

/* A table another writer filled may repeat an id (LanceDB keeps no key;
 * here the table layer is given the id twice in one batch, which the
 * store would have reduced to one row). An upsert of that id through a
 * handle's id index replaces every row holding it, as a fresh handle's
 * scan of the ids does. */
static void test_upsert_replaces_every_row_of_a_repeated_id(void)
{
	tv_store *s;
	tv_io *io = NULL;
	tv_table *t = NULL;
	tv_err err = {0, ""};
	tv_row rows[100];
	float v[100 * DIM];
	char ids[100][24], buf[64];
	size_t n = 0;
	snprintf(root, sizeof root, "%s", tv_test_tmpdir("dups"));
	s = open_db();
	REQUIRE(s && big_upsert(s, 0, 5000, "a") == 0);
	tv_store_close(s);
	REQUIRE(tv_io_local_open(&io, root, &err) == 0 && tv_table_open(&t, io, "t.lance", 0, &err) == 0);
	for (int i = 0; i < 100; i++) {
		snprintf(ids[i], sizeof ids[i], i < 2 ? "dup" : "id%d", i - 2);
		vec_of(i, v + i * DIM);
		rows[i] = (tv_row){ids[i], strlen(ids[i]), i < 2 ? "d1" : "b", i < 2 ? 2 : 1, NULL, 0,
		                   NULL, "{}", v + i * DIM};
	}
	/* two live rows of "dup", written by a small upsert (a scan finds nothing) */
	CHECK_EQ_INT(tv_table_upsert(t, rows, 2, &err), 0);
	/* 100 rows into 5,002: the id index is built, the repeated id found */
	rows[1].text = "d3";
	CHECK_EQ_INT(tv_table_upsert(t, rows + 1, 99, &err), 0);
	CHECK_EQ_INT(tv_table_rows(t), 5001);
	tv_table_close(t);
	tv_io_free(io);
	s = open_db();
	REQUIRE(s);
	tv_store_count(s, "t", &n);
	CHECK_EQ_INT(n, 5001);
	CHECK_EQ_STR(text_of(s, "dup", buf, sizeof buf), "d3"); /* one row, the new one */
	CHECK_EQ_STR(text_of(s, "id5", buf, sizeof buf), "b");
	tv_store_close(s);
}

/* A store keeps its table open between calls and checks cheaply that it
 * is still the newest version: it sees another store's commits at once,
 * and a table removed and made again up to the same version number (the
 * next version's manifest absent, this one's present) is not taken for
 * the one it loaded, nor are its id index's row addresses (the same
 * fragment ids, other files). */
static void test_a_store_sees_other_writers_and_a_remade_table(void)
{
	tv_store *a, *b;
	char buf[64], cmd[4200];
	size_t n = 0;
	snprintf(root, sizeof root, "%s", tv_test_tmpdir("fresh"));
	a = open_db();
	b = open_db();
	REQUIRE(a && b);
	REQUIRE(upsert(a, 0, 10, "a1") == 0); /* version 1 */
	CHECK_EQ_INT(tv_store_count(b, "t", &n), 0);
	CHECK_EQ_INT(n, 10);
	REQUIRE(upsert(a, 10, 5, "a2") == 0);
	CHECK_EQ_STR(text_of(b, "id12", buf, sizeof buf), "a2"); /* the next version seen */
	REQUIRE(upsert(b, 15, 1, "b1") == 0); /* version 3; b indexes the ids */
	CHECK_EQ_STR(text_of(a, "id15", buf, sizeof buf), "b1");
	snprintf(cmd, sizeof cmd, "rm -rf '%s/t.lance'", root);
	REQUIRE(system(cmd) == 0);
	tv_store_count(b, "t", &n);
	CHECK_EQ_INT(n, 0); /* gone */
	CHECK_EQ_STR(text_of(b, "id3", buf, sizeof buf), "");
	/* made again by a, up to version 3 as b saw it; fragment 0 holds id0
	 * again, now at row 0 deleted (its live row is in fragment 2) */
	REQUIRE(upsert(a, 0, 2, "c1") == 0 && upsert(a, 2, 1, "c2") == 0 && upsert(a, 0, 1, "c3") == 0);
	CHECK_EQ_INT(tv_store_count(b, "t", &n), 0);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_STR(text_of(b, "id0", buf, sizeof buf), "c3");
	REQUIRE(upsert(b, 0, 1, "b2") == 0);
	tv_store_count(a, "t", &n);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_STR(text_of(a, "id0", buf, sizeof buf), "b2");
	tv_store_close(a);
	tv_store_close(b);
}

/* A read-only database opens and answers; writing it names the path. */
static void test_read_only_database_reads_and_refuses_writes(void)
{
	tv_store *s;
	size_t n = 0;
	char cmd[4200];
	snprintf(root, sizeof root, "%s", tv_test_tmpdir("readonly"));
	s = open_db();
	REQUIRE(s && upsert(s, 0, 3, "a") == 0);
	tv_store_close(s);
	snprintf(cmd, sizeof cmd, "chmod -R a-w '%s'", root);
	if (system(cmd)) { /* best effort */ }
	s = open_db();
	REQUIRE(s);
	CHECK_EQ_INT(tv_store_count(s, "t", &n), 0);
	CHECK_EQ_INT(n, 3);
	if (geteuid() != 0) {
		CHECK_EQ_INT(upsert(s, 10, 1, "b"), TV_EPERM);
		CHECK(strstr(tv_store_errmsg(s), root) != NULL);
	}
	tv_store_close(s);
	/* root ignores file modes: a root that cannot be created (sysfs) */
	snprintf(root, sizeof root, "/sys/teavec-test-db");
	s = open_db();
	REQUIRE(s);
	CHECK_EQ_INT(upsert(s, 10, 1, "b"), TV_EPERM);
	CHECK_MSG(strstr(tv_store_errmsg(s), "/sys/teavec-test-db") != NULL, "%s", tv_store_errmsg(s));
	tv_store_close(s);
	snprintf(root, sizeof root, "%s", tv_test_tmpdir("readonly"));
	snprintf(cmd, sizeof cmd, "chmod -R u+w '%s'", root);
	if (system(cmd)) { /* best effort */ }
}

static void test_state_restores_an_earlier_version(void)
{
	tv_store *s;
	char *st = NULL;
	size_t n = 0;
	snprintf(root, sizeof root, "%s", tv_test_tmpdir("state"));
	s = open_db();
	REQUIRE(s);
	REQUIRE(upsert(s, 0, 10, "a") == 0);
	REQUIRE(tv_store_get_state(s, &st) == 0);
	CHECK(strstr(st, "\"collections\":{\"t\":1}") != NULL);
	REQUIRE(upsert(s, 10, 10, "b") == 0);
	tv_store_count(s, "t", &n);
	CHECK_EQ_INT(n, 20);
	CHECK_EQ_INT(tv_store_restore_state(s, st), 0);
	tv_store_count(s, "t", &n);
	CHECK_EQ_INT(n, 10);
	free(st);
	REQUIRE(tv_store_get_state(s, &st) == 0);
	CHECK_MSG(strstr(st, "\"t\":3") != NULL, "%s", st); /* restore is a new version */
	free(st);
	CHECK_EQ_INT(tv_store_restore_state(s, "{\"collections\": {\"t\": 99}}"), TV_ENOTFOUND);
	CHECK_EQ_INT(tv_store_restore_state(s, "{\"collections\": {\"nope\": 1}}"), TV_ENOTFOUND);
	tv_store_count(s, "t", &n);
	CHECK_EQ_INT(n, 10);
	tv_store_close(s);
}

/* procs (up to 8) processes upsert rounds batches of batch rows each, at
 * overlapping ranges (starts 7/10 of a batch apart per round and half a
 * batch per process, within twice a batch): exactly the union remains,
 * each id once. */
static void writers_race(int procs, int rounds, long batch, const char *dirtag)
{
	tv_store *s;
	tv_results *r;
	pid_t pids[8];
	long step = batch / 10, span = 20 * step, top = 0;
	int ok = 1;
	char *seen;
	REQUIRE(procs <= 8);
	snprintf(root, sizeof root, "%s", tv_test_tmpdir(dirtag));
	s = open_db();
	REQUIRE(s && upsert(s, 0, 1, "seed") == 0);
	tv_store_close(s);
	for (int p = 0; p < procs; p++) {
		if ((pids[p] = fork()) == 0) {
			tv_store *c = open_db();
			char tag[16];
			snprintf(tag, sizeof tag, "p%d", p);
			for (int k = 0; k < rounds; k++)
				if (!c || big_upsert(c, (p * 5 + k * 7) % 20 * step, batch, tag))
					_exit(1);
			tv_store_close(c);
			_exit(0);
		}
	}
	for (int p = 0; p < procs; p++) {
		int status = 0;
		waitpid(pids[p], &status, 0);
		ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	CHECK_MSG(ok, "a writer process failed");
	s = open_db();
	REQUIRE(s);
	r = all(s);
	REQUIRE(r);
	REQUIRE((seen = calloc((size_t)(span + batch), 1)));
	{
		/* the union of every writer's ranges, and the seed */
		size_t want = 0;
		seen[0] = 1;
		for (int p = 0; p < procs; p++)
			for (int k = 0; k < rounds; k++) {
				long first = (p * 5 + k * 7) % 20 * step;
				for (long i = 0; i < batch; i++)
					seen[first + i] = 1;
				if (first + batch > top)
					top = first + batch;
			}
		for (long i = 0; i < top; i++)
			want += (size_t)seen[i];
		CHECK_EQ_INT(r->n, want);
	}
	CHECK(distinct_ids(r));
	free(seen);
	tv_results_free(r);
	tv_store_close(s);
}

/* 4 processes upsert overlapping id ranges 200 times each. */
static void test_concurrent_writer_processes_lose_nothing(void)
{
	writers_race(4, 200, 20, "concurrent");
}

/* Batches of 3,000 rows take the threaded commit, whose manifest waits for
 * its data file: losing the race there rebases as well. */
static void test_concurrent_big_batches_lose_nothing(void)
{
	writers_race(3, 8, 3000, "concurrent_big");
}

/* A child upserts batches of `batch` rows in a loop and is SIGKILLed at
 * random moments, after 2 to 2 + max_ms milliseconds; after each kill the
 * table opens and holds the last acknowledged batch in full. */
static void sigkill_rounds(int nkills, long batch, int max_ms, unsigned pause_ms,
                           const char *dirtag)
{
	tv_store *s;
	int kills = 0, bad = 0, acked_rounds = 0;
	long step = batch / 10; /* batches start at multiples of a tenth of one */
	srand((unsigned)time(NULL));
	snprintf(root, sizeof root, "%s", tv_test_tmpdir(dirtag));
	for (int round = 0; round < nkills; round++) {
		int fd[2];
		pid_t pid;
		long acked = -1, v;
		char tag[16];
		struct timespec ts = {0, 1000000L * (2 + rand() % max_ms)};
		if (pipe(fd))
			break;
		snprintf(tag, sizeof tag, "r%d", round);
		if ((pid = fork()) == 0) {
			tv_store *c = open_db();
			close(fd[0]);
			if (!c)
				_exit(1);
			tv_table__sync_pause_ms = pause_ms;
			for (long k = 0;; k++) {
				if (big_upsert(c, (k * 13) % 60 * step, batch, tag))
					_exit(1);
				if (write(fd[1], &k, sizeof k) != sizeof k)
					_exit(1);
			}
			_exit(1);
		}
		close(fd[1]);
		/* every other round waits for a first acknowledged commit, so that
		 * half the kills land after one whatever the machine's load; the
		 * others may land before the table even exists */
		if (round % 2 == 0 && read(fd[0], &v, sizeof v) == sizeof v)
			acked = v;
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		kills++;
		while (read(fd[0], &v, sizeof v) == sizeof v)
			acked = v;
		close(fd[0]);
		acked_rounds += acked >= 0;
		s = open_db();
		if (!s) {
			bad++;
			continue;
		}
		{
			tv_results *r = NULL;
			size_t n = 0;
			/* every row read back: a data file missing or cut short fails */
			int rc = tv_store_count(s, "t", &n) || tv_store_get(s, "t", NULL, NULL, 0, 0, &r);
			if (rc)
				fprintf(stderr, "  after kill %d: %s\n", round, tv_store_errmsg(s));
			if (rc || (r && (r->n != n || !distinct_ids(r))))
				bad++;
			/* the last acknowledged batch is there in full, with this round's text */
			if (acked >= 0 && r) {
				long first = (acked * 13) % 60 * step;
				long found = 0;
				for (size_t i = 0; i < r->n; i++) {
					long id = atol(r->items[i].id + 2);
					if (id >= first && id < first + batch && !strcmp(r->items[i].text, tag))
						found++;
				}
				/* a later, unacknowledged commit may have replaced some with
				 * the same tag: they still carry this round's tag */
				if (found != batch)
					bad++;
			}
			tv_results_free(r);
		}
		tv_store_close(s);
	}
	printf("  %d kills (%d after at least one acknowledged commit), %d bad states\n", kills,
	       acked_rounds, bad);
	CHECK(acked_rounds >= nkills / 2);
	CHECK_EQ_INT(kills, nkills);
	CHECK_EQ_INT(bad, 0);
}

static void test_sigkill_during_commits_never_tears_a_version(void)
{
	sigkill_rounds(100, 10, 30, 0, "crash");
}

/* Batches of 3,000 rows take the threaded commit (data file written and
 * synced on a thread while the lookups, plan and transaction file go on),
 * here with a 10 ms pause before the sync, so that many kills land while
 * the file is still unpublished: the manifest never names a data file
 * that is not there in full. */
static void test_sigkill_during_big_commits_never_tears_a_version(void)
{
	sigkill_rounds(30, 3000, 60, 10, "crash_big");
}

static void flip_byte(const char *path, long from_end)
{
	int fd = open(path, O_RDWR);
	unsigned char b;
	off_t end = lseek(fd, 0, SEEK_END);
	if (pread(fd, &b, 1, end - from_end) == 1) {
		b ^= 0x5a;
		if (pwrite(fd, &b, 1, end - from_end) != 1)
			perror("pwrite");
	}
	close(fd);
}

static void test_damaged_deletion_file_is_corrupt_naming_the_file(void)
{
	tv_store *s;
	size_t n;
	char cmd[4400], path[4400];
	FILE *p;
	snprintf(root, sizeof root, "%s", tv_test_tmpdir("corrupt-del"));
	s = open_db();
	REQUIRE(s && upsert(s, 0, 50, "a") == 0 && upsert(s, 10, 5, "b") == 0);
	tv_store_close(s);
	snprintf(cmd, sizeof cmd, "ls %s/t.lance/_deletions/*.bin", root);
	REQUIRE((p = popen(cmd, "r")) && fgets(path, sizeof path, p));
	pclose(p);
	path[strcspn(path, "\n")] = 0;
	flip_byte(path, 1); /* a row offset past the fragment, or a broken container */
	s = open_db();
	REQUIRE(s);
	CHECK_EQ_INT(tv_store_count(s, "t", &n), TV_ECORRUPT);
	CHECK_MSG(strstr(tv_store_errmsg(s), "_deletions/") != NULL, "%s", tv_store_errmsg(s));
	tv_store_close(s);
	if (truncate(path, 3) == 0) {
		s = open_db();
		REQUIRE(s);
		CHECK_EQ_INT(tv_store_count(s, "t", &n), TV_ECORRUPT);
		tv_store_close(s);
	}
}

static void test_damaged_manifest_is_corrupt_naming_the_file(void)
{
	tv_store *s;
	size_t n;
	char path[4400];
	snprintf(root, sizeof root, "%s", tv_test_tmpdir("corrupt"));
	s = open_db();
	REQUIRE(s && upsert(s, 0, 5, "a") == 0);
	tv_store_close(s);
	snprintf(path, sizeof path, "%s/t.lance/_versions/18446744073709551614.manifest", root);
	flip_byte(path, 2); /* the LANC magic */
	s = open_db();
	REQUIRE(s);
	CHECK_EQ_INT(tv_store_count(s, "t", &n), TV_ECORRUPT);
	CHECK_MSG(strstr(tv_store_errmsg(s), "18446744073709551614.manifest") != NULL, "%s",
	          tv_store_errmsg(s));
	tv_store_close(s);
	flip_byte(path, 2);
	flip_byte(path, 40); /* inside the manifest protobuf */
	s = open_db();
	REQUIRE(s);
	CHECK(tv_store_count(s, "t", &n) != TV_OK || n == 5);
	tv_store_close(s);
}

static size_t files_in(const char *sub)
{
	char cmd[4400];
	size_t n = 0;
	FILE *p;
	snprintf(cmd, sizeof cmd, "ls '%s/t.lance/%s' 2>/dev/null | wc -l", root, sub);
	if ((p = popen(cmd, "r"))) {
		if (fscanf(p, "%zu", &n) != 1)
			n = 0;
		pclose(p);
	}
	return n;
}

/* An agent upserting a few rows at a time: fragments and versions stay
 * bounded by automatic compaction and cleanup, and every row survives. */
static void test_small_upserts_are_compacted_and_cleaned_up(void)
{
	tv_store *s;
	tv_results *r;
	size_t n = 0;
	snprintf(root, sizeof root, "%s", tv_test_tmpdir("compact"));
	extra = ", \"cleanup_older_than_s\": 0";
	s = open_db();
	REQUIRE(s);
	for (int i = 0; i < 120; i++) {
		char tag[16];
		snprintf(tag, sizeof tag, "u%d", i);
		REQUIRE(upsert(s, (i * 7) % 150, 5, tag) == 0);
	}
	printf("  after 120 upserts: %zu data files, %zu manifests, %zu deletion files\n",
	       files_in("data"), files_in("_versions") - 1, files_in("_deletions"));
	CHECK(files_in("data") <= 40);
	CHECK(files_in("_versions") <= 40);
	r = all(s);
	REQUIRE(r);
	CHECK(distinct_ids(r));
	{
		char cover[200] = {0};
		size_t want = 0;
		for (int k = 0; k < 120; k++)
			memset(cover + (k * 7) % 150, 1, 5);
		for (int i = 0; i < 200; i++)
			want += cover[i];
		CHECK_EQ_INT(r->n, want);
		n = want;
	}
	for (size_t i = 0; i < r->n; i++) {
		/* the text is the tag of the last upsert that covered the id */
		long id = atol(r->items[i].id + 2), last = -1;
		char want[32];
		for (int k = 0; k < 120; k++)
			if (id >= (k * 7) % 150 && id < (k * 7) % 150 + 5)
				last = k;
		snprintf(want, sizeof want, "u%ld", last);
		CHECK_MSG(!strcmp(r->items[i].text, want), "%s: %s, want %s", r->items[i].id,
		          r->items[i].text, want);
	}
	tv_results_free(r);
	CHECK_EQ_INT(tv_store_optimize(s, NULL), 0);
	{
		size_t after = 0;
		tv_store_count(s, "t", &after);
		CHECK_EQ_INT(after, n);
	}
	/* cleanup keeps the newest 10 versions and the files they use */
	CHECK(files_in("_versions") <= 12);
	tv_store_close(s);
	extra = "";
}

int main(void)
{
	TV_RUN(test_small_upserts_are_compacted_and_cleaned_up);
	TV_RUN(test_rows_persist_across_reopen);
	TV_RUN(test_small_upserts_into_a_big_table_replace_old_rows);
	TV_RUN(test_big_upserts_replace_exactly_and_fail_whole);
	TV_RUN(test_id_file_serves_new_handles_and_survives_damage);
	TV_RUN(test_upserts_after_a_restore_replace_the_restored_rows);
	TV_RUN(test_state_restores_an_earlier_version);
	TV_RUN(test_versions_list_and_checkout_reads_the_past);
	TV_RUN(test_a_store_sees_other_writers_and_a_remade_table);
	TV_RUN(test_upsert_replaces_every_row_of_a_repeated_id);
	TV_RUN(test_read_only_database_reads_and_refuses_writes);
	TV_RUN(test_concurrent_writer_processes_lose_nothing);
	TV_RUN(test_concurrent_big_batches_lose_nothing);
	TV_RUN(test_sigkill_during_commits_never_tears_a_version);
	TV_RUN(test_sigkill_during_big_commits_never_tears_a_version);
	TV_RUN(test_damaged_manifest_is_corrupt_naming_the_file);
	TV_RUN(test_damaged_deletion_file_is_corrupt_naming_the_file);
	TV_TEST_END();
}

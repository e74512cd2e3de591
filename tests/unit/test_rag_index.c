/* vector.index_files through the memory and the lancedb store with the
 * same test code: first index, unchanged rerun, a touched file, an edited
 * file (its chunks all replaced, old ids gone), a deleted file (its chunks
 * and state gone), binary / oversized / invalid UTF-8 files, filters on
 * path and chunk metadata, a dimension change (lancedb), and parameter
 * errors that name the parameter. */
#include <sys/time.h>

#include "rag/rag_int.h"
#include "util/common.h"
#include "tv_test.h"

static const char *backend;
static char root[4096], dbdir[4096];

static void put(const char *rel, const char *text, size_t n)
{
	char p[8300];
	FILE *f;
	snprintf(p, sizeof p, "%s/%s", root, rel);
	f = fopen(p, "wb");
	if (f) {
		fwrite(text, 1, n, f);
		fclose(f);
	}
}
#define PUT(rel, lit) put(rel, lit, sizeof lit - 1)

static json_t *call(tv_rag *r, const char *action, json_t *params)
{
	json_t *res = NULL;
	tv_rag_call(r, action, params, &res);
	json_decref(params);
	return res;
}

static json_t *index_tree(tv_rag *r)
{
	return call(r, "vector.index_files",
	            json_pack("{s:s,s:s,s:s,s:i}", "paths", root, "collection", "docs", "chunk_by",
	                      "paragraph", "max_file_size", 2000));
}

static long long geti(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* The ids of the chunks of one file, as one sorted string. */
static char *ids_of(tv_rag *r, const char *rel)
{
	char p[8300], *out;
	tv_results *res = NULL;
	json_t *f;
	char *fj;
	tv_buf b = {0};
	snprintf(p, sizeof p, "%s/%s", root, rel);
	f = json_pack("{s:s}", "path", p);
	fj = json_dumps(f, 0);
	json_decref(f);
	if (tv_store_get(r->store, "docs", NULL, fj, 0, 0, &res)) {
		free(fj);
		return tv_strdup("error");
	}
	for (size_t i = 0; i < res->n; i++)
		tv_buf_printf(&b, "%s;", res->items[i].id);
	tv_buf_append(&b, "", 1);
	out = b.data;
	tv_results_free(res);
	free(fj);
	return out;
}

static size_t rows(tv_rag *r, const char *coll)
{
	size_t n = 0;
	tv_store_count(r->store, coll, &n);
	return n;
}

static void test_incremental_indexing(void)
{
	tv_rag *r = NULL;
	tv_err err = {0};
	json_t *settings, *res;
	char *b_ids, *a_ids, *s;
	char cmd[9000], big[3000];
	struct timeval tv[2];
	snprintf(root, sizeof root, "%s", tv_test_tmpdir("tree"));
	snprintf(dbdir, sizeof dbdir, "%s", tv_test_tmpdir("db"));
	snprintf(cmd, sizeof cmd, "mkdir -p '%s/sub'", root);
	REQUIRE(system(cmd) == 0);
	PUT("a.md", "Cats sleep all day.\n\nDogs guard the house at night.\n");
	PUT("sub/b.txt", "Rust is a systems language.\n\nC is older.\n\nZig is newer.\n");
	PUT("bad.txt", "caf\xE9 au lait\n");
	PUT("bin.dat", "\x7f" "ELF\0\0\0\1\2\3");
	memset(big, 'x', sizeof big);
	put("big.txt", big, sizeof big);
	settings = json_pack("{s:s,s:s}", "vector_store", backend, "lancedb_path", dbdir);
	REQUIRE(tv_rag_open(&r, settings, &err) == 0);

	/* first run */
	res = index_tree(r);
	s = json_dumps(res, 0);
	CHECK_MSG(json_is_true(json_object_get(res, "success")), "%s", s);
	free(s);
	CHECK_EQ_INT(geti(res, "indexed"), 3);
	CHECK_EQ_INT(geti(res, "removed"), 0);
	CHECK_EQ_INT(geti(res, "chunks"), 6);
	CHECK_EQ_INT(json_array_size(json_object_get(res, "skipped_files")), 2); /* bin, big */
	CHECK_EQ_INT(json_array_size(json_object_get(res, "warnings")), 1);     /* bad.txt */
	CHECK_EQ_INT(json_array_size(json_object_get(res, "files")), 3);
	CHECK_EQ_STR(json_string_value(json_object_get(res, "collection")), "docs");
	json_decref(res);
	CHECK_EQ_INT(rows(r, "docs"), 6);
	CHECK_EQ_INT(rows(r, "docs.files"), 3);
	a_ids = ids_of(r, "a.md");
	b_ids = ids_of(r, "sub/b.txt");
	CHECK(strlen(a_ids) > 0 && strlen(b_ids) > 0);

	/* unchanged: nothing embedded */
	res = index_tree(r);
	CHECK_EQ_INT(geti(res, "indexed"), 0);
	CHECK_EQ_INT(geti(res, "unchanged"), 3);
	CHECK_EQ_INT(geti(res, "chunks"), 0);
	json_decref(res);

	/* touched (new mtime, same bytes): read and hashed, not re-embedded */
	gettimeofday(&tv[0], NULL);
	tv[1] = tv[0];
	tv[1].tv_sec += 5;
	snprintf(cmd, sizeof cmd, "%s/a.md", root);
	CHECK(utimes(cmd, tv) == 0);
	res = index_tree(r);
	CHECK_EQ_INT(geti(res, "indexed"), 0);
	CHECK_EQ_INT(geti(res, "unchanged"), 3);
	json_decref(res);
	s = ids_of(r, "a.md");
	CHECK_EQ_STR(s, a_ids);
	free(s);

	/* edited: all its chunks replaced, the old ids gone, a.md untouched */
	PUT("sub/b.txt", "Go has goroutines.\n\nC is older.\n");
	snprintf(cmd, sizeof cmd, "%s/sub/b.txt", root);
	tv[1].tv_sec += 5;
	CHECK(utimes(cmd, tv) == 0);
	res = index_tree(r);
	CHECK_EQ_INT(geti(res, "indexed"), 1);
	CHECK_EQ_INT(geti(res, "chunks"), 2);
	json_decref(res);
	s = ids_of(r, "sub/b.txt");
	CHECK(strcmp(s, b_ids) != 0);
	{
		/* no old id survives */
		char *tok, *copy = tv_strdup(b_ids);
		for (tok = strtok(copy, ";"); tok; tok = strtok(NULL, ";"))
			if (strstr(tok, "#0:") || strstr(tok, "#2:"))
				CHECK_MSG(strstr(s, tok) == NULL, "old chunk id %s survived", tok);
		free(copy);
	}
	free(s);
	s = ids_of(r, "a.md");
	CHECK_EQ_STR(s, a_ids);
	free(s);
	CHECK_EQ_INT(rows(r, "docs"), 5);

	/* filters after indexing: path column and chunk metadata */
	res = call(r, "vector.query",
	           json_pack("{s:s,s:s,s:i,s:{s:s}}", "query", "goroutines", "collection", "docs", "k",
	                     10, "filter", "path", cmd));
	CHECK_EQ_INT(json_array_size(json_object_get(res, "results")), 2);
	CHECK(strstr(json_string_value(json_object_get(
	                 json_array_get(json_object_get(res, "results"), 0), "text")),
	             "goroutines") != NULL);
	json_decref(res);
	res = call(r, "vector.query",
	           json_pack("{s:s,s:s,s:i,s:s}", "query", "x", "collection", "docs", "k", 10, "filter",
	                     "chunk_type = 'paragraph' AND start_line >= 3 AND path LIKE '%.md'"));
	CHECK_EQ_INT(json_array_size(json_object_get(res, "results")), 1);
	json_decref(res);

	/* deleted: its chunks and its state go */
	snprintf(cmd, sizeof cmd, "%s/a.md", root);
	CHECK(unlink(cmd) == 0);
	res = index_tree(r);
	CHECK_EQ_INT(geti(res, "removed"), 1);
	CHECK_EQ_INT(geti(res, "indexed"), 0);
	json_decref(res);
	s = ids_of(r, "a.md");
	CHECK_EQ_STR(s, "");
	free(s);
	CHECK_EQ_INT(rows(r, "docs"), 3);
	CHECK_EQ_INT(rows(r, "docs.files"), 2);

	/* a full run re-embeds everything without duplicating */
	res = call(r, "vector.index_files",
	           json_pack("{s:s,s:s,s:b,s:i}", "paths", root, "collection", "docs", "incremental", 0,
	                     "max_file_size", 2000));
	CHECK_EQ_INT(geti(res, "indexed"), 2);
	json_decref(res);
	CHECK_EQ_INT(rows(r, "docs"), 3);

	/* parameter errors name the parameter */
	res = call(r, "vector.index_files", json_pack("{s:s}", "collection", "docs"));
	CHECK(json_is_false(json_object_get(res, "success")));
	CHECK(strstr(json_string_value(json_object_get(res, "error")), "paths") != NULL);
	json_decref(res);
	res = call(r, "vector.index_files", json_pack("{s:s,s:s}", "paths", root, "chunk_by", "word"));
	CHECK(strstr(json_string_value(json_object_get(res, "error")), "chunk_by") != NULL);
	json_decref(res);
	res = call(r, "vector.index_files", json_pack("{s:s,s:i}", "paths", root, "extensions", 3));
	CHECK(strstr(json_string_value(json_object_get(res, "error")), "extensions") != NULL);
	json_decref(res);
	tv_rag_close(r);

	/* another embedder dimension on the same database: everything is
	 * re-embedded at the new dimension, with a message saying so */
	if (!strcmp(backend, "lancedb")) {
		json_object_set_new(settings, "embedding_dimensions", json_integer(32));
		REQUIRE(tv_rag_open(&r, settings, &err) == 0);
		res = index_tree(r);
		CHECK(json_is_true(json_object_get(res, "success")));
		CHECK_EQ_INT(geti(res, "indexed"), 2);
		s = json_dumps(json_object_get(res, "messages"), 0);
		CHECK_MSG(strstr(s, "hash:v1:32") != NULL, "%s", s);
		free(s);
		json_decref(res);
		CHECK_EQ_INT(rows(r, "docs"), 3);
		res = call(r, "vector.query",
		           json_pack("{s:s,s:s,s:b}", "query", "older", "collection", "docs",
		                     "include_embeddings", 1));
		CHECK_EQ_INT(json_array_size(json_object_get(
		                 json_array_get(json_object_get(res, "results"), 0), "embedding")),
		             32);
		json_decref(res);
		tv_rag_close(r);
	}
	json_decref(settings);
	free(a_ids);
	free(b_ids);
}

/* ---- the pipeline: many files, several batches ----------------------- */

#define NFILES 2100 /* three batches of at most 1,024 files */
#define NINDEXED (NFILES - 8) /* 4 binary and 4 oversized skipped */

/* A tree of NFILES small files in 26 directories, with a binary one, an
 * oversized one and invalid UTF-8 here and there (so skips and warnings
 * come from every batch). */
static void make_tree(const char *dir)
{
	char p[8300];
	snprintf(p, sizeof p, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
	REQUIRE(system(p) == 0);
	for (int i = 0; i < NFILES; i++) {
		FILE *f;
		if (i % 100 == 0) {
			snprintf(p, sizeof p, "%s/d%02d", dir, i / 100);
			mkdir(p, 0777);
		}
		snprintf(p, sizeof p, "%s/d%02d/f%04d.%s", dir, i / 100, i, i % 7 ? "md" : "txt");
		REQUIRE((f = fopen(p, "wb")));
		if (i % 500 == 250)
			fputs("\x7f" "ELF\1\2", f), fputc(0, f);
		else if (i % 500 == 251)
			for (int k = 0; k < 300; k++)
				fputs("oversized line of text\n", f);
		else
			fprintf(f, "File %d is about topic %d.\n\nIt mentions word%d and word%d%s.\n", i,
			        i % 13, i % 17, i % 29, i % 300 == 7 ? " caf\xe9" : "");
		fclose(f);
	}
}

static json_t *index_dir(tv_rag *r, const char *dir, bool full)
{
	return call(r, "vector.index_files",
	            json_pack("{s:s,s:s,s:i,s:b}", "paths", dir, "collection", "docs", "max_file_size",
	                      4000, "incremental", !full));
}

/* Every row of a collection in storage order: id, text, path, metadata and
 * the vector's bytes (as a hash). */
static char *dump(tv_rag *r, const char *coll)
{
	tv_results *res = NULL;
	tv_buf b = {0};
	if (tv_store_get(r->store, coll, NULL, NULL, 0, 1, &res))
		return tv_strdup("error");
	for (size_t i = 0; i < res->n; i++)
		tv_buf_printf(&b, "%s|%s|%s|%s|%016llx\n", res->items[i].id, res->items[i].text,
		              res->items[i].path ? res->items[i].path : "-", res->items[i].metadata,
		              (unsigned long long)tv_hash64(res->items[i].vector,
		                                            res->dim * sizeof(float)));
	tv_buf_append(&b, "", 0);
	tv_results_free(res);
	return b.data ? b.data : tv_strdup("");
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* s's lines sorted (takes s). */
static char *sorted_lines(char *s)
{
	size_t n = 0, k = 0;
	char **v, *out, *tok, *save = NULL;
	tv_buf b = {0};
	for (char *c = s; *c; c++)
		n += *c == '\n';
	v = calloc(n + 1, sizeof *v);
	for (tok = strtok_r(s, "\n", &save); tok && k <= n; tok = strtok_r(NULL, "\n", &save))
		v[k++] = tok;
	qsort(v, k, sizeof *v, cmp_str);
	for (size_t i = 0; i < k; i++)
		tv_buf_printf(&b, "%s\n", v[i]);
	tv_buf_append(&b, "", 0);
	out = b.data ? b.data : tv_strdup("");
	free(v);
	free(s);
	return out;
}

/* A lancedb collection's history: each version's operation and rows, so
 * the same batches committed in the same order look the same ("" for the
 * memory store, which keeps no versions). */
static char *layout(tv_rag *r, const char *coll)
{
	char *vs = NULL;
	json_t *j, *v;
	size_t i;
	tv_buf b = {0};
	if (tv_store_versions(r->store, coll, &vs))
		return tv_strdup("");
	j = json_loads(vs, 0, NULL);
	json_array_foreach(j, i, v) {
		size_t n = 0;
		tv_store_checkout(r->store, coll, (uint64_t)json_integer_value(json_object_get(v, "version")));
		tv_store_count(r->store, coll, &n);
		tv_buf_printf(&b, "%s %zu; ", json_string_value(json_object_get(v, "operation")), n);
	}
	tv_store_checkout(r->store, coll, 0);
	json_decref(j);
	free(vs);
	tv_buf_append(&b, "", 0);
	return b.data ? b.data : tv_strdup("");
}

/* The result without its timing. */
static char *result_text(json_t *res)
{
	char *s;
	json_object_del(res, "seconds");
	s = json_dumps(res, JSON_SORT_KEYS);
	json_decref(res);
	return s;
}

static tv_rag *open_at(const char *db)
{
	tv_rag *r = NULL;
	tv_err err = {0};
	/* no vector index: its training is not what these tests are about */
	json_t *settings = json_pack("{s:s,s:s,s:b}", "vector_store", backend, "lancedb_path", db,
	                             "auto_index", 0);
	if (tv_rag_open(&r, settings, &err))
		r = NULL;
	json_decref(settings);
	return r;
}

/* One run of each kind, threads and not, on two databases: the results
 * and every row of both tables must be the same. */
static void same_run(tv_rag *a, tv_rag *b, const char *dir, bool full, const char *what)
{
	char *ra, *rb, *da, *db;
	setenv("TEAVEC_THREADS", "2", 1);
	ra = result_text(index_dir(a, dir, full));
	setenv("TEAVEC_THREADS", "1", 1);
	rb = result_text(index_dir(b, dir, full));
	unsetenv("TEAVEC_THREADS");
	CHECK_MSG(ra && rb && !strcmp(ra, rb), "%s: results differ:\n%.600s\n%.600s", what, ra, rb);
	CHECK_MSG(ra && strstr(ra, "\"success\": true"), "%s: %.600s", what, ra);
	for (int t = 0; t < 2; t++) {
		const char *coll = t ? "docs.files" : "docs";
		da = dump(a, coll);
		db = dump(b, coll);
		CHECK_MSG(!strcmp(da, db), "%s: rows of %s differ (%zu and %zu bytes)", what, coll,
		          strlen(da), strlen(db));
		free(da);
		free(db);
		/* and as many commits, of the same fragments: the same batches */
		da = layout(a, coll);
		db = layout(b, coll);
		CHECK_MSG(!strcmp(da, db), "%s: %s: %s and %s", what, coll, da, db);
		free(da);
		free(db);
	}
	free(ra);
	free(rb);
}

static void test_pipeline_commits_what_one_thread_commits(void)
{
	char dir[4096], dba[4096], dbb[4096], p[8300];
	struct timeval tv[2];
	tv_rag *a, *b;
	json_t *res;
	snprintf(dir, sizeof dir, "%s", tv_test_tmpdir("many"));
	snprintf(dba, sizeof dba, "%s", tv_test_tmpdir("dba"));
	snprintf(dbb, sizeof dbb, "%s", tv_test_tmpdir("dbb"));
	make_tree(dir);
	REQUIRE((a = open_at(dba)) && (b = open_at(dbb)));
	same_run(a, b, dir, false, "first run");
	res = index_dir(a, dir, false);
	CHECK_EQ_INT(geti(res, "unchanged"), NINDEXED);
	json_decref(res);
	CHECK_EQ_INT(rows(a, "docs.files"), NINDEXED);
	CHECK_EQ_INT(rows(a, "docs"), 2 * NINDEXED);
	/* touched files (same bytes, new mtime) in every batch, edits between
	 * them, deletions: state refreshes and batches in one order */
	gettimeofday(&tv[0], NULL);
	tv[1] = tv[0];
	tv[1].tv_sec += 7;
	for (int i = 3; i < NFILES; i += 37) {
		snprintf(p, sizeof p, "%s/d%02d/f%04d.%s", dir, i / 100, i, i % 7 ? "md" : "txt");
		if (i % 5 == 0) {
			FILE *f = fopen(p, "ab");
			if (f) {
				fputs("\nan added paragraph\n", f);
				fclose(f);
			}
		} else if (i % 11 == 0) {
			unlink(p);
			continue;
		}
		CHECK(utimes(p, tv) == 0);
	}
	same_run(a, b, dir, false, "touches, edits and deletions");
	same_run(a, b, dir, true, "a full run");
	tv_rag_close(a);
	tv_rag_close(b);
}

/* Fails the commit of the second batch (a regular file where the
 * collection's data directory was) from the progress callback, which runs
 * on the committing thread between commits. */
typedef struct saboteur {
	tv_rag *r;
	const char *db;
	bool done;
} saboteur;

static void sabotage(void *ctx, const tv_index_progress *p)
{
	saboteur *s = ctx;
	size_t n = 0;
	char cmd[16384];
	(void)p;
	if (s->done || tv_store_count(s->r->store, "docs.files", &n) || n == 0)
		return;
	snprintf(cmd, sizeof cmd, "mv '%s/docs.lance/data' '%s/data.away' && touch '%s/docs.lance/data'",
	         s->db, s->db, s->db);
	s->done = system(cmd) == 0;
}

static void test_a_failed_commit_mid_run_stops_the_producer_and_keeps_earlier_batches(void)
{
	char dir[4096], dba[4096], dbb[4096], cmd[16384];
	tv_rag *a, *b;
	saboteur s;
	json_t *res;
	char *da, *db;
	if (strcmp(backend, "lancedb"))
		return; /* the memory store cannot fail a commit */
	snprintf(dir, sizeof dir, "%s", tv_test_tmpdir("many"));
	snprintf(dba, sizeof dba, "%s", tv_test_tmpdir("dba"));
	snprintf(dbb, sizeof dbb, "%s", tv_test_tmpdir("dbb"));
	make_tree(dir);
	REQUIRE((a = open_at(dba)) && (b = open_at(dbb)));
	for (int threads = 2; threads >= 1; threads--) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'/*", dba);
		CHECK(system(cmd) == 0);
		tv_rag_close(a);
		REQUIRE((a = open_at(dba)));
		s = (saboteur){a, dba, false};
		tv_rag_set_progress(a, sabotage, &s);
		setenv("TEAVEC_THREADS", threads == 2 ? "2" : "1", 1);
		res = index_dir(a, dir, false);
		unsetenv("TEAVEC_THREADS");
		CHECK(s.done);
		CHECK_MSG(json_is_false(json_object_get(res, "success")), "%d threads", threads);
		CHECK_MSG(strstr(json_string_value(json_object_get(res, "error")), "collection 'docs'"),
		          "%s", json_string_value(json_object_get(res, "error")));
		json_decref(res);
		/* the first batch is whole, the second not there at all */
		CHECK_EQ_INT(rows(a, "docs.files"), 1024);
		CHECK_EQ_INT(rows(a, "docs"), 2 * 1024);
		/* repaired, the next run finishes the work */
		snprintf(cmd, sizeof cmd, "rm '%s/docs.lance/data' && mv '%s/data.away' '%s/docs.lance/data'",
		         dba, dba, dba);
		CHECK(system(cmd) == 0);
		tv_rag_set_progress(a, NULL, NULL);
		res = index_dir(a, dir, false);
		CHECK_EQ_INT(geti(res, "indexed"), NINDEXED - 1024);
		json_decref(res);
	}
	/* the same rows as an uninterrupted run (in another storage order:
	 * the redone batch came later) */
	res = index_dir(b, dir, false);
	json_decref(res);
	for (int t = 0; t < 2; t++) {
		const char *coll = t ? "docs.files" : "docs";
		da = sorted_lines(dump(a, coll));
		db = sorted_lines(dump(b, coll));
		CHECK_MSG(!strcmp(da, db), "rows of %s differ", coll);
		free(da);
		free(db);
	}
	tv_rag_close(a);
	tv_rag_close(b);
}

int main(void)
{
	backend = "memory";
	printf("-- memory\n");
	TV_RUN(test_incremental_indexing);
	TV_RUN(test_pipeline_commits_what_one_thread_commits);
	backend = "lancedb";
	printf("-- lancedb\n");
	TV_RUN(test_incremental_indexing);
	TV_RUN(test_pipeline_commits_what_one_thread_commits);
	TV_RUN(test_a_failed_commit_mid_run_stops_the_producer_and_keeps_earlier_batches);
	TV_TEST_END();
}

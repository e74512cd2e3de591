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

int main(void)
{
	backend = "memory";
	printf("-- memory\n");
	TV_RUN(test_incremental_indexing);
	backend = "lancedb";
	printf("-- lancedb\n");
	TV_RUN(test_incremental_indexing);
	TV_TEST_END();
}

/*
 * tvtable: drives the table layer from shell tests.
 *
 *   tvtable ids     ROOT COLL            live ids, sorted, one per line
 *   tvtable rows    ROOT COLL            live rows as JSON lines, sorted by id
 *   tvtable count   ROOT COLL
 *   tvtable version ROOT COLL
 *   tvtable upsert  ROOT COLL DIM FIRST N [TAG]   rows id<FIRST..FIRST+N-1>
 *   tvtable delete  ROOT COLL ID...
 *   tvtable search  ROOT COLL DIM I      nearest id to the vector of row I
 *   tvtable optimize ROOT COLL           compact, and clean up with no age grace
 *
 * Vectors are a deterministic function of the row number, so a reader can
 * check what a writer wrote without sharing state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "teavec.h"
#include "util/common.h"

static void vec_of(long i, size_t dim, float *v)
{
	for (size_t j = 0; j < dim; j++)
		v[j] = (float)((i * 31 + (long)j * 17) % 101) / 10.0f - 5.0f;
	v[0] = (float)i / 100.0f; /* unique per row: no ties in searches */
}

static tv_store *open_store(const char *root)
{
	const char *extra = getenv("TVTABLE_SETTINGS");
	char *settings = tv_sprintf("{\"lancedb_path\": \"%s\"%s%s}", root, extra ? ", " : "",
	                            extra ? extra : "");
	tv_store *s = NULL;
	if (tv_store_open(&s, "lancedb", settings)) {
		fprintf(stderr, "tvtable: %s\n", tv_last_errmsg());
		exit(1);
	}
	free(settings);
	return s;
}

static int cmp_res(const void *a, const void *b)
{
	return strcmp(((const tv_result *)a)->id, ((const tv_result *)b)->id);
}

/* All rows: a query with k = count. */
static tv_results *all_rows(tv_store *s, const char *coll)
{
	size_t n = 0;
	tv_query q = TV_QUERY_INIT;
	tv_results *r = NULL;
	float *v;
	if (tv_store_count(s, coll, &n) || n == 0)
		return NULL;
	{
		/* the dimension: from a state-less probe query of dim 1 fails with
		 * a message naming it; simpler to ask the table via a k=1 query at
		 * every plausible dimension is wasteful, so tests pass DIM via env */
		const char *d = getenv("TVTABLE_DIM");
		q.dim = d ? strtoul(d, NULL, 10) : 8;
	}
	v = calloc(q.dim, sizeof *v);
	v[0] = 1;
	q.vector = v;
	q.k = (int)n;
	q.collection = coll;
	if (tv_store_query(s, &q, &r)) {
		fprintf(stderr, "tvtable: %s\n", tv_store_errmsg(s));
		exit(1);
	}
	free(v);
	qsort(r->items, r->n, sizeof *r->items, cmp_res);
	return r;
}

int main(int argc, char **argv)
{
	tv_store *s;
	const char *cmd, *coll;
	int rc = 0;
	if (argc < 4) {
		fprintf(stderr, "usage: tvtable CMD ROOT COLL ...\n");
		return 2;
	}
	cmd = argv[1];
	s = open_store(argv[2]);
	coll = argv[3];
	if (!strcmp(cmd, "count")) {
		size_t n = 0;
		rc = tv_store_count(s, coll, &n);
		printf("%zu\n", n);
	} else if (!strcmp(cmd, "ids") || !strcmp(cmd, "rows")) {
		tv_results *r = all_rows(s, coll);
		for (size_t i = 0; r && i < r->n; i++) {
			if (cmd[0] == 'i')
				printf("%s\n", r->items[i].id);
			else
				printf("{\"id\":\"%s\",\"text\":\"%s\",\"path\":%s%s%s,\"metadata\":%s}\n",
				       r->items[i].id, r->items[i].text, r->items[i].path ? "\"" : "",
				       r->items[i].path ? r->items[i].path : "null",
				       r->items[i].path ? "\"" : "", r->items[i].metadata);
		}
		tv_results_free(r);
	} else if (!strcmp(cmd, "version")) {
		char *st = NULL;
		rc = tv_store_get_state(s, &st);
		if (!rc)
			printf("%s\n", st);
		free(st);
	} else if (!strcmp(cmd, "upsert") && argc >= 7) {
		size_t dim = strtoul(argv[4], NULL, 10);
		long first = atol(argv[5]), n = atol(argv[6]);
		const char *tag = argc > 7 ? argv[7] : "t";
		tv_record *recs = calloc((size_t)n, sizeof *recs);
		float *v = calloc((size_t)n * dim, sizeof *v);
		char (*ids)[32] = calloc((size_t)n, 32), (*meta)[64] = calloc((size_t)n, 64);
		for (long i = 0; i < n; i++) {
			snprintf(ids[i], 32, "id%ld", first + i);
			snprintf(meta[i], 64, "{\"n\": %ld, \"tag\": \"%s\"}", first + i, tag);
			vec_of(first + i, dim, v + (size_t)i * dim);
			recs[i] = (tv_record){ids[i], tag, "src/x.md", meta[i], v + (size_t)i * dim};
		}
		rc = tv_store_add(s, coll, recs, (size_t)n, dim, NULL);
		free(recs);
		free(v);
		free(ids);
		free(meta);
	} else if (!strcmp(cmd, "delete")) {
		size_t gone = 0;
		rc = tv_store_delete(s, coll, (const char *const *)argv + 4, (size_t)(argc - 4), &gone);
		printf("%zu\n", gone);
	} else if (!strcmp(cmd, "optimize")) {
		rc = tv_store_optimize(s, coll);
	} else if (!strcmp(cmd, "search") && argc == 6) {
		size_t dim = strtoul(argv[4], NULL, 10);
		float *v = calloc(dim, sizeof *v);
		tv_query q = TV_QUERY_INIT;
		tv_results *r = NULL;
		vec_of(atol(argv[5]), dim, v);
		q.vector = v;
		q.dim = dim;
		q.k = 1;
		q.collection = coll;
		if (!(rc = tv_store_query(s, &q, &r)))
			printf("%s\n", r->n ? r->items[0].id : "");
		tv_results_free(r);
		free(v);
	} else {
		fprintf(stderr, "tvtable: unknown command or arguments\n");
		rc = 2;
	}
	if (rc && rc != 2)
		fprintf(stderr, "tvtable: %s\n", tv_store_errmsg(s));
	tv_store_close(s);
	return rc ? 1 : 0;
}

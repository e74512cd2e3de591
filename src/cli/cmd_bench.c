/*
 * teavec bench: the benchmark workloads on anyone's fvecs files, through
 * the public API only (bench/run.sh runs it beside LanceDB on the same
 * files).
 *
 * Row i of the base file becomes id "id<i>", text "text <i>", path
 * "src/p<i % 100>.md" (each value 1% of the rows) and metadata
 * {"cat": "c<i % 10>", "tag": "t<i % 100>", "half": <i % 2>} (10%, 1%,
 * 50%). Workloads: ingest in batches of 10,000 (automatic indexing off, so
 * that ingest is measured alone; peak RSS), the vector index build, Q
 * single-threaded top-k queries exact and through the index (p50, p99,
 * recall@k against the ground truth), the same filtered at 1%, 10% and 50%
 * on `path` and on a metadata key (recall against the exact filtered
 * answer), upserts of 1,000 rows (500 replaced, 500 new) x 5, cold
 * start (a fresh process opens the database and answers one query,
 * median of 5), bytes on disk.
 *
 * Indexed queries run with the defaults and, when those stay under recall
 * 0.95, with the first setting of a ladder that reaches it (tune(): more
 * partitions probed or more candidates re-ranked, tried on the first
 * --tune-nq queries, then measured on all).
 *
 * The ground truth (exact top-k row numbers, .ivecs) is read from --gt
 * when it holds enough queries, else computed by exact search (those
 * searches are the exact timings) and written there; the filtered ones go
 * beside it as <gt>-<filter name>.ivecs (gt-path_1pct.ivecs, ...), which
 * bench/lancedb_driver.mjs reads.
 */
#include <getopt.h>
#include <math.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "teavec.h"
#include "util/common.h"

#define COLL "bench"
#define TARGET_RECALL 0.95 /* what the "tuned" setting has to reach */
#define DEFAULT_REFINE 20  /* teavec's own re-ranking factor (IX_REFINE, src/table/vindex.c) */
#define NFILTERS 6

typedef struct bopts {
	const char *base, *queries, *gt, *db, *metric;
	int k, nq, json, tune_nq;
	long nprobes, refine, partitions, sub_vectors; /* 0 = automatic */
	long cold; /* >= 0: the cold-start child, answering query #cold */
} bopts;

typedef struct fvecs {
	FILE *f;
	size_t n, dim;
} fvecs;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: teavec bench --base F.fvecs --queries F.fvecs [--gt F.ivecs] [--metric "
	        "cosine|l2|dot]\n"
	        "                    [-k 10] [--nq 1000] [--tune-nq 100] [--db DIR] [--json]\n"
	        "Runs the benchmark workloads on fvecs files (int32 dim, then dim float32, per "
	        "vector):\n"
	        "ingest (batches of 10,000), index build, exact and indexed top-k queries (p50, p99,\n"
	        "recall@k), filtered queries at 1%%, 10%%, 50%% on path and on a metadata key, "
	        "upserts of\n1,000 rows, cold start and bytes on disk. Exact ground truth is read "
	        "from --gt, or\ncomputed and written there (and beside it, <gt>-<filter>.ivecs, "
	        "for the filters).\n"
	        "Indexed queries under recall@k 0.95 with the defaults are also run with the first "
	        "setting\nof a ladder (more partitions probed, more candidates re-ranked) that "
	        "reaches it on the\nfirst --tune-nq queries.\n"
	        "  --db DIR     database to create (default: a temporary directory, removed after)\n"
	        "  --nprobes N, --refine N, --partitions N, --sub-vectors M\n"
	        "               index settings instead of the automatic ones\n");
}

static int open_fvecs(fvecs *v, const char *path)
{
	struct stat st;
	int32_t d;
	if (!(v->f = fopen(path, "rb")) || fstat(fileno(v->f), &st) || fread(&d, 4, 1, v->f) != 1 ||
	    d < 1 || d > 65536 || st.st_size % (4 * ((off_t)d + 1))) {
		fprintf(stderr, "teavec bench: %s: not an fvecs file\n", path);
		if (v->f)
			fclose(v->f);
		v->f = NULL;
		return -1;
	}
	v->dim = (size_t)d;
	v->n = (size_t)st.st_size / (4 * (v->dim + 1));
	return 0;
}

/* Rows [from, from + n) into out (n x dim). */
static int read_rows(fvecs *v, size_t from, size_t n, float *out)
{
	float *raw = malloc(n * (v->dim + 1) * 4);
	int rc = 0;
	if (!raw || fseeko(v->f, (off_t)(from * (v->dim + 1) * 4), SEEK_SET) ||
	    fread(raw, (v->dim + 1) * 4, n, v->f) != n)
		rc = -1;
	for (size_t i = 0; !rc && i < n; i++)
		memcpy(out + i * v->dim, raw + i * (v->dim + 1) + 1, v->dim * 4);
	free(raw);
	return rc;
}

static tv_store *open_db(const char *db, const bopts *o)
{
	/* built by jansson: a --db path with a quote stays a path */
	json_t *j = json_pack("{s:s, s:s, s:I, s:I}", "lancedb_path", db, "metric", o->metric,
	                      "index_partitions", (json_int_t)o->partitions, "index_sub_vectors",
	                      (json_int_t)o->sub_vectors);
	char *st = j ? json_dumps(j, JSON_COMPACT) : NULL;
	tv_store *s = NULL;
	json_decref(j);
	if (!st)
		fprintf(stderr, "teavec bench: out of memory (or --db is not UTF-8)\n");
	else if (tv_store_open(&s, "lancedb", st))
		fprintf(stderr, "teavec bench: %s\n", tv_last_errmsg());
	free(st);
	return s;
}

/* Upserts rows [from, from + n) of the base file (row numbers wrap). */
static int add_rows(tv_store *s, fvecs *v, size_t from, size_t n, int round, double *secs)
{
	tv_record *r = calloc(n, sizeof *r);
	float *vec = malloc(n * v->dim * sizeof *vec);
	char(*ids)[24] = calloc(n, 24), (*txt)[32] = calloc(n, 32), (*pth)[24] = calloc(n, 24),
	(*meta)[64] = calloc(n, 64);
	int rc = -1;
	double t;
	if (!r || !vec || !ids || !txt || !pth || !meta)
		goto done;
	for (size_t i = 0; i < n;) {
		size_t at = (from + i) % v->n, run = TV_MIN(n - i, v->n - at);
		if (read_rows(v, at, run, vec + i * v->dim))
			goto done;
		i += run;
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = from + i;
		snprintf(ids[i], 24, "id%zu", k);
		snprintf(txt[i], 32, "text %zu r%d", k, round);
		snprintf(pth[i], 24, "src/p%zu.md", k % 100);
		snprintf(meta[i], 64, "{\"cat\": \"c%zu\", \"tag\": \"t%zu\", \"half\": %zu}", k % 10,
		         k % 100, k % 2);
		r[i] = (tv_record){ids[i], txt[i], pth[i], meta[i], vec + i * v->dim};
	}
	t = tv_monotonic_s();
	rc = tv_store_add(s, COLL, r, n, v->dim, NULL);
	*secs = tv_monotonic_s() - t;
	if (rc)
		fprintf(stderr, "teavec bench: %s\n", tv_store_errmsg(s));
done:
	free(r);
	free(vec);
	free(ids);
	free(txt);
	free(pth);
	free(meta);
	return rc;
}

/* Query settings: partitions probed and re-ranking factor, 0 = automatic. */
typedef struct qset {
	long nprobes, refine;
} qset;

/* One query; its ms, and the row numbers of the results into got (k). */
static double query(tv_store *s, const float *q, size_t dim, int k, int exact, const char *where,
                    const qset *set, int *got, int *failed)
{
	tv_query qq = TV_QUERY_INIT;
	tv_results *r = NULL;
	double t = tv_monotonic_s();
	qq.vector = q;
	qq.dim = dim;
	qq.k = k;
	qq.collection = COLL;
	qq.exact = exact;
	qq.where = where;
	qq.nprobes = (int)set->nprobes;
	qq.refine_factor = (int)set->refine;
	if (tv_store_query(s, &qq, &r)) {
		fprintf(stderr, "teavec bench: %s\n", tv_store_errmsg(s));
		*failed = 1;
		return 0;
	}
	t = (tv_monotonic_s() - t) * 1e3;
	for (int i = 0; got && i < k; i++)
		got[i] = i < (int)r->n ? atoi(r->items[i].id + 2) : -1;
	tv_results_free(r);
	return t;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Latencies and recall of n queries; sub_recall: of the first `sub`. */
typedef struct run {
	double p50, p99, recall, sub_recall;
	int n;
} run;

static void summarize(run *r, double *lat, int n)
{
	qsort(lat, (size_t)n, sizeof *lat, cmpd);
	r->p50 = lat[n / 2];
	r->p99 = lat[(size_t)n * 99 / 100];
	r->n = n;
}

/* nq queries; recall against gt (k per query, -1 = none) when given. */
static run run_queries(tv_store *s, const float *qs, size_t dim, int nq, int k, int exact,
                       const char *where, const qset *set, const int *gt, int sub, int *failed)
{
	double *lat = malloc((size_t)nq * sizeof *lat);
	int *got = malloc((size_t)k * sizeof *got);
	size_t hit = 0, want = 0, sub_hit = 0, sub_want = 0;
	run r = {0, 0, 1, 1, 0};
	if (!lat || !got)
		*failed = 1;
	for (int i = 0; !*failed && i < nq; i++) {
		lat[i] = query(s, qs + (size_t)i * dim, dim, k, exact, where, set, got, failed);
		for (int a = 0; gt && a < k; a++) {
			if (gt[i * k + a] < 0)
				continue;
			want++;
			for (int b = 0; b < k; b++)
				hit += got[b] == gt[i * k + a];
		}
		if (i + 1 == sub)
			sub_hit = hit, sub_want = want;
	}
	if (nq > 0 && !*failed) {
		summarize(&r, lat, nq);
		r.recall = want ? (double)hit / (double)want : 1.0;
		r.sub_recall = sub >= nq ? r.recall : sub_want ? (double)sub_hit / (double)sub_want : 1.0;
	}
	free(lat);
	free(got);
	return r;
}

/* The exact answers (row numbers) of nq queries: read from path when it
 * holds them, else computed and written there (path may be NULL). When
 * computed, *timing gets those exact searches' latencies (timing->n = nq);
 * else timing->n = 0. */
static int *ground_truth(tv_store *s, const char *path, const float *qs, size_t dim, int nq,
                         int k, const char *where, run *timing, int *failed)
{
	int *gt = malloc((size_t)nq * (size_t)k * sizeof *gt);
	double *lat = malloc((size_t)nq * sizeof *lat);
	const qset automatic = {0, 0};
	FILE *f;
	*timing = (run){0, 0, 1, 1, 0};
	if (!gt || !lat) {
		*failed = 1;
		goto done;
	}
	if (path && (f = fopen(path, "rb"))) {
		int i = 0;
		for (; i < nq; i++) {
			int32_t kk;
			if (fread(&kk, 4, 1, f) != 1 || kk != k ||
			    fread(gt + (size_t)i * k, 4, (size_t)k, f) != (size_t)k)
				break;
		}
		fclose(f);
		if (i == nq)
			goto done;
	}
	for (int i = 0; i < nq && !*failed; i++)
		lat[i] = query(s, qs + (size_t)i * dim, dim, k, 1, where, &automatic, gt + (size_t)i * k,
		               failed);
	if (*failed)
		goto done;
	summarize(timing, lat, nq);
	if (path && (f = fopen(path, "wb"))) {
		int32_t kk = k;
		for (int i = 0; i < nq; i++) {
			fwrite(&kk, 4, 1, f);
			fwrite(gt + (size_t)i * k, 4, (size_t)k, f);
		}
		fclose(f);
	}
done:
	free(lat);
	if (*failed) {
		free(gt);
		return NULL;
	}
	return gt;
}

static int parse(int argc, char **argv, bopts *o)
{
	static const struct option opts[] = {
		{"base", required_argument, NULL, 'b'},    {"queries", required_argument, NULL, 'q'},
		{"gt", required_argument, NULL, 'g'},      {"metric", required_argument, NULL, 'm'},
		{"db", required_argument, NULL, 'd'},      {"nq", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},          {"help", no_argument, NULL, 'h'},
		{"cold", required_argument, NULL, 'c'},    {"nprobes", required_argument, NULL, 'P'},
		{"refine", required_argument, NULL, 'R'},  {"partitions", required_argument, NULL, 'L'},
		{"sub-vectors", required_argument, NULL, 'M'}, {"tune-nq", required_argument, NULL, 'T'},
		{NULL, 0, NULL, 0},
	};
	int c;
	char *end;
	tv_metric m;
	memset(o, 0, sizeof *o);
	o->metric = "cosine";
	o->k = 10;
	o->nq = 1000;
	o->tune_nq = 100;
	o->cold = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': o->base = optarg; break;
		case 'q': o->queries = optarg; break;
		case 'g': o->gt = optarg; break;
		case 'd': o->db = optarg; break;
		case 'j': o->json = 1; break;
		case 'm':
			if (tv_metric_parse(&m, optarg)) {
				fprintf(stderr, "teavec bench: --metric: expected cosine, l2 or dot\n");
				return -1;
			}
			o->metric = optarg;
			break;
		case 'k':
		case 'n':
		case 'c':
		case 'P':
		case 'R':
		case 'L':
		case 'M':
		case 'T': {
			long v = strtol(optarg, &end, 10);
			if (*end || v < (c == 'c' ? 0 : 1) || v > 1000000) {
				fprintf(stderr, "teavec bench: %s: expected a number, got '%s'\n",
				        c == 'k'   ? "-k"
				        : c == 'n' ? "--nq"
				        : c == 'T' ? "--tune-nq"
				        : c == 'c' ? "--cold"
				                   : "an index option",
				        optarg);
				return -1;
			}
			if (c == 'k')
				o->k = (int)v;
			else if (c == 'n')
				o->nq = (int)v;
			else if (c == 'T')
				o->tune_nq = (int)v;
			else if (c == 'c')
				o->cold = v;
			else if (c == 'P')
				o->nprobes = v;
			else if (c == 'R')
				o->refine = v;
			else if (c == 'L')
				o->partitions = v;
			else
				o->sub_vectors = v;
			break;
		}
		case 'h': usage(stdout); return -2;
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc || !o->queries || (!o->base && o->cold < 0) || (o->cold >= 0 && !o->db)) {
		fprintf(stderr, "teavec bench: --base and --queries are required\n");
		usage(stderr);
		return -1;
	}
	return 0;
}

/* The cold-start child: open, answer one query, exit. */
static int cold(const bopts *o)
{
	fvecs qv;
	float *q;
	int failed = 0;
	tv_store *s;
	qset set = {o->nprobes, o->refine};
	if (open_fvecs(&qv, o->queries))
		return TV_EXIT_RUNTIME;
	q = malloc(qv.dim * sizeof *q);
	if (!q || read_rows(&qv, (size_t)o->cold % qv.n, 1, q) || !(s = open_db(o->db, o))) {
		free(q);
		fclose(qv.f);
		return TV_EXIT_RUNTIME;
	}
	query(s, q, qv.dim, o->k, 0, NULL, &set, NULL, &failed);
	tv_store_close(s);
	free(q);
	fclose(qv.f);
	return failed ? TV_EXIT_RUNTIME : TV_EXIT_OK;
}

/* Median ms of 5 fresh processes answering one query each. */
static double cold_start(const bopts *o, const char *self, const char *db)
{
	double ms[5];
	for (int r = 0; r < 5; r++) {
		char arg[16], kk[16];
		double t0 = tv_monotonic_s();
		pid_t pid;
		snprintf(arg, sizeof arg, "%d", r);
		snprintf(kk, sizeof kk, "%d", o->k);
		if ((pid = fork()) == 0) {
			execl(self, "teavec", "bench", "--cold", arg, "--db", db, "--queries", o->queries,
			      "--metric", o->metric, "-k", kk, (char *)NULL);
			_exit(127);
		}
		waitpid(pid, NULL, 0);
		ms[r] = (tv_monotonic_s() - t0) * 1e3;
	}
	qsort(ms, 5, sizeof *ms, cmpd);
	return ms[2];
}

/* The filters, the same in bench/lancedb_driver.mjs (which writes the
 * metadata ones as LIKE patterns on the JSON text). where == NULL: a path
 * IN list of the first `in` values, built in tv_cmd_bench. */
static const struct {
	const char *name, *where;
	int in;
	double share;
} filters[NFILTERS] = {
	{"path_1pct", "path = 'src/p17.md'", 0, 0.01},
	{"path_10pct", NULL, 10, 0.10},
	{"path_50pct", NULL, 50, 0.50},
	{"meta_1pct", "metadata.tag = 't42'", 0, 0.01},
	{"meta_10pct", "metadata.cat = 'c3'", 0, 0.10},
	{"meta_50pct", "metadata.half = 1", 0, 0.50},
};

/* "path IN ('src/p0.md', ..., 'src/p<n-1>.md')" */
static char *path_in(int n)
{
	tv_buf b = {0};
	int bad = tv_buf_printf(&b, "path IN (");
	for (int i = 0; i < n && !bad; i++)
		bad = tv_buf_printf(&b, "%s'src/p%d.md'", i ? ", " : "", i);
	if (bad || tv_buf_printf(&b, ")")) {
		tv_buf_free(&b);
		return NULL;
	}
	return b.data;
}

/* "<gt without .ivecs>-<name>.ivecs" */
static char *beside(const char *gt, const char *name)
{
	size_t n = strlen(gt);
	if (n > 6 && !strcmp(gt + n - 6, ".ivecs"))
		n -= 6;
	return tv_sprintf("%.*s-%s.ivecs", (int)n, gt, name);
}

/* ---- the "tuned" setting --------------------------------------------------- */

/* What one workload needs to search, and the index it searches. */
typedef struct tctx {
	tv_store *s;
	const float *qs;
	size_t dim;
	int nq, k, sub;
	long nlist, nprobes; /* the index's partitions and default probe count */
} tctx;

typedef struct tuned {
	qset set;
	run r;
	json_t *json; /* {setting, nprobes, refine_factor, queries, p50_ms, p99_ms, recall, reached, ladder} */
} tuned;

static void set_name(char *buf, size_t n, const qset *q, const qset *def, long nlist)
{
	int d = q->nprobes == def->nprobes && q->refine == def->refine;
	snprintf(buf, n, "%snprobes %ld%s, refine %ld%s", d ? "defaults (" : "", q->nprobes,
	         q->nprobes >= nlist && nlist ? " (all)" : "", q->refine, d ? ")" : "");
}

static json_t *step_json(const qset *q, const qset *def, long nlist, const run *r)
{
	char name[96];
	set_name(name, sizeof name, q, def, nlist);
	return json_pack("{s:s,s:I,s:I,s:i,s:f,s:f,s:f}", "setting", name, "nprobes",
	                 (json_int_t)q->nprobes, "refine_factor", (json_int_t)q->refine, "queries",
	                 r->n, "p50_ms", r->p50, "p99_ms", r->p99, "recall", r->recall);
}

static long next_nprobes(long p, long nlist) { return p >= nlist ? 0 : TV_MIN(p * 2, nlist); }

static long next_refine(long r)
{
	static const long steps[] = {2, 5, 10, 20, 50, 100, 200, 500, 1000};
	for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
		if (steps[i] > r)
			return steps[i];
	return 0;
}

/* The setting that reaches recall TARGET_RECALL: the defaults when they
 * do (def, measured on all queries); else, from the defaults, each step
 * tries twice the partitions probed and the next re-ranking factor on the
 * first c->sub queries and keeps the one with the higher recall, until a
 * step reaches the target or both run out; that setting (or the best one
 * seen) is then measured on all queries. bench/lancedb_driver.mjs does
 * the same with LanceDB's knobs. */
static tuned tune(const tctx *c, const char *where, const int *gt, const qset *given,
                  const run *def, int *failed)
{
	qset d = {given->nprobes ? given->nprobes : c->nprobes,
	          given->refine ? given->refine : DEFAULT_REFINE};
	qset cur = d, best = d;
	double cur_rec = def->sub_recall, best_rec = cur_rec, best_p50 = def->p50;
	json_t *ladder = json_array();
	tuned t = {d, *def, NULL};
	json_array_append_new(ladder, step_json(&d, &d, c->nlist, def));
	while (!*failed && def->recall < TARGET_RECALL && cur_rec < TARGET_RECALL) {
		qset a = cur, b = cur;
		run ra = {0}, rb = {0};
		const run *pr;
		a.nprobes = c->nlist ? next_nprobes(cur.nprobes, c->nlist) : 0;
		b.refine = next_refine(cur.refine);
		if (!a.nprobes && !b.refine)
			break;
		if (a.nprobes) {
			ra = run_queries(c->s, c->qs, c->dim, c->sub, c->k, 0, where, &a, gt, c->sub, failed);
			json_array_append_new(ladder, step_json(&a, &d, c->nlist, &ra));
		}
		if (b.refine && !*failed) {
			rb = run_queries(c->s, c->qs, c->dim, c->sub, c->k, 0, where, &b, gt, c->sub, failed);
			json_array_append_new(ladder, step_json(&b, &d, c->nlist, &rb));
		}
		if (a.nprobes && (!b.refine || ra.recall > rb.recall ||
		                  (ra.recall == rb.recall && ra.p50 <= rb.p50)))
			cur = a, pr = &ra;
		else
			cur = b, pr = &rb;
		cur_rec = pr->recall;
		if (cur_rec > best_rec || (cur_rec == best_rec && pr->p50 < best_p50))
			best = cur, best_rec = cur_rec, best_p50 = pr->p50;
	}
	if (!*failed && (best.nprobes != d.nprobes || best.refine != d.refine)) {
		t.set = best;
		t.r = run_queries(c->s, c->qs, c->dim, c->nq, c->k, 0, where, &best, gt, c->sub, failed);
	}
	t.json = step_json(&t.set, &d, c->nlist, &t.r);
	json_object_set_new(t.json, "reached", json_boolean(t.r.recall >= TARGET_RECALL));
	json_object_set_new(t.json, "ladder", ladder);
	return t;
}

static json_t *run_json(const run *r)
{
	return json_pack("{s:f,s:f,s:f,s:i}", "p50_ms", r->p50, "p99_ms", r->p99, "recall", r->recall,
	                 "queries", r->n);
}

/* One entry of "queries": {setting, p50_ms, p99_ms, recall_at_<k>}. */
static json_t *query_entry(const char *setting, const run *r, int k)
{
	char key[32];
	json_t *e = json_pack("{s:s,s:f,s:f}", "setting", setting, "p50_ms", r->p50, "p99_ms", r->p99);
	snprintf(key, sizeof key, "recall_at_%d", k);
	json_object_set_new(e, key, json_real(r->recall));
	return e;
}

/* "queries": the unfiltered query settings measured on all queries, the
 * defaults first, then the recall >= 0.95 setting when it is another one,
 * then exact search. */
static json_t *query_list(const bopts *o, const run *idx, const tuned *t, const run *exact,
                          const json_t *out)
{
	json_t *l = json_array();
	const char *def = json_string_value(json_object_get(json_object_get(out, "index"), "setting"));
	const char *tset = json_string_value(json_object_get(t->json, "setting"));
	json_array_append_new(l, query_entry(def ? def : "defaults", idx, o->k));
	if (tset && def && strcmp(tset, def))
		json_array_append_new(l, query_entry(tset, &t->r, o->k));
	json_array_append_new(l, query_entry("exact", exact, o->k));
	return l;
}

int tv_cmd_bench(int argc, char **argv)
{
	bopts o;
	fvecs bv = {0}, qv = {0};
	float *qs = NULL;
	char tmpl[] = "/tmp/teavec-bench.XXXXXX", *stats = NULL, *gtpath = NULL;
	char *where[NFILTERS] = {NULL};
	const char *db = NULL;
	int failed = 0, *gt = NULL, rc = parse(argc, argv, &o), nq;
	double ingest = 0, build = 0, up[5] = {0}, cold_ms, t = 0;
	run exact = {0}, idx = {0}, fex[NFILTERS] = {{0}}, fix[NFILTERS] = {{0}};
	tuned tidx, tf[NFILTERS];
	struct rusage ru;
	json_t *out = NULL, *st, *upsert_ms = NULL;
	memset(&tidx, 0, sizeof tidx);
	memset(tf, 0, sizeof tf);
	if (rc)
		return rc == -2 ? TV_EXIT_OK : TV_EXIT_USAGE;
	if (o.cold >= 0)
		return cold(&o);
	for (int f = 0; f < NFILTERS; f++)
		if (!(where[f] = filters[f].where ? strdup(filters[f].where) : path_in(filters[f].in)))
			goto fail;
	if (open_fvecs(&bv, o.base) || open_fvecs(&qv, o.queries))
		goto fail;
	if (bv.dim != qv.dim) {
		fprintf(stderr, "teavec bench: %s has dimension %zu, %s %zu\n", o.base, bv.dim,
		        o.queries, qv.dim);
		goto fail;
	}
	nq = (int)TV_MIN((size_t)o.nq, qv.n);
	if (!(qs = malloc((size_t)nq * qv.dim * sizeof *qs)) || read_rows(&qv, 0, (size_t)nq, qs))
		goto fail;
	if (!(db = o.db) && !(db = mkdtemp(tmpl))) {
		perror("teavec bench: temporary directory");
		goto fail;
	}
	{
		tv_store *s = open_db(db, &o);
		qset given = {o.nprobes, o.refine};
		tctx tc = {s, qs, qv.dim, nq, o.k, TV_MIN(nq, o.tune_nq), 0, 0};
		if (!s)
			goto fail;
		/* ingest: the index is built once afterwards, timed on its own */
		if (tv_store_set_auto_index(s, COLL, 0))
			failed = 1;
		for (size_t i = 0; i < bv.n && !failed; i += 10000) {
			if (add_rows(s, &bv, i, TV_MIN((size_t)10000, bv.n - i), 0, &t))
				failed = 1;
			ingest += t;
		}
		getrusage(RUSAGE_SELF, &ru);
		/* computing the ground truth is the exact run; read back, it is
		 * checked by one */
		gt = failed ? NULL : ground_truth(s, o.gt, qs, qv.dim, nq, o.k, NULL, &exact, &failed);
		t = tv_monotonic_s();
		if (!failed && tv_store_reindex(s, COLL)) {
			fprintf(stderr, "teavec bench: %s\n", tv_store_errmsg(s));
			failed = 1;
		}
		build = tv_monotonic_s() - t;
		if (!failed && !tv_store_stats(s, COLL, &stats)) {
			json_t *j = json_loads(stats, 0, NULL), *ix = json_object_get(j, "index");
			tc.nlist = (long)json_integer_value(json_object_get(ix, "partitions"));
			tc.nprobes = (long)json_integer_value(json_object_get(ix, "nprobes"));
			if (!tc.nprobes) /* not calibrated: teavec probes about 1/12 */
				tc.nprobes = TV_MIN(tc.nlist, TV_MAX(8, (tc.nlist + 11) / 12));
			json_decref(j);
			free(stats);
			stats = NULL;
		}
		if (!failed) {
			if (!exact.n)
				exact = run_queries(s, qs, qv.dim, nq, o.k, 1, NULL, &given, gt, 0, &failed);
			idx = run_queries(s, qs, qv.dim, nq, o.k, 0, NULL, &given, gt, tc.sub, &failed);
			tidx = tune(&tc, NULL, gt, &given, &idx, &failed);
		}
		for (size_t f = 0; f < NFILTERS && !failed; f++) {
			int *fgt;
			free(gtpath);
			gtpath = o.gt ? beside(o.gt, filters[f].name) : NULL;
			fgt = ground_truth(s, gtpath, qs, qv.dim, nq, o.k, where[f], &fex[f], &failed);
			if (!failed && !fex[f].n)
				fex[f] = run_queries(s, qs, qv.dim, nq, o.k, 1, where[f], &given, fgt, 0, &failed);
			if (!failed)
				fix[f] = run_queries(s, qs, qv.dim, nq, o.k, 0, where[f], &given, fgt, tc.sub,
				                     &failed);
			if (!failed)
				tf[f] = tune(&tc, where[f], fgt, &given, &fix[f], &failed);
			free(fgt);
		}
		/* 1,000 rows each: the 500 newest ids again (the table's last
		 * rows, then the previous upsert's new ones) and 500 new */
		for (int r = 0; r < 5 && !failed; r++) {
			if (add_rows(s, &bv, bv.n - 500 + (size_t)r * 500, 1000, r + 1, &t))
				failed = 1;
			up[r] = t * 1e3;
		}
		if (!failed && tv_store_stats(s, COLL, &stats))
			failed = 1;
		tv_store_close(s);
	}
	if (failed)
		goto fail;
	upsert_ms = json_pack("[f,f,f,f,f]", up[0], up[1], up[2], up[3], up[4]); /* in order */
	qsort(up, 5, sizeof *up, cmpd);
	cold_ms = cold_start(&o, "/proc/self/exe", db);
	st = json_loads(stats, 0, NULL);
	out = json_pack("{s:s,s:s,s:I,s:I,s:s,s:i,s:i,s:f,s:f,s:f,s:o,s:o,s:O,"
	                "s:o,s:f,s:f,s:I,s:O?,s:{s:I,s:I},s:{s:f,s:i}}",
	                "system", "teavec", "version", tv_libversion(), "rows", (json_int_t)bv.n, "dim",
	                (json_int_t)bv.dim, "metric", o.metric, "k", o.k, "nq", nq,
	                "ingest_rows_per_s", (double)bv.n / ingest, "peak_rss_mb",
	                ru.ru_maxrss / 1024.0, "index_build_s", build, "exact", run_json(&exact),
	                "index", run_json(&idx), "index_tuned", tidx.json, "filtered", json_object(),
	                "upsert_1000_median_ms", up[2], "cold_start_ms", cold_ms, "disk_bytes",
	                json_integer_value(json_object_get(st, "bytes")), "index_stats",
	                json_object_get(st, "index"), "query_settings", "nprobes",
	                (json_int_t)o.nprobes, "refine_factor", (json_int_t)o.refine, "tune",
	                "target_recall", TARGET_RECALL, "subset_queries", TV_MIN(nq, o.tune_nq));
	json_object_set(json_object_get(out, "index"), "setting",
	                json_object_get(json_array_get(json_object_get(tidx.json, "ladder"), 0),
	                                "setting"));
	json_object_set_new(out, "queries", query_list(&o, &idx, &tidx, &exact, out));
	json_object_set_new(out, "upsert_1000_ms", upsert_ms);
	upsert_ms = NULL;
	for (size_t f = 0; f < NFILTERS; f++)
		json_object_set_new(
		    json_object_get(out, "filtered"), filters[f].name,
		    json_pack("{s:s,s:f,s:f,s:f,s:f,s:i,s:f,s:f,s:f,s:O}", "where", where[f], "selectivity",
		              filters[f].share, "exact_p50_ms", fex[f].p50, "exact_p99_ms", fex[f].p99,
		              "exact_recall", fex[f].recall, "exact_queries", fex[f].n, "index_p50_ms",
		              fix[f].p50, "index_p99_ms", fix[f].p99, "index_recall", fix[f].recall,
		              "tuned", tf[f].json));
	json_decref(st);
	if (o.json) {
		char *j = json_dumps(out, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
		puts(j);
		free(j);
	} else {
		printf("%zu x %zu, %s, k = %d, %d queries\n", bv.n, bv.dim, o.metric, o.k, nq);
		printf("  ingest               %10.0f rows/s   peak RSS %.1f MB\n", (double)bv.n / ingest,
		       ru.ru_maxrss / 1024.0);
		printf("  index build          %10.2f s\n", build);
		printf("  exact                p50 %8.3f ms  p99 %8.3f ms  recall@%d %.4f\n", exact.p50,
		       exact.p99, o.k, exact.recall);
		printf("  indexed              p50 %8.3f ms  p99 %8.3f ms  recall@%d %.4f\n", idx.p50,
		       idx.p99, o.k, idx.recall);
		printf("  indexed, tuned       p50 %8.3f ms  p99 %8.3f ms  recall@%d %.4f  %s\n",
		       tidx.r.p50, tidx.r.p99, o.k, tidx.r.recall,
		       json_string_value(json_object_get(tidx.json, "setting")));
		for (size_t f = 0; f < NFILTERS; f++)
			printf("  filter %-13s exact p50 %8.3f ms  indexed p50 %8.3f ms  recall@%d %.4f"
			       "  tuned p50 %8.3f ms  recall@%d %.4f  %s\n    where %s\n",
			       filters[f].name, fex[f].p50, fix[f].p50, o.k, fix[f].recall, tf[f].r.p50, o.k,
			       tf[f].r.recall, json_string_value(json_object_get(tf[f].json, "setting")),
			       where[f]);
		printf("  upsert 1,000 rows    %10.1f ms (median of 5)\n", up[2]);
		printf("  cold start           %10.1f ms (median of 5)\n", cold_ms);
		printf("  on disk              %10.1f MB\n",
		       (double)json_integer_value(json_object_get(out, "disk_bytes")) / 1e6);
	}
	rc = TV_EXIT_OK;
	goto done;
fail:
	rc = TV_EXIT_RUNTIME;
done:
	if (!o.db && db == tmpl) {
		char *cmd = tv_sprintf("rm -rf '%s'", tmpl);
		if (cmd && system(cmd)) { /* best effort */ }
		free(cmd);
	}
	json_decref(out);
	json_decref(upsert_ms);
	json_decref(tidx.json);
	for (size_t f = 0; f < NFILTERS; f++)
		json_decref(tf[f].json);
	for (size_t f = 0; f < NFILTERS; f++)
		free(where[f]);
	free(stats);
	free(gtpath);
	free(gt);
	free(qs);
	if (bv.f)
		fclose(bv.f);
	if (qv.f)
		fclose(qv.f);
	return rc;
}

/* teavec stats / versions / optimize / restore: looking after a database. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "teavec.h"

typedef struct dbopts {
	const char *db, *collection;
	int json;
	int reindex;          /* optimize: rebuild the vector index */
	long long older_than; /* cleanup: seconds; -1 = not given */
} dbopts;

static void usage(FILE *f, const char *cmd)
{
	static const struct {
		const char *cmd, *args, *what;
	} u[] = {
		{"stats", "",
		 "rows, versions, fragments, bytes and vector index (kind, partitions, rows it "
		 "covers) of each collection (or of --collection)"},
		{"versions", "", "the versions of --collection with time and operation"},
		{"optimize", " [--reindex]",
		 "compact small fragments, fold unindexed rows into the vector index and clean up "
		 "old versions now; --reindex trains the index afresh"},
		{"cleanup", " [--older-than SECONDS]",
		 "remove the versions older than SECONDS (default 0: all but the newest) and the "
		 "files only they used"},
		{"restore", " VERSION", "make VERSION of --collection the newest (a new version)"},
	};
	for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
		if (!strcmp(u[i].cmd, cmd))
			fprintf(f,
			        "usage: teavec %s%s [--db URI] [--collection NAME] [--json]\n%s.\n"
			        "  --db URI   lancedb database (default $TEAVEC_DB or ~/.tea/vectors/)\n",
			        cmd, u[i].args, u[i].what);
}

/* Parses the common options; returns the index of the first operand, or
 * -1 after printing usage (exit 2), -2 after --help (exit 0). */
static int parse(int argc, char **argv, dbopts *o)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'}, {"collection", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},     {"help", no_argument, NULL, 'h'},
		{"older-than", required_argument, NULL, 'o'},
		{"reindex", no_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	int c;
	const char *env = getenv("TEAVEC_DB");
	char *end;
	memset(o, 0, sizeof *o);
	o->db = env && *env ? env : "~/.tea/vectors/";
	o->older_than = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:c:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->older_than = strtoll(optarg, &end, 10);
			if (*end || o->older_than < 0 || strcmp(argv[0], "cleanup")) {
				fprintf(stderr, "teavec %s: --older-than: %s\n", argv[0],
				        strcmp(argv[0], "cleanup") ? "only for cleanup"
				                                   : "expected a number of seconds >= 0");
				return -1;
			}
			break;
		case 'r':
			if (strcmp(argv[0], "optimize")) {
				fprintf(stderr, "teavec %s: --reindex: only for optimize\n", argv[0]);
				return -1;
			}
			o->reindex = 1;
			break;
		case 'd': o->db = optarg; break;
		case 'c': o->collection = optarg; break;
		case 'j': o->json = 1; break;
		case 'h': usage(stdout, argv[0]); return -2;
		default: usage(stderr, argv[0]); return -1;
		}
	}
	return optind;
}

static tv_store *open_db(const dbopts *o)
{
	json_t *js = json_pack("{s:s}", "lancedb_path", o->db);
	if (o->older_than >= 0) { /* an explicit cleanup: keep the newest and the younger */
		json_object_set_new(js, "cleanup_keep_versions", json_integer(1));
		json_object_set_new(js, "cleanup_older_than_s", json_integer(o->older_than));
	}
	char *settings = json_dumps(js, JSON_COMPACT);
	tv_store *s = NULL;
	if (tv_store_open(&s, "lancedb", settings))
		fprintf(stderr, "teavec: %s\n", tv_last_errmsg());
	free(settings);
	json_decref(js);
	return s;
}

static int fail(tv_store *s)
{
	fprintf(stderr, "teavec: %s\n", tv_store_errmsg(s));
	tv_store_close(s);
	return TV_EXIT_RUNTIME;
}

int tv_cmd_stats(int argc, char **argv)
{
	dbopts o;
	tv_store *s;
	char **names = NULL;
	size_t n = 0;
	json_t *out;
	int i = parse(argc, argv, &o);
	if (i < 0)
		return i == -2 ? TV_EXIT_OK : TV_EXIT_USAGE;
	if (!(s = open_db(&o)))
		return TV_EXIT_RUNTIME;
	out = json_object();
	if (o.collection) {
		names = malloc(sizeof *names);
		names[0] = strdup(o.collection);
		n = 1;
	} else if (tv_store_collections(s, &names, &n)) {
		json_decref(out);
		return fail(s);
	}
	for (size_t k = 0; k < n; k++) {
		char *v = NULL, *st = NULL;
		json_t *vs, *js, *ix;
		if (tv_store_stats(s, names[k], &st) || tv_store_versions(s, names[k], &v)) {
			free(st);
			tv_strings_free(names, n);
			json_decref(out);
			return fail(s);
		}
		vs = json_loads(v, 0, NULL);
		js = json_loads(st, 0, NULL);
		json_object_del(js, "collection");
		json_object_set_new(js, "versions", json_integer((json_int_t)json_array_size(vs)));
		json_object_set(js, "latest", json_array_get(vs, json_array_size(vs) - 1));
		ix = json_object_get(js, "index");
		if (!o.json) {
			printf("%-24s %10" JSON_INTEGER_FORMAT " rows %6zu versions (latest %" JSON_INTEGER_FORMAT
			       ") %4" JSON_INTEGER_FORMAT " fragments %10.1f MB",
			       names[k], json_integer_value(json_object_get(js, "rows")), json_array_size(vs),
			       json_integer_value(json_object_get(js, "version")),
			       json_integer_value(json_object_get(js, "fragments")),
			       (double)json_integer_value(json_object_get(js, "bytes")) / 1e6);
			if (json_is_object(ix) &&
			    strcmp(json_string_value(json_object_get(ix, "search")), "ivf_pq"))
				printf("  IVF_PQ %s: exact search (the rows have no cluster structure to "
				       "partition)\n",
				       json_string_value(json_object_get(ix, "metric")));
			else if (json_is_object(ix))
				printf("  IVF_PQ %s, %" JSON_INTEGER_FORMAT " partitions (probes %" JSON_INTEGER_FORMAT
				       ") x %" JSON_INTEGER_FORMAT " sub-vectors, %" JSON_INTEGER_FORMAT
				       " rows indexed, %" JSON_INTEGER_FORMAT " not yet\n",
				       json_string_value(json_object_get(ix, "metric")),
				       json_integer_value(json_object_get(ix, "partitions")),
				       json_integer_value(json_object_get(ix, "nprobes")),
				       json_integer_value(json_object_get(ix, "sub_vectors")),
				       json_integer_value(json_object_get(ix, "indexed_rows")),
				       json_integer_value(json_object_get(ix, "unindexed_rows")));
			else
				printf("  no vector index (exact search%s)\n",
				       json_integer_value(json_object_get(js, "rows")) < 256 ? ": under 256 rows"
				                                                             : "");
		}
		json_object_set_new(out, names[k], js);
		json_decref(vs);
		free(v);
		free(st);
	}
	if (o.json) {
		char *j = json_dumps(out, JSON_INDENT(2));
		puts(j);
		free(j);
	}
	json_decref(out);
	tv_strings_free(names, n);
	tv_store_close(s);
	return TV_EXIT_OK;
}

int tv_cmd_versions(int argc, char **argv)
{
	dbopts o;
	tv_store *s;
	char *v = NULL;
	json_t *vs, *e;
	size_t k;
	int i = parse(argc, argv, &o);
	if (i < 0)
		return i == -2 ? TV_EXIT_OK : TV_EXIT_USAGE;
	if (!(s = open_db(&o)))
		return TV_EXIT_RUNTIME;
	if (tv_store_versions(s, o.collection, &v))
		return fail(s);
	vs = json_loads(v, 0, NULL);
	if (o.json)
		puts(v);
	else
		json_array_foreach(vs, k, e)
			printf("%8" JSON_INTEGER_FORMAT "  %s  %s\n",
			       json_integer_value(json_object_get(e, "version")),
			       json_string_value(json_object_get(e, "timestamp")),
			       json_string_value(json_object_get(e, "operation")));
	json_decref(vs);
	free(v);
	tv_store_close(s);
	return TV_EXIT_OK;
}

int tv_cmd_optimize(int argc, char **argv)
{
	dbopts o;
	tv_store *s;
	int i = parse(argc, argv, &o);
	if (i < 0)
		return i == -2 ? TV_EXIT_OK : TV_EXIT_USAGE;
	if (!(s = open_db(&o)))
		return TV_EXIT_RUNTIME;
	if (o.reindex) { /* one collection, or all */
		char **names = NULL;
		size_t n = 0;
		int rc = 0;
		if (o.collection)
			rc = tv_store_reindex(s, o.collection);
		else if (!(rc = tv_store_collections(s, &names, &n)))
			for (size_t k = 0; k < n && !rc; k++)
				rc = tv_store_reindex(s, names[k]);
		tv_strings_free(names, n);
		if (rc)
			return fail(s);
	}
	if (tv_store_optimize(s, o.collection))
		return fail(s);
	tv_store_close(s);
	return TV_EXIT_OK;
}

int tv_cmd_cleanup(int argc, char **argv)
{
	dbopts o;
	tv_store *s;
	int i = parse(argc, argv, &o);
	if (i < 0)
		return i == -2 ? TV_EXIT_OK : TV_EXIT_USAGE;
	if (i != argc) {
		usage(stderr, "cleanup");
		return TV_EXIT_USAGE;
	}
	if (o.older_than < 0)
		o.older_than = 0;
	if (!(s = open_db(&o)))
		return TV_EXIT_RUNTIME;
	if (tv_store_optimize(s, o.collection))
		return fail(s);
	tv_store_close(s);
	return TV_EXIT_OK;
}

int tv_cmd_restore(int argc, char **argv)
{
	dbopts o;
	tv_store *s;
	char *end, *state;
	unsigned long long v;
	json_t *js;
	int i = parse(argc, argv, &o), rc;
	if (i < 0)
		return i == -2 ? TV_EXIT_OK : TV_EXIT_USAGE;
	if (i != argc - 1 || (v = strtoull(argv[i], &end, 10)) == 0 || *end) {
		usage(stderr, "restore");
		return TV_EXIT_USAGE;
	}
	if (!(s = open_db(&o)))
		return TV_EXIT_RUNTIME;
	js = json_pack("{s:{s:I}}", "collections", o.collection ? o.collection : "default",
	               (json_int_t)v);
	state = json_dumps(js, JSON_COMPACT);
	rc = tv_store_restore_state(s, state);
	free(state);
	json_decref(js);
	if (rc)
		return fail(s);
	tv_store_close(s);
	return TV_EXIT_OK;
}

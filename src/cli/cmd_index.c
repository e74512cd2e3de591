/* teavec index / search: the indexer and semantic search over files,
 * as people use them from a shell. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "rag/rag.h"
#include "util/common.h"

/* Colour only on a terminal, and never with NO_COLOR set. */
static bool use_colour(int fd)
{
	const char *nc = getenv("NO_COLOR");
	return isatty(fd) && !(nc && *nc);
}

static void human_bytes(char *buf, size_t n, double b)
{
	const char *u[] = {"B", "KB", "MB", "GB", "TB"};
	int i = 0;
	while (b >= 1000 && i < 4) {
		b /= 1000;
		i++;
	}
	snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

/* ---- index ------------------------------------------------------------ */

typedef struct bar {
	double last;
	bool drawn;
} bar;

static void draw(void *ctx, const tv_index_progress *p)
{
	bar *b = ctx;
	char done[32], total[32], line[160];
	double frac, rate, eta;
	int width = 24, fill;
	if (p->files_done != p->files_total && p->elapsed_s - b->last < 0.1)
		return; /* at most ten redraws a second */
	b->last = p->elapsed_s;
	frac = p->bytes_total ? (double)p->bytes_done / (double)p->bytes_total
	                      : p->files_total ? (double)p->files_done / (double)p->files_total : 1;
	if (frac > 1)
		frac = 1;
	fill = (int)(frac * width);
	rate = p->elapsed_s > 0 ? (double)p->chunks / p->elapsed_s : 0;
	eta = frac > 0 ? p->elapsed_s * (1 - frac) / frac : 0;
	human_bytes(done, sizeof done, (double)p->bytes_done);
	human_bytes(total, sizeof total, (double)p->bytes_total);
	snprintf(line, sizeof line, "[%.*s%*s] %zu/%zu files  %s/%s  %.0f chunks/s  ETA %.0fs",
	         fill, "########################", width - fill, "", p->files_done, p->files_total,
	         done, total, rate, eta);
	fprintf(stderr, "\r%s\033[K", line);
	b->drawn = true;
}

static void index_usage(FILE *f)
{
	fprintf(f,
	        "usage: teavec index PATH... [options]\n"
	        "Indexes files (and directories, recursively) into a collection: only new and\n"
	        "changed files are embedded; chunks of deleted files are removed.\n"
	        "  --db URI             database (default $TEAVEC_DB or ~/.tea/vectors/)\n"
	        "  --collection NAME    collection (default 'default')\n"
	        "  --pattern GLOB       files to take under a directory (default '**/*')\n"
	        "  --ext .md,.c         only these extensions (any case)\n"
	        "  --chunk-by KIND      line, paragraph (default) or document\n"
	        "  --embedder NAME      hash (default), static, openai or ollama\n"
	        "  --model M            the embedder's model (static: the word-vector file)\n"
	        "  --max-file-size N    skip files over N bytes (default 10485760)\n"
	        "  --no-recursive       only the files directly in each directory\n"
	        "  --full               re-embed every file, changed or not\n"
	        "  --json               print the vector.index_files result as JSON\n");
}

int tv_cmd_index(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},
		{"collection", required_argument, NULL, 'c'},
		{"pattern", required_argument, NULL, 'p'},
		{"ext", required_argument, NULL, 'x'},
		{"chunk-by", required_argument, NULL, 'b'},
		{"embedder", required_argument, NULL, 'e'},
		{"model", required_argument, NULL, 'm'},
		{"max-file-size", required_argument, NULL, 'S'},
		{"no-recursive", no_argument, NULL, 'R'},
		{"full", no_argument, NULL, 'F'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *db = NULL, *emb = NULL, *model = NULL;
	json_t *params = json_object(), *paths = json_array(), *settings, *res = NULL;
	tv_rag *rag = NULL;
	tv_err err = {0};
	bar b = {0};
	int c, rc, json = 0;
	optind = 1;
	json_object_set(params, "paths", paths);
	while ((c = getopt_long(argc, argv, "d:c:p:x:b:e:m:S:RFjh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'c': json_object_set_new(params, "collection", json_string(optarg)); break;
		case 'p': json_object_set_new(params, "pattern", json_string(optarg)); break;
		case 'x': json_object_set_new(params, "extensions", json_string(optarg)); break;
		case 'b': json_object_set_new(params, "chunk_by", json_string(optarg)); break;
		case 'e': emb = optarg; break;
		case 'm': model = optarg; break;
		case 'S': {
			char *end;
			long long v = strtoll(optarg, &end, 10);
			if (*end || v < 1) {
				fprintf(stderr, "teavec index: --max-file-size: expected a positive number of "
				                "bytes, got '%s'\n", optarg);
				json_decref(params);
				json_decref(paths);
				return TV_EXIT_USAGE;
			}
			json_object_set_new(params, "max_file_size", json_integer(v));
			break;
		}
		case 'R': json_object_set_new(params, "recursive", json_false()); break;
		case 'F': json_object_set_new(params, "incremental", json_false()); break;
		case 'j': json = 1; break;
		case 'h':
			index_usage(stdout);
			json_decref(params);
			json_decref(paths);
			return TV_EXIT_OK;
		default:
			index_usage(stderr);
			json_decref(params);
			json_decref(paths);
			return TV_EXIT_USAGE;
		}
	}
	for (int i = optind; i < argc; i++)
		json_array_append_new(paths, json_string(argv[i]));
	json_decref(paths);
	if (optind == argc) {
		fprintf(stderr, "teavec index: give at least one PATH (file, directory or URI)\n");
		index_usage(stderr);
		json_decref(params);
		return TV_EXIT_USAGE;
	}
	settings = tv_cli_settings(db, emb, model);
	if ((rc = tv_rag_open(&rag, settings, &err))) {
		fprintf(stderr, "teavec: %s\n", err.msg);
		json_decref(settings);
		json_decref(params);
		return TV_EXIT_RUNTIME;
	}
	if (isatty(2))
		tv_rag_set_progress(rag, draw, &b);
	rc = tv_rag_call(rag, "vector.index_files", params, &res);
	if (b.drawn)
		fprintf(stderr, "\r\033[K");
	if (rc) {
		fprintf(stderr, "teavec index: %s\n", json_string_value(json_object_get(res, "error")));
	} else if (json) {
		char *s = json_dumps(res, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
		if (s)
			puts(s);
		free(s);
	} else {
		const json_t *x;
		size_t i;
		char bytes[32];
		json_array_foreach(json_object_get(res, "messages"), i, x)
			fprintf(stderr, "teavec: %s\n", json_string_value(x));
		json_array_foreach(json_object_get(res, "errors"), i, x)
			fprintf(stderr, "error: %s: %s\n", json_string_value(json_object_get(x, "path")),
			        json_string_value(json_object_get(x, "error")));
		json_array_foreach(json_object_get(res, "skipped_files"), i, x)
			fprintf(stderr, "skipped: %s: %s\n", json_string_value(json_object_get(x, "path")),
			        json_string_value(json_object_get(x, "reason")));
		json_array_foreach(json_object_get(res, "warnings"), i, x)
			fprintf(stderr, "warning: %s: %s\n", json_string_value(json_object_get(x, "path")),
			        json_string_value(json_object_get(x, "warning")));
		human_bytes(bytes, sizeof bytes,
		            (double)json_integer_value(json_object_get(res, "bytes")));
		printf("%s: %" JSON_INTEGER_FORMAT " files indexed (%" JSON_INTEGER_FORMAT
		       " chunks, %s), %" JSON_INTEGER_FORMAT " unchanged, %zu skipped, %"
		       JSON_INTEGER_FORMAT " removed, %zu errors in %.2f s\n",
		       json_string_value(json_object_get(res, "collection")),
		       json_integer_value(json_object_get(res, "indexed")),
		       json_integer_value(json_object_get(res, "chunks")), bytes,
		       json_integer_value(json_object_get(res, "unchanged")),
		       json_array_size(json_object_get(res, "skipped_files")),
		       json_integer_value(json_object_get(res, "removed")),
		       json_array_size(json_object_get(res, "errors")),
		       json_real_value(json_object_get(res, "seconds")));
	}
	json_decref(res);
	json_decref(settings);
	json_decref(params);
	tv_rag_close(rag);
	return rc ? TV_EXIT_RUNTIME : TV_EXIT_OK;
}

/* ---- search ----------------------------------------------------------- */

/* How the rag layer's message for an embedder that cannot be opened starts
 * (tv_rag__embedder) */
#define EMBEDDER_ERROR "settings.rag.embedding_provider: "

static void search_usage(FILE *f)
{
	fprintf(f,
	        "usage: teavec search QUERY [options]\n"
	        "Finds the chunks nearest to QUERY and prints them best first with score,\n"
	        "path:line and lines of the file.\n"
	        "  --db URI             database (default $TEAVEC_DB or ~/.tea/vectors/)\n"
	        "  --collection NAME    collection (default 'default')\n"
	        "  -k N                 results (default 5)\n"
	        "  --where EXPR         SQL filter, e.g. \"path LIKE '%%/docs/%%'\"\n"
	        "  --max-distance D     drop results farther than D (cosine distance)\n"
	        "  -n LINES             lines of context to print (default 3; 0 = none)\n"
	        "  --embedder NAME      as for index (default: the one the collection used)\n"
	        "  --model M\n"
	        "  --exact              search every row exactly (bypass the vector index)\n"
	        "  --nprobes N          index partitions to probe (default: automatic)\n"
	        "  --json               print the vector.query result as JSON\n");
}

/* Prints lines [from, from + n) of a local file, grep -n style. Returns
 * false when the file cannot be read (the caller prints the chunk). */
static bool print_lines(const char *path, long from, long n, bool colour)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	long at = 0;
	ssize_t len;
	if (strstr(path, "://") || !(f = fopen(path, "r")))
		return false;
	while (at < from + n - 1 && (len = getline(&line, &cap, f)) >= 0) {
		at++;
		if (at < from)
			continue;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = 0;
		if (colour)
			printf("  \033[32m%ld\033[0m: %s\n", at, line);
		else
			printf("  %ld: %s\n", at, line);
	}
	free(line);
	fclose(f);
	return at >= from;
}

/* Settings from an embedder id of state rows written before the settings
 * were recorded: "hash:v1:256", "openai:v1:MODEL:1536" (the model name
 * may hold ':'). A static model's path is not in its id: 1. */
static int settings_from_id(json_t *rec, const char *id)
{
	const char *model = strchr(id, ':'), *last = strrchr(id, ':');
	char prov[16];
	unsigned dim;
	if (!model || (size_t)(model - id) >= sizeof prov || strncmp(model, ":v1:", 4) ||
	    sscanf(last + 1, "%u", &dim) != 1)
		return 0; /* not one of ours: the defaults */
	snprintf(prov, sizeof prov, "%.*s", (int)(model - id), id);
	model += 4;
	if (!strcmp(prov, "static"))
		return 1;
	json_object_set_new(rec, "embedding_provider", json_string(prov));
	if (!strcmp(prov, "hash") || !strcmp(prov, "ollama")) /* ollama: checked, not sent */
		json_object_set_new(rec, "embedding_dimensions", json_integer(dim));
	if (strcmp(prov, "hash") && last > model)
		json_object_set_new(rec, "embedding_model", json_stringn(model, (size_t)(last - model)));
	return 0;
}

/* The embedder the collection was indexed with, from its file state, when
 * the user did not name one: the recorded embedder_settings (provider,
 * model, dimensions) go into settings, with a model given by --model
 * kept; URLs and keys still come from the environment as for index.
 * *id receives the recorded embedder id (caller frees; NULL when nothing
 * is recorded). Nonzero after printing why the recorded embedder cannot be
 * named. */
static int recorded_embedder(json_t *settings, const char *db, const char *coll, bool model_given,
                             char **id)
{
	tv_store *s = NULL;
	tv_results *r = NULL;
	char *js, *sc = tv_sprintf("%s.files", coll);
	json_t *store = json_pack("{s:s}", "lancedb_path", db), *m = NULL, *rec = json_object();
	const char *k;
	json_t *v;
	int rc = 0;
	*id = NULL;
	js = json_dumps(store, JSON_COMPACT);
	json_decref(store);
	if (sc && js && tv_store_open(&s, "lancedb", js) == 0 &&
	    tv_store_get(s, sc, NULL, NULL, 1, 0, &r) == 0 && r->n == 1 &&
	    (m = json_loads(r->items[0].metadata, 0, NULL)) &&
	    json_string_value(json_object_get(m, "embedder"))) {
		*id = tv_strdup(json_string_value(json_object_get(m, "embedder")));
		if (json_is_object(json_object_get(m, "embedder_settings")))
			json_object_update(rec, json_object_get(m, "embedder_settings"));
		else if (*id && settings_from_id(rec, *id)) {
			fprintf(stderr,
			        "teavec search: collection '%s' was indexed with the static embedder "
			        "'%s', but not where its model file is (indexed by an older teavec): give "
			        "--embedder static --model PATH, or index again\n",
			        coll, *id);
			rc = 1;
		}
		if (model_given) { /* --model: another model of the recorded provider */
			json_object_del(rec, "embedding_model");
			json_object_del(rec, "embedding_dimensions");
		}
		json_object_foreach(rec, k, v)
			json_object_set(settings, k, v);
	}
	json_decref(rec);
	json_decref(m);
	tv_results_free(r);
	tv_store_close(s);
	free(js);
	free(sc);
	return rc;
}

/* Whether the database exists: a local directory, or any URI (the store
 * says if a collection is missing). Never creates anything. */
static bool db_exists(const char *db)
{
	struct stat st;
	char *p;
	bool ok;
	if (strstr(db, "://") && strncmp(db, "file://", 7))
		return true;
	if (!strncmp(db, "file://", 7))
		db += 7;
	if (db[0] == '~' && (db[1] == '/' || !db[1]) && getenv("HOME"))
		p = tv_sprintf("%s%s", getenv("HOME"), db + 1);
	else
		p = tv_strdup(db);
	ok = p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
	free(p);
	return ok;
}

int tv_cmd_search(int argc, char **argv)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},
		{"collection", required_argument, NULL, 'c'},
		{"where", required_argument, NULL, 'w'},
		{"max-distance", required_argument, NULL, 'D'},
		{"embedder", required_argument, NULL, 'e'},
		{"model", required_argument, NULL, 'm'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{"exact", no_argument, NULL, 'X'},
		{"nprobes", required_argument, NULL, 'P'},
		{NULL, 0, NULL, 0},
	};
	const char *db = NULL, *coll = "default", *where = NULL, *emb = NULL, *model = NULL;
	long nprobes = 0;
	int exact = 0;
	const char *env = getenv("TEAVEC_DB");
	double maxd = -1;
	long k = 5, ctx = 3;
	int c, rc, json = 0;
	bool colour = use_colour(1);
	json_t *params, *settings, *res = NULL, *x;
	char *rec_id = NULL; /* the recorded embedder, when used */
	const char *emsg;
	tv_rag *rag = NULL;
	tv_err err = {0};
	size_t i, shown = 0;
	char *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:c:k:w:D:n:e:m:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'X': exact = 1; break;
		case 'P':
			nprobes = strtol(optarg, &end, 10);
			if (*end || nprobes < 1 || nprobes > 1000000) {
				fprintf(stderr, "teavec search: --nprobes: expected 1..1000000, got '%s'\n",
				        optarg);
				return TV_EXIT_USAGE;
			}
			break;
		case 'd': db = optarg; break;
		case 'c': coll = optarg; break;
		case 'w': where = optarg; break;
		case 'e': emb = optarg; break;
		case 'm': model = optarg; break;
		case 'j': json = 1; break;
		case 'k':
			k = strtol(optarg, &end, 10);
			if (*end || k < 1 || k > 10000) {
				fprintf(stderr, "teavec search: -k: expected 1..10000, got '%s'\n", optarg);
				return TV_EXIT_USAGE;
			}
			break;
		case 'n':
			ctx = strtol(optarg, &end, 10);
			if (*end || ctx < 0 || ctx > 1000) {
				fprintf(stderr, "teavec search: -n: expected 0..1000 lines, got '%s'\n", optarg);
				return TV_EXIT_USAGE;
			}
			break;
		case 'D':
			maxd = strtod(optarg, &end);
			if (*end || maxd < 0) {
				fprintf(stderr, "teavec search: --max-distance: expected a number >= 0, got "
				                "'%s'\n", optarg);
				return TV_EXIT_USAGE;
			}
			break;
		case 'h': search_usage(stdout); return TV_EXIT_OK;
		default: search_usage(stderr); return TV_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "teavec search: give exactly one QUERY (quote it)\n");
		search_usage(stderr);
		return TV_EXIT_USAGE;
	}
	if (!db)
		db = env && *env ? env : "~/.tea/vectors/";
	if (!db_exists(db)) {
		fprintf(stderr, "teavec search: no database at '%s': run 'teavec index PATH --db %s' "
		                "first\n", db, db);
		return TV_EXIT_RUNTIME;
	}
	settings = tv_cli_settings(db, emb, model);
	if (!emb && recorded_embedder(settings,
	                              json_string_value(json_object_get(settings, "lancedb_path")),
	                              coll, model != NULL, &rec_id)) {
		json_decref(settings);
		free(rec_id);
		return TV_EXIT_RUNTIME;
	}
	params = json_pack("{s:s,s:s,s:I}", "query", argv[optind], "collection", coll, "k",
	                   (json_int_t)k);
	if (where)
		json_object_set_new(params, "filter", json_string(where));
	if (exact)
		json_object_set_new(params, "exact", json_true());
	if (nprobes)
		json_object_set_new(params, "nprobes", json_integer(nprobes));
	if ((rc = tv_rag_open(&rag, settings, &err))) {
		fprintf(stderr, "teavec: %s\n", err.msg);
		json_decref(settings);
		json_decref(params);
		free(rec_id);
		return TV_EXIT_RUNTIME;
	}
	rc = tv_rag_call(rag, "vector.query", params, &res);
	if (!rc && maxd >= 0) { /* drop the far ones */
		json_t *kept = json_array();
		json_array_foreach(json_object_get(res, "results"), i, x)
			if (1.0 - json_number_value(json_object_get(x, "score")) <= maxd + 1e-6)
				json_array_append(kept, x);
		json_object_set_new(res, "results", kept);
	}
	emsg = rc ? json_string_value(json_object_get(res, "error")) : NULL;
	if (emsg && rec_id && !strncmp(emsg, EMBEDDER_ERROR, strlen(EMBEDDER_ERROR))) {
		fprintf(stderr,
		        "teavec search: collection '%s' was indexed with the embedder '%s', which cannot "
		        "be opened: %s (name one with --embedder and --model)\n",
		        coll, rec_id, emsg + strlen(EMBEDDER_ERROR));
	} else if (rc) {
		fprintf(stderr, "teavec search: %s\n", emsg ? emsg : "failed");
	} else if (json) {
		char *s = json_dumps(res, JSON_INDENT(2) | JSON_REAL_PRECISION(7));
		if (s)
			puts(s);
		free(s);
	} else {
		json_array_foreach(json_object_get(res, "results"), i, x) {
			json_t *m = json_loads(json_string_value(json_object_get(x, "metadata"))
			                           ? json_string_value(json_object_get(x, "metadata"))
			                           : "null",
			                       JSON_DECODE_ANY, NULL);
			const json_t *meta = json_is_object(json_object_get(x, "metadata"))
			                         ? json_object_get(x, "metadata")
			                         : m;
			const char *file = json_string_value(json_object_get(meta, "file"));
			long line = (long)json_integer_value(json_object_get(meta, "start_line"));
			const char *text = json_string_value(json_object_get(x, "text"));
			double score = json_number_value(json_object_get(x, "score"));
			shown++;
			if (file && colour)
				printf("\033[1m%.4f\033[0m  \033[35m%s\033[0m:\033[32m%ld\033[0m\n", score, file,
				       line);
			else if (file)
				printf("%.4f  %s:%ld\n", score, file, line);
			else
				printf("%.4f  %s\n", score, json_string_value(json_object_get(x, "id")));
			if (ctx > 0 && !(file && line > 0 && print_lines(file, line, ctx, colour))) {
				/* not a readable file: the stored text */
				const char *p = text ? text : "";
				for (long l = 0; l < ctx && *p; l++) {
					const char *e = strchr(p, '\n');
					int len = e ? (int)(e - p) : (int)strlen(p);
					printf("  %.*s\n", len, p);
					p = e ? e + 1 : p + len;
				}
			}
			json_decref(m);
		}
		if (!shown)
			fprintf(stderr, "teavec search: no results in collection '%s'\n", coll);
	}
	json_decref(res);
	json_decref(settings);
	json_decref(params);
	tv_rag_close(rag);
	free(rec_id);
	return rc ? TV_EXIT_RUNTIME : TV_EXIT_OK;
}

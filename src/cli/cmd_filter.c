/* teavec count / delete: filter-only operations on a lancedb database,
 * through the same filter engine as search (tv_store_count_where,
 * tv_store_delete_where). The filter is a SQL WHERE expression (--where),
 * a TEA dict filter (--filter JSON), or both (ANDed); it is handed to the
 * library as given, never pasted into other text. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli/cli.h"
#include "teavec.h"

static void usage(FILE *f, const char *cmd)
{
	bool del = !strcmp(cmd, "delete");
	fprintf(f,
	        "usage: teavec %s %s[--db URI] [--collection NAME] [--json]\n"
	        "%s\n"
	        "  --where EXPR       SQL filter, e.g. \"path LIKE 'docs/%%' AND year >= 2020\"\n"
	        "  --filter JSON      TEA dict filter, e.g. '{\"lang\": \"en\", \"year_gte\": 2020}'\n"
	        "                     (with --where: both must hold)\n"
	        "  --db URI           lancedb database (default $TEAVEC_DB or ~/.tea/vectors/)\n"
	        "  --collection NAME  collection (default 'default')\n"
	        "  --json             print {\"collection\", \"%s\"} as JSON\n",
	        cmd, del ? "(--where EXPR | --filter JSON) " : "[--where EXPR] [--filter JSON] ",
	        del ? "Deletes the rows passing the filter, in one commit (--where TRUE: all of them)."
	            : "Counts the rows passing the filter (without one: all rows).",
	        del ? "deleted" : "count");
}

/* A local database directory must exist: a typo in --db is an error, not
 * an empty answer. URIs are left to the store. */
static bool local_db_missing(const char *db)
{
	struct stat st;
	char *p;
	bool missing;
	if (strstr(db, "://") && strncmp(db, "file://", 7))
		return false;
	if (!strncmp(db, "file://", 7))
		db += 7;
	if (db[0] == '~' && (db[1] == '/' || !db[1]) && getenv("HOME")) {
		p = malloc(strlen(getenv("HOME")) + strlen(db) + 1);
		if (p)
			sprintf(p, "%s%s", getenv("HOME"), db + 1);
	} else {
		p = strdup(db);
	}
	missing = !p || stat(p, &st) != 0 || !S_ISDIR(st.st_mode);
	free(p);
	return missing;
}

static int filter_command(int argc, char **argv, bool del)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},
		{"collection", required_argument, NULL, 'c'},
		{"where", required_argument, NULL, 'w'},
		{"filter", required_argument, NULL, 'f'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *env = getenv("TEAVEC_DB"), *db = NULL, *coll = "default", *where = NULL,
	           *filter = NULL;
	json_t *settings;
	char *sj;
	tv_store *s = NULL;
	size_t n = 0;
	int c, json = 0, rc;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:c:w:f:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'c': coll = optarg; break;
		case 'w': where = optarg; break;
		case 'f': filter = optarg; break;
		case 'j': json = 1; break;
		case 'h': usage(stdout, argv[0]); return TV_EXIT_OK;
		default: usage(stderr, argv[0]); return TV_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "teavec %s: unexpected argument '%s' (the filter goes after --where)\n",
		        argv[0], argv[optind]);
		usage(stderr, argv[0]);
		return TV_EXIT_USAGE;
	}
	if (del && !where && !filter) {
		fprintf(stderr, "teavec delete: give --where or --filter (--where TRUE deletes every "
		                "row)\n");
		return TV_EXIT_USAGE;
	}
	if (!db)
		db = env && *env ? env : "~/.tea/vectors/";
	if (!strcmp(db, "memory")) {
		fprintf(stderr, "teavec %s: --db memory holds nothing between runs: give a lancedb "
		                "database\n", argv[0]);
		return TV_EXIT_USAGE;
	}
	if (local_db_missing(db)) {
		fprintf(stderr, "teavec %s: no database at '%s'\n", argv[0], db);
		return TV_EXIT_RUNTIME;
	}
	settings = json_pack("{s:s}", "lancedb_path", db);
	sj = settings ? json_dumps(settings, JSON_COMPACT) : NULL;
	json_decref(settings);
	if (!sj || tv_store_open(&s, "lancedb", sj)) {
		fprintf(stderr, "teavec %s: %s\n", argv[0], sj ? tv_last_errmsg() : "out of memory");
		free(sj);
		return TV_EXIT_RUNTIME;
	}
	free(sj);
	rc = del ? tv_store_delete_where(s, coll, where, filter, &n)
	         : tv_store_count_where(s, coll, where, filter, &n);
	if (rc) {
		fprintf(stderr, "teavec %s: %s\n", argv[0], tv_store_errmsg(s));
		tv_store_close(s);
		return TV_EXIT_RUNTIME;
	}
	if (json) {
		json_t *o = json_pack("{s:s,s:I}", "collection", coll, del ? "deleted" : "count",
		                      (json_int_t)n);
		char *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (out)
			puts(out);
		free(out);
		json_decref(o);
	} else if (del) {
		printf("%zu row%s deleted\n", n, n == 1 ? "" : "s");
	} else {
		printf("%zu\n", n);
	}
	tv_store_close(s);
	return TV_EXIT_OK;
}

int tv_cmd_count(int argc, char **argv) { return filter_command(argc, argv, false); }
int tv_cmd_delete(int argc, char **argv) { return filter_command(argc, argv, true); }

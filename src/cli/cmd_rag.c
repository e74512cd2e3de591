/* teavec store / query / run: the TEA actions and YAML agents from the
 * command line, JSON in and JSON out. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/agent.h"
#include "cli/cli.h"
#include "rag/rag.h"
#include "util/common.h"

/* Reads --input: "-" or absent = stdin, "@FILE" or FILE = a file, text
 * starting with '{' = the JSON itself. */
static json_t *read_input(const char *arg, const char *what)
{
	json_error_t e;
	json_t *j;
	if (arg && (arg[0] == '{' || arg[0] == '['))
		j = json_loads(arg, 0, &e);
	else if (!arg || !strcmp(arg, "-"))
		j = json_loadf(stdin, 0, &e);
	else
		j = json_load_file(arg[0] == '@' ? arg + 1 : arg, 0, &e);
	if (!j)
		fprintf(stderr, "teavec: %s: invalid JSON at line %d column %d: %s\n", what, e.line,
		        e.column, e.text);
	else if (!json_is_object(j)) {
		fprintf(stderr, "teavec: %s: expected a JSON object\n", what);
		json_decref(j);
		j = NULL;
	}
	return j;
}

static int print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(7));
	if (!s)
		return TV_EXIT_RUNTIME;
	puts(s);
	free(s);
	return 0;
}

static int run_action(const char *action, json_t *settings, json_t *params)
{
	tv_rag *rag = NULL;
	json_t *res = NULL;
	tv_err err = {0};
	int rc;
	if ((rc = tv_rag_open(&rag, settings, &err))) {
		fprintf(stderr, "teavec: %s\n", err.msg);
		return TV_EXIT_RUNTIME;
	}
	rc = tv_rag_call(rag, action, params, &res);
	print_json(res);
	if (rc)
		fprintf(stderr, "teavec: %s: %s\n", action,
		        json_string_value(json_object_get(res, "error")));
	json_decref(res);
	tv_rag_close(rag);
	return rc ? TV_EXIT_RUNTIME : TV_EXIT_OK;
}

static const struct option action_opts[] = {
	{"input", required_argument, NULL, 'i'},
	{"db", required_argument, NULL, 'd'},
	{"collection", required_argument, NULL, 'c'},
	{"embedder", required_argument, NULL, 'e'},
	{"model", required_argument, NULL, 'm'},
	{"k", required_argument, NULL, 'k'},
	{"where", required_argument, NULL, 'w'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static void action_usage(FILE *f, const char *cmd)
{
	fprintf(f,
	        "usage: teavec %s [--input JSON|@FILE|-] [--db URI] [--collection NAME]\n"
	        "                     [--embedder hash|static|openai|ollama] [--model M]%s\n"
	        "Runs the vector.%s action with the JSON parameters read from --input\n"
	        "(default: standard input) and prints its JSON result.\n"
	        "  --db URI        lancedb database (default $TEAVEC_DB or ~/.tea/vectors/);\n"
	        "                  'memory' for the in-memory store\n",
	        cmd, strcmp(cmd, "query") ? "" : " [QUERY] [-k N] [--where EXPR]", cmd);
}

/* settings.rag from the common options. */
json_t *tv_cli_settings(const char *db, const char *embedder, const char *model)
{
	json_t *s = json_object();
	const char *env = getenv("TEAVEC_DB");
	if (!db)
		db = env && *env ? env : "~/.tea/vectors/";
	if (!strcmp(db, "memory")) {
		json_object_set_new(s, "vector_store", json_string("memory"));
	} else {
		json_object_set_new(s, "vector_store", json_string("lancedb"));
		json_object_set_new(s, "lancedb_path", json_string(db));
	}
	json_object_set_new(s, "embedding_provider", json_string(embedder ? embedder : "hash"));
	if (model)
		json_object_set_new(s, "embedding_model", json_string(model));
	return s;
}

static int cmd_action(int argc, char **argv, const char *action)
{
	const char *input = NULL, *db = NULL, *coll = NULL, *emb = NULL, *model = NULL;
	const char *k = NULL, *where = NULL;
	json_t *params, *settings;
	int c, rc;
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:d:c:e:m:k:w:h", action_opts, NULL)) != -1) {
		switch (c) {
		case 'i': input = optarg; break;
		case 'd': db = optarg; break;
		case 'c': coll = optarg; break;
		case 'e': emb = optarg; break;
		case 'm': model = optarg; break;
		case 'k': k = optarg; break;
		case 'w': where = optarg; break;
		case 'h': action_usage(stdout, argv[0]); return TV_EXIT_OK;
		default: action_usage(stderr, argv[0]); return TV_EXIT_USAGE;
		}
	}
	if (optind < argc && !strcmp(argv[0], "query") && !input)
		params = json_pack("{s:s}", "query", argv[optind++]);
	else
		params = read_input(input, "--input");
	if (!params)
		return TV_EXIT_USAGE;
	if (optind < argc) {
		fprintf(stderr, "teavec %s: unexpected argument '%s'\n", argv[0], argv[optind]);
		json_decref(params);
		return TV_EXIT_USAGE;
	}
	if (coll)
		json_object_set_new(params, "collection", json_string(coll));
	if (k) {
		char *end;
		long kv = strtol(k, &end, 10);
		if (*end || kv < 1) {
			fprintf(stderr, "teavec %s: -k: expected a positive integer, got '%s'\n",
			        argv[0], k);
			json_decref(params);
			return TV_EXIT_USAGE;
		}
		json_object_set_new(params, "k", json_integer(kv));
	}
	if (where)
		json_object_set_new(params, "filter", json_string(where));
	settings = tv_cli_settings(db, emb, model);
	rc = run_action(action, settings, params);
	json_decref(settings);
	json_decref(params);
	return rc;
}

int tv_cmd_store(int argc, char **argv) { return cmd_action(argc, argv, "vector.store"); }
int tv_cmd_query(int argc, char **argv) { return cmd_action(argc, argv, "vector.query"); }

/* ---- run ------------------------------------------------------------ */

static void run_usage(FILE *f)
{
	fprintf(f, "usage: teavec run AGENT.yaml [--input JSON|@FILE]\n"
	           "Runs a YAML agent (docs/YAML.md) and prints its final state as JSON.\n");
}

int tv_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"input", required_argument, NULL, 'i'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *input = NULL;
	json_t *in = NULL, *state = NULL;
	tv_agent *agent = NULL;
	tv_err err = {0};
	int c, rc = TV_EXIT_RUNTIME;
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': input = optarg; break;
		case 'h': run_usage(stdout); return TV_EXIT_OK;
		default: run_usage(stderr); return TV_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		run_usage(stderr);
		return TV_EXIT_USAGE;
	}
	if (input && !(in = read_input(input, "--input")))
		return TV_EXIT_USAGE;
	if (tv_agent_load(&agent, argv[optind], &err) || tv_agent_run(agent, in, &state, &err)) {
		fprintf(stderr, "teavec: %s\n", err.msg);
		goto done;
	}
	rc = print_json(state);
done:
	json_decref(state);
	json_decref(in);
	tv_agent_free(agent);
	return rc;
}

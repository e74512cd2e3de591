/* teavec: the command-line interface. One file per command family
 * (cli/cmd_*.c); this file dispatches. Exit codes: 0 success, 1 runtime
 * error, 2 usage error. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "teavec.h"

static const tv_cli_command commands[] = {
	{"index", "index files and directories (incrementally)", tv_cmd_index},
	{"search", "search indexed files for a query", tv_cmd_search},
	{"store", "run vector.store with JSON parameters", tv_cmd_store},
	{"query", "run vector.query with JSON parameters", tv_cmd_query},
	{"count", "count the rows passing a filter (--where / --filter)", tv_cmd_count},
	{"delete", "delete the rows passing a filter (--where / --filter)", tv_cmd_delete},
	{"run", "run a YAML agent", tv_cmd_run},
	{"stats", "rows, versions, bytes and vector index of the collections", tv_cmd_stats},
	{"versions", "versions of a collection", tv_cmd_versions},
	{"optimize", "compact, index and clean up now", tv_cmd_optimize},
	{"cleanup", "remove old versions (--older-than SECONDS)", tv_cmd_cleanup},
	{"restore", "make an old version the newest", tv_cmd_restore},
	{"bench", "benchmark workloads on fvecs files", tv_cmd_bench},
	{"version", "print the version", tv_cmd_version},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: teavec COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'teavec COMMAND --help' for a command's options.\n");
}

int tv_cmd_version(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: teavec version\nPrints the version and the SIMD kernels in use.\n");
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "usage: teavec version\n");
		return 2;
	}
	printf("teavec %s (simd: %s)\n", tv_libversion(), tv_simd_name());
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version"))
		return tv_cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "teavec: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}

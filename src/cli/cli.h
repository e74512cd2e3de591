/* Shared by the CLI's command files. */
#ifndef TV_CLI_H
#define TV_CLI_H

#include <stdbool.h>
#include <stdio.h>

typedef struct tv_cli_command {
	const char *name;
	const char *summary;
	int (*fn)(int argc, char **argv); /* argv[0] is the command name */
} tv_cli_command;

#define TV_EXIT_OK 0
#define TV_EXIT_RUNTIME 1
#define TV_EXIT_USAGE 2

int tv_cmd_version(int argc, char **argv);
int tv_cmd_index(int argc, char **argv);
int tv_cmd_search(int argc, char **argv);
int tv_cmd_store(int argc, char **argv);
int tv_cmd_query(int argc, char **argv);
int tv_cmd_run(int argc, char **argv);
int tv_cmd_stats(int argc, char **argv);
int tv_cmd_versions(int argc, char **argv);
int tv_cmd_optimize(int argc, char **argv);
int tv_cmd_cleanup(int argc, char **argv);
int tv_cmd_restore(int argc, char **argv);
int tv_cmd_bench(int argc, char **argv);
int tv_cmd_count(int argc, char **argv);
int tv_cmd_delete(int argc, char **argv);

#include <jansson.h>
/* settings.rag from --db / --embedder / --model (db NULL: $TEAVEC_DB or
 * ~/.tea/vectors/; "memory": the memory store). New reference. */
json_t *tv_cli_settings(const char *db, const char *embedder, const char *model);

#endif

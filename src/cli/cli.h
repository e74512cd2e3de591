/* Shared by the CLI's command files. */
#ifndef TV_CLI_H
#define TV_CLI_H

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

#endif

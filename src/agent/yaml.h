/*
 * YAML documents as JSON values (jansson), with the line of every node
 * kept for error messages.
 *
 * Scalars resolve as YAML 1.2 core schema: plain null/~/empty -> null,
 * true/false -> bool, integers, floats (incl. .inf/.nan rejected: JSON has
 * none), anything else or any quoted scalar -> string. Aliases are expanded
 * (bounded: a document may not expand past TV_YAML_MAX_NODES nodes, which
 * stops "billion laughs"). Only the first document of a stream is read.
 */
#ifndef TV_AGENT_YAML_H
#define TV_AGENT_YAML_H

#include <stddef.h>

#include <jansson.h>

#include "util/err.h"

#define TV_YAML_MAX_NODES 1000000

typedef struct tv_yaml_doc {
	json_t *root;
	/* line (1-based) of each container or scalar node, by json_t address */
	struct tv_yaml_line {
		const json_t *node;
		int line;
	} *lines;
	size_t nlines, caplines;
} tv_yaml_doc;

/* Parses YAML text; name is used in messages ("agent.yaml:12: ..."). */
int tv_yaml_parse(tv_yaml_doc *doc, const char *text, size_t len, const char *name,
                  tv_err *err);
/* Reads and parses a file. */
int tv_yaml_load_file(tv_yaml_doc *doc, const char *path, tv_err *err);
void tv_yaml_doc_free(tv_yaml_doc *doc);
/* The line of node, or 0 if unknown. */
int tv_yaml_line(const tv_yaml_doc *doc, const json_t *node);

#endif

/*
 * Finding the files to index: local paths (files or directories, walked
 * with `**` globs, extension filters, symlinks followed with loops
 * detected) and object-storage URIs (listed through the io layer).
 */
#ifndef TV_RAG_WALK_H
#define TV_RAG_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "io/io.h"
#include "util/err.h"

typedef struct tv_walk_file {
	char *path;       /* absolute path, or the object's full URI */
	uint64_t size;
	int64_t mtime_ns; /* 0 when the store does not say */
	int io;           /* index in tv_walk.ios for objects, -1 for local files */
	char *rel;        /* the object's path under its io root (objects only) */
} tv_walk_file;

typedef struct tv_walk_opts {
	const char *pattern;         /* glob over the path under a root; default "**" "/" "*" */
	bool recursive;              /* descend into subdirectories */
	const char *const *exts;     /* extensions to keep (".md" or "md"), any case */
	size_t nexts;                /* 0 = every extension */
} tv_walk_opts;

typedef struct tv_walk {
	tv_walk_file *files;
	size_t n, cap;
	tv_io **ios; /* one per object-storage root */
	size_t nios;
	json_t *errors; /* [{"path": ..., "error": ...}] for paths that could not be walked */
} tv_walk;

/* Adds what root names: a file as it is (filters do not apply to a file
 * named explicitly), a directory's files passing the pattern and the
 * extensions. A missing root or unreadable directory is recorded in
 * w->errors and is not fatal; out of memory is. */
int tv_walk_add(tv_walk *w, const char *root, const tv_walk_opts *o, tv_err *err);
/* root as the paths of its files begin: absolute and lexically normalised
 * for local paths, without a trailing '/' for URIs. NULL when out of
 * memory. */
char *tv_walk_root_form(const char *root);
/* Sorts the files by path and drops duplicates (a file reached twice). */
void tv_walk_finish(tv_walk *w);
void tv_walk_free(tv_walk *w);

/* Glob match of a '/'-separated relative path: `*`, `?` and `[...]`
 * within one component, `**` for any number of components. A pattern
 * without '/' is matched against the last component only. */
bool tv_glob_match(const char *pattern, const char *path);

/* The whole content of a walked file (caller frees; NUL-terminated). */
int tv_walk_read(const tv_walk *w, const tv_walk_file *f, char **data, size_t *n, tv_err *err);

#endif

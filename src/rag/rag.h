/*
 * The TEA RAG actions: embedding.create, vector.store, vector.query,
 * vector.index_files. JSON parameters in, JSON result out, with TEA's
 * parameter names and result shapes so existing agent files keep working.
 *
 * A tv_rag holds what the actions share: the settings.rag object, the
 * vector store and the embedder (both opened on first use).
 */
#ifndef TV_RAG_H
#define TV_RAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/err.h"

typedef struct tv_rag tv_rag;

/* settings: the settings.rag object (borrowed; may be NULL for defaults). */
int tv_rag_open(tv_rag **out, const json_t *settings, tv_err *err);
void tv_rag_close(tv_rag *r);
/* Progress of vector.index_files, reported as files are handled. */
typedef struct tv_index_progress {
	size_t files_total, files_done;
	uint64_t bytes_total; /* sizes of the files found */
	uint64_t bytes_done;  /* bytes read so far */
	size_t chunks;        /* chunks made so far */
	double elapsed_s;
	const char *current;  /* the file just handled */
} tv_index_progress;
typedef void (*tv_index_progress_fn)(void *ctx, const tv_index_progress *p);
/* Calls fn as vector.index_files handles files (NULL: no calls), always from
 * the thread that called the action: after each file with one thread, else
 * after each committed batch and every 0.1 s while files are read, and at
 * the end (files_done = files_total). */
void tv_rag_set_progress(tv_rag *r, tv_index_progress_fn fn, void *ctx);

/* True for the action names tv_rag_call knows. */
bool tv_rag_has_action(const char *name);
/* Runs an action. *out always receives a result object (new reference):
 * the action's result, or {"success": false, "error": "..."} naming the
 * parameter at fault; the return value is 0 or the error's code. */
int tv_rag_call(tv_rag *r, const char *action, const json_t *params, json_t **out);

#endif

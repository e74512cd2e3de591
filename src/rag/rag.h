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

#include <jansson.h>

#include "util/err.h"

typedef struct tv_rag tv_rag;

/* settings: the settings.rag object (borrowed; may be NULL for defaults). */
int tv_rag_open(tv_rag **out, const json_t *settings, tv_err *err);
void tv_rag_close(tv_rag *r);
/* True for the action names tv_rag_call knows. */
bool tv_rag_has_action(const char *name);
/* Runs an action. *out always receives a result object (new reference):
 * the action's result, or {"success": false, "error": "..."} naming the
 * parameter at fault; the return value is 0 or the error's code. */
int tv_rag_call(tv_rag *r, const char *action, const json_t *params, json_t **out);

#endif

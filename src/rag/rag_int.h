/* Shared by the action files of the rag layer. */
#ifndef TV_RAG_INT_H
#define TV_RAG_INT_H

#include <stdbool.h>

#include "rag/rag.h"
#include "teavec.h"

struct tv_rag {
	json_t *settings;      /* settings.rag (owned copy) */
	tv_store *store;       /* opened on first use */
	tv_embedder *embedder; /* opened on first use */
	char *model;           /* embedding_model override from the last call */
	tv_index_progress_fn progress;
	void *progress_ctx;
};

/* Replaces *out with {"success": false, "error": msg}; returns code. */
int tv_rag__fail(json_t **out, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int tv_rag__store(tv_rag *r, tv_store **out, json_t **res);
int tv_rag__embedder(tv_rag *r, const json_t *params, tv_embedder **out, json_t **res);
int tv_rag__texts(const json_t *params, const char *key, const char ***texts, size_t *n,
                  bool *single, json_t **res);
const char *tv_rag__collection(const json_t *params);
int tv_rag__index_files(tv_rag *r, const json_t *params, json_t **res);

#endif

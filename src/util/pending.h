/* TEMPORARY: declarations of the embedder API being written on another
 * branch (see pending.c). Removed when it lands in teavec.h. */
#ifndef TV_UTIL_PENDING_H
#define TV_UTIL_PENDING_H
#include <stddef.h>
typedef struct tv_embedder tv_embedder;
int tv_embedder_open(tv_embedder **out, const char *settings);
size_t tv_embedder_dim(const tv_embedder *e);
const char *tv_embedder_id(const tv_embedder *e);
int tv_embedder_embed(tv_embedder *e, const char *const *texts, size_t n, float *out);
const char *tv_embedder_errmsg(const tv_embedder *e);
void tv_embedder_free(tv_embedder *e);
#endif

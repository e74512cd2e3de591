/* TEMPORARY: weak placeholders for modules being written on other branches
 * (query/filter, embed), so the tree links meanwhile. Removed when they
 * land; a strong definition always overrides these. */
#include <stdbool.h>
#include <stddef.h>

#include "teavec.h"
#include "util/err.h"

#include "util/pending.h"
#define WEAK __attribute__((weak))
WEAK int tv_embedder_open(tv_embedder **out, const char *settings);
WEAK int tv_embedder_open(tv_embedder **out, const char *settings)
{
	(void)settings;
	*out = NULL;
	return tv_err_set(NULL, TV_EUNSUPPORTED, "embedders: not yet available");
}
WEAK size_t tv_embedder_dim(const tv_embedder *e);
WEAK size_t tv_embedder_dim(const tv_embedder *e) { (void)e; return 0; }
WEAK const char *tv_embedder_id(const tv_embedder *e);
WEAK const char *tv_embedder_id(const tv_embedder *e) { (void)e; return ""; }
WEAK int tv_embedder_embed(tv_embedder *e, const char *const *t, size_t n, float *out);
WEAK int tv_embedder_embed(tv_embedder *e, const char *const *t, size_t n, float *out)
{
	(void)e; (void)t; (void)n; (void)out;
	return TV_EUNSUPPORTED;
}
WEAK const char *tv_embedder_errmsg(const tv_embedder *e);
WEAK const char *tv_embedder_errmsg(const tv_embedder *e) { (void)e; return ""; }
WEAK void tv_embedder_free(tv_embedder *e);
WEAK void tv_embedder_free(tv_embedder *e) { (void)e; }

/*
 * Embedders behind one vtable (like libgit2's backends): a provider fills
 * the methods, the public tv_embedder_* wrappers in embedder.c do argument
 * checks and keep the message.
 */
#ifndef TV_EMBED_H
#define TV_EMBED_H

#include <jansson.h>

#include "teavec.h"
#include "util/err.h"

typedef struct tv_embedder_methods {
	const char *provider;
	/* n texts -> n * dim floats; all or nothing */
	int (*embed)(tv_embedder *e, const char *const *texts, size_t n, float *out);
	void (*free)(tv_embedder *e);
} tv_embedder_methods;

struct tv_embedder {
	const tv_embedder_methods *m;
	size_t dim;
	char id[160];
	tv_err err;
	/* what reopens it (tv_embedder__settings): the embedding_model
	 * (static: the model file's absolute path; openai, ollama: the model
	 * name; NULL for hash), owned and freed by the provider, and the
	 * embedding_dimensions it was given (0: learnt from the model) */
	char *model;
	size_t dims_given;
};

/* Provider constructors; settings is the settings.rag object (may be NULL). */
int tv_embed_hash_new(tv_embedder **out, const json_t *settings, tv_err *err);
int tv_embed_static_new(tv_embedder **out, const json_t *settings, tv_err *err);
/* HTTP providers (embed/http_*.c, built with TV_WITH_HTTP only). */
int tv_embed_openai_new(tv_embedder **out, const json_t *settings, tv_err *err);
int tv_embed_ollama_new(tv_embedder **out, const json_t *settings, tv_err *err);

/* The settings.rag keys that open this embedder again, wherever its model
 * is: {"embedding_provider", "embedding_model" (when it has one),
 * "embedding_dimensions" (when it was given)}. New reference, NULL when out
 * of memory. Connection settings (URLs, keys) are not part of it. */
json_t *tv_embedder__settings(const tv_embedder *e);

/* embedding_dimensions from settings, or def; TV_EINVAL naming the key. */
int tv_embed__dims(const json_t *settings, size_t def, size_t *out, tv_err *err);

#endif

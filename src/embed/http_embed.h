/*
 * What the HTTP embedders (http_openai.c, http_ollama.c) share: one
 * tv_http client (io/http.c: retries on 429/5xx with exponential backoff,
 * Retry-After honoured), batching, and the checks on every response. A
 * provider only says how its request body looks and where its vectors
 * are in the response. Built with TV_WITH_HTTP only.
 */
#ifndef TV_EMBED_HTTP_EMBED_H
#define TV_EMBED_HTTP_EMBED_H

#include "embed/embed.h"
#include "io/http.h"

typedef struct tv_http_emb tv_http_emb;

typedef struct tv_http_proto {
	const char *name;          /* "openai": messages, ids */
	const char *base_key;      /* settings key of the base URL */
	const char *base_env;      /* environment variable read when the key is absent */
	const char *base_default;
	const char *path;          /* appended to the base: "/embeddings" */
	const char *key_setting;   /* settings key of an API key, or NULL */
	const char *key_env;       /* environment variable of the API key, or NULL */
	const char *model_default; /* when embedding_model is absent */
	size_t batch_default;      /* texts per request */
	/* The request body for texts[0..n) (valid UTF-8); NULL on no memory. */
	json_t *(*body)(const tv_http_emb *e, const char *const *texts, size_t n);
	/* Fills vecs[0..n) (borrowed from root) in input order from a 2xx
	 * response; 0, or -1 with a reason in msg. */
	int (*vectors)(json_t *root, size_t n, json_t **vecs, char *msg, size_t cap);
} tv_http_proto;

struct tv_http_emb {
	tv_embedder base;
	tv_embedder_methods m; /* provider = p->name */
	const tv_http_proto *p;
	tv_http *http;
	char *url;   /* base + path */
	char *model;
	char *auth;  /* "Authorization: Bearer ..." or NULL; never in a message */
	size_t batch, max_bytes, dims_setting;
	long timeout_s;
};

/* Opens a provider from settings.rag; without embedding_dimensions one
 * probe request learns the dimension (see http_common.c). */
int tv_http_emb_new(tv_embedder **out, const tv_http_proto *p, const json_t *settings,
                    tv_err *err);

#endif

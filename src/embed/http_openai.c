/*
 * The `openai` embedder: any OpenAI-compatible embeddings endpoint (OpenAI,
 * Ollama's /v1, llama.cpp server, vLLM, LM Studio).
 *
 *   POST {openai_base_url}/embeddings      (default https://api.openai.com/v1,
 *                                           else $OPENAI_BASE_URL)
 *   Authorization: Bearer {openai_api_key or $OPENAI_API_KEY}   (when set:
 *                                           local servers need none)
 *   {"model": embedding_model (default text-embedding-3-small),
 *    "input": ["text", ...],
 *    "dimensions": embedding_dimensions}   (only when that key is set)
 *   -> {"data": [{"index": i, "embedding": [...]}, ...], ...}
 *
 * The items are put in input order by "index" (each 0..n-1 once; a
 * server that sends no index at all is taken in the order sent). Batching,
 * retries and checks: http_common.c.
 */
#include <string.h>

#include "embed/http_embed.h"

static json_t *openai_body(const tv_http_emb *e, const char *const *texts, size_t n)
{
	json_t *in = json_array(), *b;
	for (size_t i = 0; in && i < n; i++)
		if (json_array_append_new(in, json_string(texts[i]))) {
			json_decref(in);
			return NULL;
		}
	b = json_pack("{s:s,s:o}", "model", e->model, "input", in);
	if (b && e->dims_setting &&
	    json_object_set_new(b, "dimensions", json_integer((json_int_t)e->dims_setting))) {
		json_decref(b);
		return NULL;
	}
	return b;
}

static int openai_vectors(json_t *root, size_t n, json_t **vecs, char *msg, size_t cap)
{
	const json_t *data = json_object_get(root, "data"), *it;
	size_t k;
	if (!json_is_array(data)) {
		snprintf(msg, cap, "no \"data\" list");
		return -1;
	}
	if (json_array_size(data) != n) {
		snprintf(msg, cap, "%zu embeddings for %zu texts", json_array_size(data), n);
		return -1;
	}
	json_array_foreach(data, k, it) {
		const json_t *ix = json_object_get(it, "index"), *v = json_object_get(it, "embedding");
		size_t i = k;
		if (ix) {
			if (!json_is_integer(ix) || json_integer_value(ix) < 0 ||
			    (size_t)json_integer_value(ix) >= n) {
				snprintf(msg, cap, "data[%zu].index is not an integer 0..%zu", k, n - 1);
				return -1;
			}
			i = (size_t)json_integer_value(ix);
		}
		if (vecs[i]) {
			snprintf(msg, cap, "data[%zu].index %zu appears twice", k, i);
			return -1;
		}
		if (json_is_string(v)) {
			snprintf(msg, cap, "data[%zu].embedding is a string (base64 is not supported)", k);
			return -1;
		}
		if (!json_is_array(v)) {
			snprintf(msg, cap, "data[%zu].embedding is not a list", k);
			return -1;
		}
		vecs[i] = (json_t *)v;
	}
	return 0;
}

static const tv_http_proto openai = {
	.name = "openai",
	.base_key = "openai_base_url",
	.base_env = "OPENAI_BASE_URL",
	.base_default = "https://api.openai.com/v1",
	.path = "/embeddings",
	.key_setting = "openai_api_key",
	.key_env = "OPENAI_API_KEY",
	.model_default = "text-embedding-3-small",
	.batch_default = 96,
	.body = openai_body,
	.vectors = openai_vectors,
};

int tv_embed_openai_new(tv_embedder **out, const json_t *settings, tv_err *err)
{
	return tv_http_emb_new(out, &openai, settings, err);
}

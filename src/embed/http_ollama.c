/*
 * The `ollama` embedder: Ollama's native batch endpoint.
 *
 *   POST {ollama_base_url}/api/embed     (default $OLLAMA_HOST, else
 *                                         http://127.0.0.1:11434; a bare
 *                                         host:port gets http://)
 *   {"model": embedding_model (default nomic-embed-text), "input": [...]}
 *   -> {"embeddings": [[...], ...], ...}  (in input order)
 *
 * embedding_dimensions is not sent (models have one size); when set, each
 * vector must have that length. Batching, retries and checks:
 * http_common.c.
 */
#include <stdio.h>

#include "embed/http_embed.h"

static json_t *ollama_body(const tv_http_emb *e, const char *const *texts, size_t n)
{
	json_t *in = json_array();
	for (size_t i = 0; in && i < n; i++)
		if (json_array_append_new(in, json_string(texts[i]))) {
			json_decref(in);
			return NULL;
		}
	return json_pack("{s:s,s:o}", "model", e->model, "input", in);
}

static int ollama_vectors(json_t *root, size_t n, json_t **vecs, char *msg, size_t cap)
{
	const json_t *all = json_object_get(root, "embeddings");
	if (!json_is_array(all)) {
		snprintf(msg, cap, "no \"embeddings\" list");
		return -1;
	}
	if (json_array_size(all) != n) {
		snprintf(msg, cap, "%zu embeddings for %zu texts", json_array_size(all), n);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		vecs[i] = json_array_get(all, i);
	return 0;
}

static const tv_http_proto ollama = {
	.name = "ollama",
	.base_key = "ollama_base_url",
	.base_env = "OLLAMA_HOST",
	.base_default = "http://127.0.0.1:11434",
	.path = "/api/embed",
	.model_default = "nomic-embed-text",
	.batch_default = 32,
	.body = ollama_body,
	.vectors = ollama_vectors,
};

int tv_embed_ollama_new(tv_embedder **out, const json_t *settings, tv_err *err)
{
	return tv_http_emb_new(out, &ollama, settings, err);
}

/* The embedder factory and the public wrappers. */
#include <math.h>
#include <string.h>

#include "config.h"
#include "embed/embed.h"

int tv_embed__dims(const json_t *settings, size_t def, size_t *out, tv_err *err)
{
	const json_t *d = json_object_get(settings, "embedding_dimensions");
	*out = def;
	if (!d || json_is_null(d))
		return 0;
	if (!json_is_integer(d) || json_integer_value(d) < 1 || json_integer_value(d) > 65536)
		return tv_err_set(err, TV_EINVAL,
		                  "settings.rag.embedding_dimensions: expected an integer 1..65536");
	*out = (size_t)json_integer_value(d);
	return 0;
}

int tv_embedder_open(tv_embedder **out, const char *settings)
{
	json_t *js = NULL;
	json_error_t je;
	const char *prov;
	int rc;
	*out = NULL;
	if (settings && *settings) {
		js = json_loads(settings, 0, &je);
		if (!js || !json_is_object(js)) {
			json_decref(js);
			return tv_err_set(NULL, TV_EINVAL, "embedder settings: expected a JSON object");
		}
	}
	prov = json_string_value(json_object_get(js, "embedding_provider"));
	if (!prov || !strcmp(prov, "hash"))
		rc = tv_embed_hash_new(out, js, NULL);
	else if (!strcmp(prov, "static"))
		rc = tv_embed_static_new(out, js, NULL);
#if TV_WITH_HTTP
	else if (!strcmp(prov, "openai"))
		rc = tv_embed_openai_new(out, js, NULL);
	else if (!strcmp(prov, "ollama"))
		rc = tv_embed_ollama_new(out, js, NULL);
#else
	else if (!strcmp(prov, "openai") || !strcmp(prov, "ollama"))
		rc = tv_err_set(NULL, TV_EUNSUPPORTED,
		                "settings.rag.embedding_provider '%s': this teavec was built without "
		                "HTTP support; rebuild with cmake -DTV_WITH_HTTP=ON (needs libcurl and "
		                "OpenSSL)",
		                prov);
#endif
	else
		rc = tv_err_set(NULL, TV_EINVAL,
		                "settings.rag.embedding_provider: unknown '%s' (expected hash, static, "
		                "openai or ollama)",
		                prov);
	json_decref(js);
	return rc;
}

void tv_embedder_free(tv_embedder *e)
{
	if (e)
		e->m->free(e);
}

json_t *tv_embedder__settings(const tv_embedder *e)
{
	json_t *s = json_pack("{s:s}", "embedding_provider", e->m->provider);
	if (s && e->model && json_object_set_new(s, "embedding_model", json_string(e->model)))
		goto fail;
	if (s && e->dims_given &&
	    json_object_set_new(s, "embedding_dimensions", json_integer((json_int_t)e->dims_given)))
		goto fail;
	return s;
fail:
	json_decref(s);
	return NULL;
}

size_t tv_embedder_dim(const tv_embedder *e) { return e->dim; }
const char *tv_embedder_id(const tv_embedder *e) { return e->id; }
const char *tv_embedder_errmsg(const tv_embedder *e) { return e->err.msg; }

int tv_embedder_embed(tv_embedder *e, const char *const *texts, size_t n, float *out)
{
	int rc;
	tv_err_clear(&e->err);
	for (size_t i = 0; i < n; i++)
		if (!texts[i])
			return tv_err_set(&e->err, TV_EINVAL, "texts[%zu]: missing", i);
	if ((rc = e->m->embed(e, texts, n, out)))
		return rc;
	for (size_t i = 0; i < n * e->dim; i++)
		if (!isfinite(out[i]))
			return tv_err_set(&e->err, TV_ECORRUPT, "%s embedder produced a non-finite value",
			                  e->m->provider);
	return 0;
}

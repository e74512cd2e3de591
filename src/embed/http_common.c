/*
 * The HTTP embedders' common part (see http_embed.h).
 *
 *  - Batching: a request carries at most embedding_batch_size texts
 *    (default per provider) and about MAX_BATCH_BYTES of text; a longer
 *    text goes alone. Texts are sent as valid UTF-8: a byte that is not
 *    becomes U+FFFD.
 *  - Retries: io/http.c retries a request that failed to connect or got
 *    429 or 5xx, TV_HTTP_RETRIES times (default 4) with exponential
 *    backoff and jitter; a Retry-After of a 429 or 503 is waited instead
 *    (at most RETRY_AFTER_MAX_S). Each attempt may take embedding_timeout
 *    seconds (default 120).
 *  - The response is hostile: it must be JSON with exactly one vector per
 *    text, every vector of the same length (the embedder's dimension),
 *    every value a number that is finite as a float. Anything else fails
 *    the whole call, naming the URL and what was wrong; an HTTP error
 *    names the URL, the status and the server's own message.
 *  - The dimension: with embedding_dimensions it is known (and checked
 *    against each response); without it, opening the embedder sends one
 *    probe request of one short text and takes the length of the vector
 *    that comes back, because callers size their buffers from
 *    tv_embedder_dim before the first embedding.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "embed/http_embed.h"
#include "util/common.h"

#define MAX_BATCH_BYTES (256u << 10)
#define TIMEOUT_DEFAULT_S 120
#define RETRY_AFTER_MAX_S 60
#define PROBE_TEXT "dimension probe"

/* ---- settings ---------------------------------------------------------- */

/* A string setting: the key, else the environment variable, else def;
 * TV_EINVAL naming the key when it is there but not a string. */
static int str_setting(const json_t *settings, const char *key, const char *env,
                       const char *def, const char **out, tv_err *err)
{
	const json_t *v = key ? json_object_get(settings, key) : NULL;
	const char *e = env ? getenv(env) : NULL;
	if (v && !json_is_null(v)) {
		if (!json_is_string(v))
			return tv_err_set(err, TV_EINVAL, "settings.rag.%s: expected a string", key);
		*out = json_string_value(v);
	} else {
		*out = e && *e ? e : def;
	}
	return 0;
}

static int int_setting(const json_t *settings, const char *key, long lo, long hi, long def,
                       long *out, tv_err *err)
{
	const json_t *v = json_object_get(settings, key);
	*out = def;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return tv_err_set(err, TV_EINVAL, "settings.rag.%s: expected an integer %ld..%ld", key, lo,
		                  hi);
	*out = (long)json_integer_value(v);
	return 0;
}

/* base + path, with "http://" added to a bare host:port (as OLLAMA_HOST
 * may be) and trailing slashes of base dropped. */
static int make_url(tv_http_emb *e, const char *base, const json_t *settings, tv_err *err)
{
	char from[120];
	size_t bl = strlen(base);
	const char *scheme = strstr(base, "://") ? "" : "http://";
	if (json_object_get(settings, e->p->base_key))
		snprintf(from, sizeof from, "settings.rag.%s", e->p->base_key);
	else
		snprintf(from, sizeof from, "$%s (settings.rag.%s)", e->p->base_env, e->p->base_key);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	if (*scheme == 0 && strncmp(base, "http://", 7) && strncmp(base, "https://", 8))
		return tv_err_set(err, TV_EINVAL, "%s: '%s' is not an http(s) URL", from, base);
	if (bl == 0 || strpbrk(base, " \t\r\n"))
		return tv_err_set(err, TV_EINVAL, "%s: '%s' is not a URL", from, base);
	if (!(e->url = tv_sprintf("%s%.*s%s", scheme, (int)bl, base, e->p->path)))
		return TV_ENOMEM_SET(err, "a URL");
	return 0;
}

/* ---- one request --------------------------------------------------------- */

/* Copies s with each byte that is not part of valid UTF-8 replaced by
 * U+FFFD (JSON strings must be UTF-8). */
static char *utf8_fix(const char *s)
{
	tv_buf b = {0};
	size_t n = strlen(s), bad;
	while (!tv_utf8_valid(s, n, &bad)) {
		if (tv_buf_append(&b, s, bad) || tv_buf_append(&b, "\xEF\xBF\xBD", 3))
			goto fail;
		s += bad + 1;
		n -= bad + 1;
	}
	if (tv_buf_append(&b, s, n + 1))
		goto fail;
	return b.data;
fail:
	tv_buf_free(&b);
	return NULL;
}

/* Copies the service's words into a message: at most max bytes, control
 * characters as spaces. */
static void quote(char *dst, size_t cap, const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 4 < cap; i++)
		dst[k++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
	if (n > 0 && k + 4 >= cap)
		memcpy(dst + k, "...", 3), k += 3;
	dst[k] = 0;
}

/* The message of an error response: error.message (OpenAI), error (a
 * string: Ollama), message, or the start of the body. */
static void server_message(const tv_http_resp *resp, char *msg, size_t cap)
{
	json_t *root = resp->body.len ? json_loadb(resp->body.data, resp->body.len, 0, NULL) : NULL;
	const json_t *er = json_object_get(root, "error");
	const char *s = json_string_value(er);
	if (!s)
		s = json_string_value(json_object_get(er, "message"));
	if (!s)
		s = json_string_value(json_object_get(root, "message"));
	if (s)
		quote(msg, cap, s, strlen(s));
	else if (resp->body.len)
		quote(msg, cap, resp->body.data, resp->body.len);
	else
		snprintf(msg, cap, "(empty body)");
	json_decref(root);
}

static int http_error(tv_http_emb *e, const tv_http_resp *resp)
{
	long st = resp->status;
	int code = st == 401 || st == 403 ? TV_EPERM : st == 404 ? TV_ENOTFOUND : TV_EIO;
	char msg[400];
	server_message(resp, msg, sizeof msg);
	return tv_err_set(&e->base.err, code, "%s embedder: POST %s: HTTP %ld: %s (%d attempt%s)%s",
	                  e->p->name, e->url, st, msg, resp->attempts, resp->attempts == 1 ? "" : "s",
	                  code == TV_EPERM ? (e->p->key_env ? "; check the API key (settings.rag."
	                                                      "openai_api_key or $OPENAI_API_KEY)"
	                                                    : "")
	                                   : "");
}

/* Checks the n vectors of one response (texts first..first+n) and copies
 * them to out (NULL: only learn the dimension). */
static int take_vectors(tv_http_emb *e, json_t **vecs, size_t n, size_t first, float *out)
{
	size_t dim = e->base.dim ? e->base.dim : json_array_size(vecs[0]);
	if (dim == 0 || dim > 65536)
		return tv_err_set(&e->base.err, TV_EIO,
		                  "%s embedder: POST %s: the embedding of texts[%zu] has %zu values "
		                  "(expected 1..65536)",
		                  e->p->name, e->url, first, dim);
	for (size_t i = 0; i < n; i++) {
		const json_t *v = vecs[i];
		if (!json_is_array(v) || json_array_size(v) != dim)
			return tv_err_set(&e->base.err, TV_EIO,
			                  "%s embedder: POST %s: the embedding of texts[%zu] has %zu values, "
			                  "expected %zu%s",
			                  e->p->name, e->url, first + i, json_array_size(v), dim,
			                  e->dims_setting ? " (settings.rag.embedding_dimensions)" : "");
		for (size_t j = 0; j < dim; j++) {
			const json_t *x = json_array_get(v, j);
			float f = (float)json_number_value(x);
			if (!json_is_number(x) || !isfinite(f))
				return tv_err_set(&e->base.err, TV_EIO,
				                  "%s embedder: POST %s: the embedding of texts[%zu] has a "
				                  "value [%zu] that is not a finite number",
				                  e->p->name, e->url, first + i, j);
			if (out)
				out[i * dim + j] = f;
		}
	}
	e->base.dim = dim;
	return 0;
}

/* Embeds texts[0..n) (texts first.. of the caller's call) in one request. */
static int request(tv_http_emb *e, const char *const *texts, size_t n, size_t first, float *out)
{
	const char *hdrs[4] = {"Content-Type: application/json", "Accept: application/json", NULL,
	                       NULL};
	tv_http_req req = {0};
	tv_http_resp resp = {0};
	json_t *body = e->p->body(e, texts, n), *root = NULL, **vecs = NULL;
	json_error_t je;
	char *js = body ? json_dumps(body, JSON_COMPACT) : NULL, msg[300];
	int rc;
	json_decref(body);
	if (!js || !(vecs = calloc(n, sizeof *vecs))) {
		rc = TV_ENOMEM_SET(&e->base.err, "an embedding request");
		goto done;
	}
	hdrs[2] = e->auth;
	req.method = "POST";
	req.url = e->url;
	req.headers = hdrs;
	req.body = js;
	req.body_len = strlen(js);
	req.timeout_s = e->timeout_s;
	req.retry_after_max_s = RETRY_AFTER_MAX_S;
	if ((rc = tv_http_do(e->http, &req, &resp, &e->base.err))) {
		tv_err_prefix(&e->base.err, rc, "%s embedder", e->p->name);
		goto done;
	}
	if (resp.status < 200 || resp.status > 299) {
		rc = http_error(e, &resp);
		goto done;
	}
	if (!(root = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, &je))) {
		rc = tv_err_set(&e->base.err, TV_EIO,
		                "%s embedder: POST %s: HTTP %ld but the response is not JSON (%s at "
		                "byte %d)",
		                e->p->name, e->url, resp.status, je.text, je.position);
		goto done;
	}
	if (e->p->vectors(root, n, vecs, msg, sizeof msg)) {
		rc = tv_err_set(&e->base.err, TV_EIO, "%s embedder: POST %s: unexpected response: %s",
		                e->p->name, e->url, msg);
		goto done;
	}
	rc = take_vectors(e, vecs, n, first, out);
done:
	json_decref(root);
	tv_http_resp_free(&resp);
	free(vecs);
	free(js);
	return rc;
}

/* ---- the embedder ------------------------------------------------------- */

/* Long because it only walks the batches: each ends at batch texts or
 * MAX_BATCH_BYTES, whichever comes first. */
static int http_embed(tv_embedder *base, const char *const *texts, size_t n, float *out)
{
	tv_http_emb *e = (tv_http_emb *)base;
	char **fixed = calloc(n ? n : 1, sizeof *fixed);
	size_t i = 0;
	int rc = 0;
	if (!fixed)
		return TV_ENOMEM_SET(&base->err, "embedding texts");
	for (size_t k = 0; k < n; k++)
		if (!(fixed[k] = utf8_fix(texts[k]))) {
			rc = TV_ENOMEM_SET(&base->err, "embedding texts");
			goto done;
		}
	while (i < n && !rc) {
		size_t j = i, bytes = 0;
		while (j < n && j - i < e->batch &&
		       (j == i || bytes + strlen(fixed[j]) <= e->max_bytes))
			bytes += strlen(fixed[j++]);
		rc = request(e, (const char *const *)fixed + i, j - i, i, out + i * base->dim);
		i = j;
	}
done:
	for (size_t k = 0; k < n; k++)
		free(fixed[k]);
	free(fixed);
	return rc;
}

static void http_free(tv_embedder *base)
{
	tv_http_emb *e = (tv_http_emb *)base;
	tv_http_free(e->http);
	free(e->url);
	free(e->model);
	free(e->auth);
	free(e->base.model);
	free(e);
}

/* Reads the settings into e. */
static int configure(tv_http_emb *e, const json_t *settings, tv_err *err)
{
	const tv_http_proto *p = e->p;
	const char *base = NULL, *model = NULL, *key = NULL;
	long batch, timeout;
	int rc;
	if ((rc = str_setting(settings, p->base_key, p->base_env, p->base_default, &base, err)) ||
	    (rc = str_setting(settings, "embedding_model", NULL, p->model_default, &model, err)) ||
	    (p->key_setting &&
	     (rc = str_setting(settings, p->key_setting, p->key_env, NULL, &key, err))) ||
	    (rc = tv_embed__dims(settings, 0, &e->dims_setting, err)) ||
	    (rc = int_setting(settings, "embedding_batch_size", 1, 2048, (long)p->batch_default,
	                      &batch, err)) ||
	    (rc = int_setting(settings, "embedding_timeout", 1, 3600, TIMEOUT_DEFAULT_S, &timeout,
	                      err)) ||
	    (rc = make_url(e, base, settings, err)))
		return rc;
	if (!*model)
		return tv_err_set(err, TV_EINVAL, "settings.rag.embedding_model: empty");
	if (key && strpbrk(key, "\r\n"))
		return tv_err_set(err, TV_EINVAL, "settings.rag.%s: a line break in the API key",
		                  p->key_setting);
	e->batch = (size_t)batch;
	e->timeout_s = timeout;
	e->max_bytes = MAX_BATCH_BYTES;
	if (!(e->model = tv_strdup(model)) ||
	    (key && *key && !(e->auth = tv_sprintf("Authorization: Bearer %s", key))))
		return TV_ENOMEM_SET(err, "embedder settings");
	return 0;
}

int tv_http_emb_new(tv_embedder **out, const tv_http_proto *p, const json_t *settings,
                    tv_err *err)
{
	tv_http_emb *e;
	int rc;
	*out = NULL;
	if (!(e = calloc(1, sizeof *e)))
		return TV_ENOMEM_SET(err, "an embedder");
	e->m.provider = p->name;
	e->m.embed = http_embed;
	e->m.free = http_free;
	e->base.m = &e->m;
	e->p = p;
	if ((rc = configure(e, settings, err)) || (rc = tv_http_new(&e->http, err)))
		goto fail;
	e->base.dim = e->dims_setting;
	if (!e->base.dim) {
		/* the probe: callers need the dimension before the first call */
		const char *probe = PROBE_TEXT;
		if ((rc = request(e, &probe, 1, 0, NULL))) {
			if (err)
				tv_err_copy(err, &e->base.err);
			goto fail;
		}
	}
	snprintf(e->base.id, sizeof e->base.id, "%s:v1:%s:%zu", p->name, e->model, e->base.dim);
	e->base.dims_given = e->dims_setting;
	if (!(e->base.model = tv_strdup(e->model))) {
		rc = TV_ENOMEM_SET(err, "an embedder");
		goto fail;
	}
	*out = &e->base;
	return 0;
fail:
	http_free(&e->base);
	return rc;
}

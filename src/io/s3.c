/*
 * The S3 backend: s3://bucket/prefix, over HTTP with libcurl.
 *
 * Settings come from the environment, as for the AWS tools:
 *   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   required
 *   AWS_SESSION_TOKEN                          optional (x-amz-security-token)
 *   AWS_REGION, else AWS_DEFAULT_REGION        default us-east-1
 *   AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL an S3-compatible service
 *                                              (http://127.0.0.1:9000):
 *                                              path-style URLs; without
 *                                              one, virtual-hosted URLs on
 *                                              s3.REGION.amazonaws.com
 *   TV_S3_CONDITIONAL_PUT                      1 (default) or 0, see below
 *   TV_S3_LIST_PAGE                            keys a listing page asks for
 *                                              (1 to 1000; for tests)
 *
 * Requests are signed with AWS Signature Version 4 by libcurl
 * (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3"). Bodies are hashed with SHA-256
 * into x-amz-content-sha256, which curl then signs. Because curl 7.88
 * signs the path and query as they are written, both are written already
 * in canonical form here: keys percent-encoded per segment, query
 * parameters sorted and encoded.
 *
 * Operations:
 *   open_read/read_at  GET with Range (io/http.c reads in windows)
 *   put, commit_write  PUT of the whole object (writes are buffered in
 *                      memory: table files are small enough)
 *   PUT_IF_ABSENT      PUT with If-None-Match: *; 412 (or 409, a
 *                      concurrent conditional write) is TV_EEXISTS.
 *                      S3 has honoured this since August 2024. Some
 *                      emulators do not (s3rver 4.0.4 ignores the header
 *                      and overwrites): with TV_S3_CONDITIONAL_PUT=0 the
 *                      backend does HEAD then PUT instead, which is NOT
 *                      atomic, and then does not claim
 *                      TV_IO_CAP_PUT_IF_ABSENT.
 *   list               ListObjectsV2, prefix + delimiter '/', following
 *                      continuation tokens
 *   stat               HEAD (a key that is only a prefix of others is a
 *                      directory)
 *   remove             DELETE (a missing key is fine)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "io/http.h"
#include "io/io.h"
#include "util/common.h"

#define AUTH_HINT "(check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION)"
#define MAX_LIST_PAGES 100000

typedef struct s3_io {
	tv_io base;
	char *uri;      /* as given, for messages */
	char *bucket;
	char *prefix;   /* "" or "dir/sub/" */
	char *base_url; /* objects are base_url + "/" + key */
	char *region, *key, *secret, *token;
	char *sigv4;    /* "aws:amz:REGION:s3" */
	int cond_put;   /* the endpoint honours If-None-Match: * on PUT */
	int page;       /* max-keys of a listing page (TV_S3_LIST_PAGE), 0 = default */
	tv_http *http;
} s3_io;

typedef struct s3_w {
	tv_wfile base;
	tv_buf data;
} s3_w;

static const tv_io_methods s3_methods, s3_methods_nocond;

/* ---- requests --------------------------------------------------------- */

static char *object_url(const s3_io *io, const char *path)
{
	tv_buf b = {0};
	if (tv_buf_printf(&b, "%s/", io->base_url) || tv_http_urlencode(&b, io->prefix, 1) ||
	    tv_http_urlencode(&b, path, 1)) {
		tv_buf_free(&b);
		return NULL;
	}
	return b.data;
}

static void sha256_hex(const void *data, size_t n, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_Digest(data, n, md, &len, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = 0;
}

/* Sends one request; extra is a NULL-terminated header list or NULL. */
static int s3_request(s3_io *io, const char *method, const char *url, const char *const *extra,
                      const void *body, size_t len, size_t max_body, tv_http_resp *resp,
                      tv_err *err)
{
	const char *hdrs[12];
	char sha[65 + 22], tok[2048];
	size_t k = 0;
	tv_http_req req = {0};
	sha256_hex(body ? body : "", body ? len : 0, sha + 22);
	memcpy(sha, "x-amz-content-sha256: ", 22);
	hdrs[k++] = sha;
	if (io->token) {
		if ((size_t)snprintf(tok, sizeof tok, "x-amz-security-token: %s", io->token) >= sizeof tok)
			return tv_err_set(err, TV_EINVAL, "AWS_SESSION_TOKEN is too long");
		hdrs[k++] = tok;
	}
	if (body)
		hdrs[k++] = "Content-Type: application/octet-stream";
	for (size_t i = 0; extra && extra[i] && k < TV_ARRAY_LEN(hdrs) - 1; i++)
		hdrs[k++] = extra[i];
	hdrs[k] = NULL;
	req.method = method;
	req.url = url;
	req.headers = hdrs;
	req.body = body;
	req.body_len = len;
	req.max_body = max_body;
	req.aws_sigv4 = io->sigv4;
	req.aws_key = io->key;
	req.aws_secret = io->secret;
	return tv_http_do(io->http, &req, resp, err);
}

/* ---- reading ---------------------------------------------------------- */

static int s3_get_range(void *ctx, const char *url, uint64_t off, size_t n, tv_http_resp *resp,
                        tv_err *err)
{
	char range[64];
	const char *extra[] = {range, NULL};
	snprintf(range, sizeof range, "Range: bytes=%llu-%llu", (unsigned long long)off,
	         (unsigned long long)(off + n - 1));
	return s3_request(ctx, "GET", url, extra, NULL, 0, n, resp, err);
}

/* HEAD url: *size and *mtime_ns; TV_ENOTFOUND for a missing key. */
static int s3_head(s3_io *io, const char *url, uint64_t *size, int64_t *mtime_ns, tv_err *err)
{
	tv_http_resp resp;
	char *cl = NULL, *lm = NULL;
	int rc = s3_request(io, "HEAD", url, NULL, NULL, 0, 0, &resp, err);
	if (rc)
		return rc;
	if (resp.status != 200) {
		rc = tv_http_fail(&resp, "HEAD", url, AUTH_HINT, err);
	} else if (!(cl = tv_http_header(&resp, "Content-Length")) ||
	           tv_http_parse_u64(cl, strlen(cl), size)) {
		rc = tv_err_set(err, TV_ECORRUPT, "HEAD %s: no valid Content-Length", url);
	} else if (mtime_ns) {
		lm = tv_http_header(&resp, "Last-Modified");
		if (!lm || tv_http_parse_time(lm, strlen(lm), mtime_ns))
			*mtime_ns = 0;
	}
	free(cl);
	free(lm);
	tv_http_resp_free(&resp);
	return rc;
}

static int s3_size(void *ctx, const char *url, uint64_t *size, tv_err *err)
{
	return s3_head(ctx, url, size, NULL, err);
}

static int s3_open_read(tv_io *io_, const char *path, tv_rfile **out, tv_err *err)
{
	s3_io *io = (s3_io *)io_;
	tv_http_getter g = {s3_get_range, s3_size, io, AUTH_HINT};
	char *url = object_url(io, path);
	int rc;
	if (!url)
		return TV_ENOMEM_SET(err, path);
	rc = tv_http_rfile_open(&g, io->base.m, url, out, err);
	free(url);
	return rc;
}

/* ---- writing ---------------------------------------------------------- */

/* The MD5 of data in hex, as S3 reports it in the ETag of a simple PUT. */
static void md5_hex(const void *data, size_t n, char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_Digest(data, n, md, &len, EVP_md5(), NULL);
	for (unsigned i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[32] = 0;
}

/* After a retried conditional PUT answered 412: was it our own first
 * attempt that succeeded (the response lost on the way)? Yes when the
 * object there has our bytes (ETag = MD5 of the body). */
static int ours_already(s3_io *io, const char *url, const void *data, size_t n)
{
	tv_http_resp resp;
	char md5[33], *etag = NULL;
	int same = 0;
	if (s3_request(io, "HEAD", url, NULL, NULL, 0, 0, &resp, NULL))
		return 0;
	md5_hex(data, n, md5);
	if (resp.status == 200 && (etag = tv_http_header(&resp, "ETag")))
		same = strlen(etag) == 34 && etag[0] == '"' && !strncmp(etag + 1, md5, 32);
	free(etag);
	tv_http_resp_free(&resp);
	return same;
}

static int s3_put(tv_io *io_, const char *path, const void *data, size_t n, int flags,
                  tv_err *err)
{
	s3_io *io = (s3_io *)io_;
	const char *cond[] = {"If-None-Match: *", NULL};
	int excl = (flags & TV_IO_PUT_IF_ABSENT) != 0;
	tv_http_resp resp;
	char *url = object_url(io, path);
	int rc;
	if (!url)
		return TV_ENOMEM_SET(err, path);
	if (excl && !io->cond_put) {
		/* the endpoint lacks conditional writes: check, then write (racy) */
		uint64_t size;
		rc = s3_head(io, url, &size, NULL, err);
		if (rc == 0)
			rc = tv_err_set(err, TV_EEXISTS, "%s already exists", url);
		if (rc != TV_ENOTFOUND)
			goto done;
	}
	rc = s3_request(io, "PUT", url, excl && io->cond_put ? cond : NULL, data ? data : "", n, 0,
	                &resp, err);
	if (rc)
		goto done;
	if (resp.status == 200 || resp.status == 201 || resp.status == 204)
		rc = 0;
	else if (excl && (resp.status == 412 || resp.status == 409) &&
	         !(resp.attempts > 1 && ours_already(io, url, data ? data : "", n)))
		rc = tv_err_set(err, TV_EEXISTS, "%s already exists (HTTP %ld)", url, resp.status);
	else if (excl && (resp.status == 412 || resp.status == 409))
		rc = 0;
	else
		rc = tv_http_fail(&resp, "PUT", url, AUTH_HINT, err);
	tv_http_resp_free(&resp);
done:
	free(url);
	return rc;
}

static int s3_open_write(tv_io *io, const char *path, tv_wfile **out, tv_err *err)
{
	s3_w *w = calloc(1, sizeof *w);
	*out = NULL;
	if (!w || !(w->base.path = tv_strdup(path))) {
		free(w);
		return TV_ENOMEM_SET(err, path);
	}
	w->base.m = io->m;
	w->base.io = io;
	*out = &w->base;
	return 0;
}

static int s3_write(tv_wfile *wf, const void *data, size_t n, tv_err *err)
{
	s3_w *w = (s3_w *)wf;
	return tv_buf_append(&w->data, data, n) ? TV_ENOMEM_SET(err, wf->path) : 0;
}

static void s3_abort(tv_wfile *wf)
{
	s3_w *w = (s3_w *)wf;
	tv_buf_free(&w->data);
	free(w->base.path);
	free(w);
}

static int s3_commit(tv_wfile *wf, int flags, tv_err *err)
{
	s3_w *w = (s3_w *)wf;
	int rc = s3_put(wf->io, wf->path, w->data.data, w->data.len, flags, err);
	s3_abort(wf);
	return rc;
}

/* ---- listing ---------------------------------------------------------- */

/* Adds the <Contents> and <CommonPrefixes> of one ListObjectsV2 page. */
static int parse_page(const char *xml, size_t n, const char *p, tv_http_entries *e, const char *url,
                      tv_err *err)
{
	const char *v, *name = NULL;
	size_t vl, end, off, len = 0;
	for (int dirs = 0; dirs < 2; dirs++) {
		const char *tag = dirs ? "CommonPrefixes" : "Contents";
		for (off = 0; tv_xml_find(xml + off, n - off, tag, &v, &vl, &end); off += end) {
			char *key = tv_xml_get(v, vl, dirs ? "Prefix" : "Key");
			char *sz = dirs ? NULL : tv_xml_get(v, vl, "Size");
			char *lm = dirs ? NULL : tv_xml_get(v, vl, "LastModified");
			uint64_t size = 0;
			int64_t mtime = 0;
			int rc = 0;
			if (!key || (!dirs && (!sz || tv_http_parse_u64(sz, strlen(sz), &size))) ||
			    tv_http_child_name(key, p, dirs, &name, &len))
				rc = tv_err_set(err, TV_ECORRUPT, "GET %s: malformed %s in the listing", url,
				                tag);
			else if (lm && tv_http_parse_time(lm, strlen(lm), &mtime))
				mtime = 0;
			if (!rc && name && tv_http_entries_add(e, name, len, size, mtime, dirs))
				rc = TV_ENOMEM_SET(err, url);
			free(key);
			free(sz);
			free(lm);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* The ListObjectsV2 URL; parameters in canonical (sorted, encoded) order. */
static char *list_url(const s3_io *io, const char *p, const char *token, int max_keys)
{
	tv_buf b = {0};
	/* path-style "http://host/bucket?..." or virtual-hosted "https://host/?..." */
	int bad = tv_buf_printf(&b, "%s%s?", io->base_url,
	                        strchr(strstr(io->base_url, "://") + 3, '/') ? "" : "/");
	if (token)
		bad = bad || tv_buf_printf(&b, "continuation-token=") ||
		      tv_http_urlencode(&b, token, 0) || tv_buf_printf(&b, "&");
	bad = bad || tv_buf_printf(&b, "delimiter=%%2F&list-type=2");
	if (max_keys)
		bad = bad || tv_buf_printf(&b, "&max-keys=%d", max_keys);
	bad = bad || tv_buf_printf(&b, "&prefix=") || tv_http_urlencode(&b, p, 0);
	if (bad) {
		tv_buf_free(&b);
		return NULL;
	}
	return b.data;
}

/* Lists the keys and common prefixes directly under p ("" or ending in
 * '/'); with max_keys, one page of at most that many. */
static int list_prefix(s3_io *io, const char *p, int max_keys, tv_http_entries *e, tv_err *err)
{
	char *token = NULL;
	int rc = 0;
	for (int page = 0; !rc; page++) {
		char *url = list_url(io, p, token, max_keys ? max_keys : io->page);
		char *trunc = NULL, *next = NULL;
		tv_http_resp resp;
		if (!url) {
			rc = TV_ENOMEM_SET(err, io->uri);
			break;
		}
		if (page >= MAX_LIST_PAGES)
			rc = tv_err_set(err, TV_EIO, "GET %s: more than %d pages", url, MAX_LIST_PAGES);
		else if (!(rc = s3_request(io, "GET", url, NULL, NULL, 0, 0, &resp, err))) {
			if (resp.status != 200)
				rc = tv_http_fail(&resp, "GET", url, AUTH_HINT, err);
			else if (!(rc = parse_page(resp.body.data, resp.body.len, p, e, url, err))) {
				trunc = tv_xml_get(resp.body.data, resp.body.len, "IsTruncated");
				next = tv_xml_get(resp.body.data, resp.body.len, "NextContinuationToken");
			}
			tv_http_resp_free(&resp);
		}
		if (!rc && !max_keys && trunc && !strcmp(trunc, "true")) {
			if (!next || !*next || (token && !strcmp(next, token)))
				rc = tv_err_set(err, TV_ECORRUPT,
				                "GET %s: a truncated listing without a new continuation token",
				                url);
			free(token);
			token = next;
			next = NULL;
		} else {
			free(url);
			free(trunc);
			free(next);
			break;
		}
		free(url);
		free(trunc);
	}
	free(token);
	return rc;
}

static char *dir_prefix(const s3_io *io, const char *dir)
{
	return *dir ? tv_sprintf("%s%s/", io->prefix, dir) : tv_strdup(io->prefix);
}

static int s3_list(tv_io *io_, const char *dir, tv_io_entry **out, size_t *n, tv_err *err)
{
	s3_io *io = (s3_io *)io_;
	tv_http_entries e = {0};
	char *p = dir_prefix(io, dir);
	int rc;
	*out = NULL;
	*n = 0;
	if (!p)
		return TV_ENOMEM_SET(err, dir);
	rc = list_prefix(io, p, 0, &e, err);
	free(p);
	if (rc) {
		tv_io_entries_free(e.v, e.n);
		return rc;
	}
	tv_io__entries_unique(e.v, &e.n);
	*out = e.v;
	*n = e.n;
	return 0;
}

static int s3_stat(tv_io *io_, const char *path, tv_io_entry *out, tv_err *err)
{
	s3_io *io = (s3_io *)io_;
	char *url = object_url(io, path), *p;
	tv_http_entries e = {0};
	int rc;
	memset(out, 0, sizeof *out);
	if (!url)
		return TV_ENOMEM_SET(err, path);
	rc = s3_head(io, url, &out->size, &out->mtime_ns, err);
	if (rc == TV_ENOTFOUND && (p = dir_prefix(io, path))) {
		/* no such key: a directory if some key starts with "path/" */
		tv_err probe;
		if (!list_prefix(io, p, 1, &e, &probe) && e.n > 0) {
			out->is_dir = 1;
			rc = 0;
		}
		tv_io_entries_free(e.v, e.n);
		free(p);
	}
	free(url);
	return rc;
}

static int s3_remove(tv_io *io_, const char *path, tv_err *err)
{
	s3_io *io = (s3_io *)io_;
	tv_http_resp resp;
	char *url = object_url(io, path);
	int rc;
	if (!url)
		return TV_ENOMEM_SET(err, path);
	if (!(rc = s3_request(io, "DELETE", url, NULL, NULL, 0, 0, &resp, err))) {
		if (resp.status != 200 && resp.status != 204 && resp.status != 404)
			rc = tv_http_fail(&resp, "DELETE", url, AUTH_HINT, err);
		tv_http_resp_free(&resp);
	}
	free(url);
	return rc;
}

static void s3_free(tv_io *io_)
{
	s3_io *io = (s3_io *)io_;
	tv_http_free(io->http);
	free(io->uri);
	free(io->bucket);
	free(io->prefix);
	free(io->base_url);
	free(io->region);
	free(io->key);
	free(io->secret);
	free(io->token);
	free(io->sigv4);
	free(io);
}

static void s3_close_read(tv_rfile *f) { tv_http_rfile_close(f); }

static const tv_io_methods s3_methods = {
	"s3", TV_IO_CAP_PUT_IF_ABSENT,
	s3_open_read, tv_http_rfile_read, s3_close_read, s3_put, s3_open_write, s3_write,
	s3_commit, s3_abort, s3_list, s3_stat, s3_remove, s3_free,
};

/* The same without the claim of atomic put-if-absent (TV_S3_CONDITIONAL_PUT=0). */
static const tv_io_methods s3_methods_nocond = {
	"s3", 0,
	s3_open_read, tv_http_rfile_read, s3_close_read, s3_put, s3_open_write, s3_write,
	s3_commit, s3_abort, s3_list, s3_stat, s3_remove, s3_free,
};

/* ---- opening ---------------------------------------------------------- */

static const char *env(const char *a, const char *b)
{
	const char *v = getenv(a);
	if ((!v || !*v) && b)
		v = getenv(b);
	return v && *v ? v : NULL;
}

/* Checks an endpoint URL: http(s)://host[:port][/path], no query. */
static int endpoint_ok(const char *ep)
{
	return (!strncmp(ep, "http://", 7) || !strncmp(ep, "https://", 8)) && !strpbrk(ep, "?# ") &&
	       strlen(ep) > 8;
}

int tv_io_s3_open(tv_io **out, const char *uri, tv_err *err)
{
	s3_io *io;
	const char *key = env("AWS_ACCESS_KEY_ID", NULL), *secret = env("AWS_SECRET_ACCESS_KEY", NULL);
	const char *region = env("AWS_REGION", "AWS_DEFAULT_REGION");
	const char *ep = env("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
	const char *cond = env("TV_S3_CONDITIONAL_PUT", NULL);
	int rc;
	*out = NULL;
	if (!key || !secret)
		return tv_err_set(err, TV_EINVAL, "%s: %s is not set", uri,
		                  key ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	if (ep && !endpoint_ok(ep))
		return tv_err_set(err, TV_EINVAL, "%s: AWS_ENDPOINT_URL '%s' is not an http:// or "
		                  "https:// URL", uri, ep);
	if (cond && strcmp(cond, "0") && strcmp(cond, "1"))
		return tv_err_set(err, TV_EINVAL, "TV_S3_CONDITIONAL_PUT must be 0 or 1, not '%s'", cond);
	if (!region)
		region = "us-east-1";
	for (const char *c = region; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
			return tv_err_set(err, TV_EINVAL, "AWS_REGION '%s' is not a region name", region);
	if (!(io = calloc(1, sizeof *io)))
		return TV_ENOMEM_SET(err, uri);
	io->base.m = cond && !strcmp(cond, "0") ? &s3_methods_nocond : &s3_methods;
	if (env("TV_S3_LIST_PAGE", NULL)) {
		uint64_t pg;
		const char *ps = env("TV_S3_LIST_PAGE", NULL);
		if (tv_http_parse_u64(ps, strlen(ps), &pg) || pg < 1 || pg > 1000) {
			free(io);
			return tv_err_set(err, TV_EINVAL, "TV_S3_LIST_PAGE must be 1 to 1000, not '%s'", ps);
		}
		io->page = (int)pg;
	}
	io->cond_put = io->base.m == &s3_methods;
	if ((rc = tv_io__split_uri(uri, "s3://", &io->bucket, &io->prefix, err)))
		goto fail;
	if (ep) {
		size_t el = strlen(ep);
		while (el > 0 && ep[el - 1] == '/')
			el--;
		io->base_url = tv_sprintf("%.*s/%s", (int)el, ep, io->bucket);
	} else if (strchr(io->bucket, '.')) {
		/* dotted names do not match the TLS certificate as a host name */
		io->base_url = tv_sprintf("https://s3.%s.amazonaws.com/%s", region, io->bucket);
	} else {
		io->base_url = tv_sprintf("https://%s.s3.%s.amazonaws.com", io->bucket, region);
	}
	io->uri = tv_strdup(uri);
	io->region = tv_strdup(region);
	io->key = tv_strdup(key);
	io->secret = tv_strdup(secret);
	io->token = env("AWS_SESSION_TOKEN", NULL) ? tv_strdup(env("AWS_SESSION_TOKEN", NULL)) : NULL;
	io->sigv4 = tv_sprintf("aws:amz:%s:s3", region);
	if (!io->base_url || !io->uri || !io->region || !io->key || !io->secret || !io->sigv4) {
		rc = TV_ENOMEM_SET(err, uri);
		goto fail;
	}
	if ((rc = tv_http_new(&io->http, err)))
		goto fail;
	io->base.root = io->uri;
	*out = &io->base;
	return 0;
fail:
	s3_free(&io->base);
	return rc;
}

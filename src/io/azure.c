/*
 * The Azure Blob Storage backend: az://container/prefix, over HTTP with
 * libcurl, authorised with Shared Key (HMAC-SHA256 with OpenSSL).
 *
 * Settings come from the environment:
 *   AZURE_STORAGE_ACCOUNT (or AZURE_STORAGE_ACCOUNT_NAME)  required
 *   AZURE_STORAGE_KEY (or AZURE_STORAGE_ACCOUNT_KEY)       required, base64
 *   AZURE_STORAGE_ENDPOINT   the account's blob endpoint, e.g. azurite's
 *                            http://127.0.0.1:10000/devstoreaccount1;
 *                            default https://ACCOUNT.blob.core.windows.net
 *
 * Every request carries x-ms-date and x-ms-version (2021-08-06) and is
 * signed as the Shared Key documentation says:
 *
 *   VERB \n Content-Encoding \n Content-Language \n Content-Length (empty
 *   for 0) \n Content-MD5 \n Content-Type \n Date \n If-Modified-Since \n
 *   If-Match \n If-None-Match \n If-Unmodified-Since \n Range \n
 *   CanonicalizedHeaders (x-ms-*, lower-case, sorted, "name:value\n")
 *   CanonicalizedResource ("/" ACCOUNT PATH, then "\nname:value" for each
 *   query parameter, names lower-case and sorted, values decoded)
 *
 * PATH is the path of the URL as sent, so with an emulator's path-style
 * endpoint the account appears twice ("/devstoreaccount1/devstoreaccount1/
 * container/blob"), as the emulator expects.
 *
 * Operations: Get Blob with x-ms-range (read in windows by io/http.c), Put
 * Blob (BlockBlob; with If-None-Match: * for TV_IO_PUT_IF_ABSENT, where
 * 409 or 412 is TV_EEXISTS), List Blobs with prefix, delimiter '/' and
 * marker continuation, Get Blob Properties for stat, Delete Blob.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "io/http.h"
#include "io/io.h"
#include "util/common.h"

#define AZ_VERSION "2021-08-06"
#define AUTH_HINT "(check AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY)"
#define MAX_LIST_PAGES 100000
#define MAX_XMS 8

typedef struct az_io {
	tv_io base;
	char *uri;
	char *container;
	char *prefix;   /* "" or "dir/sub/" */
	char *endpoint; /* no trailing '/' */
	char *path0;    /* the path part of the endpoint ("" or "/devstoreaccount1") */
	char *account;
	unsigned char key[128];
	size_t key_len;
	tv_http *http;
} az_io;

typedef struct az_w {
	tv_wfile base;
	tv_buf data;
} az_w;

static const tv_io_methods az_methods;

/* ---- Shared Key ------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *tv_azure__string_to_sign(const char *verb, size_t content_length, const char *content_type,
                               const char *if_none_match, const char *const *xms,
                               const char *account, const char *path,
                               const char *const *query)
{
	const char *h[MAX_XMS + 1], *q[16];
	size_t nh = 0, nq = 0;
	tv_buf b = {0};
	int bad;
	for (; xms && xms[nh]; nh++)
		if (nh >= MAX_XMS)
			return NULL;
	memcpy(h, xms, nh * sizeof *h);
	qsort(h, nh, sizeof *h, cmp_str);
	for (; query && query[2 * nq]; nq++)
		if (nq >= TV_ARRAY_LEN(q))
			return NULL;
	for (size_t i = 0; i < nq; i++)
		q[i] = query[2 * i];
	bad = tv_buf_printf(&b, "%s\n\n\n", verb);
	if (content_length)
		bad = bad || tv_buf_printf(&b, "%zu", content_length);
	bad = bad || tv_buf_printf(&b, "\n\n%s\n\n\n\n%s\n\n\n", content_type ? content_type : "",
	                           if_none_match ? if_none_match : "");
	for (size_t i = 0; i < nh; i++)
		bad = bad || tv_buf_printf(&b, "%s\n", h[i]);
	bad = bad || tv_buf_printf(&b, "/%s%s", account, path);
	/* query names are ours: lower-case already; sort by name */
	for (size_t i = 0; i < nq; i++)
		for (size_t j = i + 1; j < nq; j++)
			if (strcmp(q[j], q[i]) < 0) {
				const char *t = q[i];
				q[i] = q[j];
				q[j] = t;
			}
	for (size_t i = 0; i < nq; i++) {
		const char *v = NULL;
		for (size_t j = 0; j < nq; j++)
			if (query[2 * j] == q[i])
				v = query[2 * j + 1];
		bad = bad || tv_buf_printf(&b, "\n%s:%s", q[i], v);
	}
	if (bad) {
		tv_buf_free(&b);
		return NULL;
	}
	return b.data;
}

int tv_azure__sign(const unsigned char *key, size_t key_len, const char *sts, char out[64])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)sts, strlen(sts), mac, &len) ||
	    len != 32)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, mac, (int)len); /* 44 characters + NUL */
	return 0;
}

/* What one request signs, apart from the date (added per attempt). */
typedef struct az_sig {
	const az_io *io;
	const char *verb;
	size_t content_length;
	const char *content_type, *if_none_match;
	const char *xms[MAX_XMS]; /* "x-ms-name:value", without x-ms-date */
	size_t nxms;
	char *path;               /* the URL's path, encoded */
	const char *const *query; /* name, value (decoded) pairs, NULL-terminated */
} az_sig;

static int az_sign(void *ctx, const struct tv_http_req *req, char ***hdrs, tv_err *err)
{
	az_sig *s = ctx;
	char date[40], xdate[60], sig[64], *sts;
	const char *xms[MAX_XMS + 1];
	char **h = calloc(3, sizeof *h);
	(void)req;
	tv_http_format_time(tv_time_ns() / 1000000000LL, date, sizeof date);
	snprintf(xdate, sizeof xdate, "x-ms-date:%s", date);
	memcpy(xms, s->xms, s->nxms * sizeof *xms);
	xms[s->nxms] = xdate;
	xms[s->nxms + 1] = NULL;
	sts = tv_azure__string_to_sign(s->verb, s->content_length, s->content_type, s->if_none_match,
	                               xms, s->io->account, s->path, s->query);
	if (!h || !sts || tv_azure__sign(s->io->key, s->io->key_len, sts, sig) ||
	    !(h[0] = tv_sprintf("x-ms-date: %s", date)) ||
	    !(h[1] = tv_sprintf("Authorization: SharedKey %s:%s", s->io->account, sig))) {
		if (h) {
			free(h[0]);
			free(h[1]);
		}
		free(h);
		free(sts);
		return TV_ENOMEM_SET(err, "a signature");
	}
	free(sts);
	*hdrs = h;
	return 0;
}

/* ---- requests --------------------------------------------------------- */

/* The URL of a blob (or of the container when path is NULL), and its
 * encoded path for signing. */
static int blob_url(const az_io *io, const char *path, char **url, char **upath)
{
	tv_buf b = {0};
	*url = *upath = NULL;
	if (tv_buf_printf(&b, "%s/", io->path0) || tv_http_urlencode(&b, io->container, 0) ||
	    (path && (tv_buf_printf(&b, "/") || tv_http_urlencode(&b, io->prefix, 1) ||
	              tv_http_urlencode(&b, path, 1)))) {
		tv_buf_free(&b);
		return TV_ENOMEM;
	}
	*upath = b.data;
	if (!(*url = tv_sprintf("%.*s%s", (int)(strlen(io->endpoint) - strlen(io->path0)),
	                        io->endpoint, *upath))) {
		free(*upath);
		*upath = NULL;
		return TV_ENOMEM;
	}
	return 0;
}

/* Sends one request to url (whose path is upath; query holds the decoded
 * parameters already encoded into url). xms: extra x-ms-* headers as
 * "name:value", NULL-terminated. */
static int az_request(az_io *io, const char *method, const char *url, const char *upath,
                      const char *const *query, const char *const *xms,
                      const char *if_none_match, const void *body, size_t len, size_t max_body,
                      tv_http_resp *resp, tv_err *err)
{
	az_sig s = {0};
	const char *hdrs[MAX_XMS + 4];
	char hbuf[MAX_XMS][160], inm[64];
	size_t k = 0;
	tv_http_req req = {0};
	int put = !strcmp(method, "PUT");
	s.io = io;
	s.verb = method;
	s.content_length = put ? len : 0;
	s.content_type = put ? "application/octet-stream" : NULL;
	s.if_none_match = if_none_match;
	s.xms[s.nxms++] = "x-ms-version:" AZ_VERSION;
	for (size_t i = 0; xms && xms[i] && s.nxms < MAX_XMS - 1; i++)
		s.xms[s.nxms++] = xms[i];
	s.path = (char *)upath;
	s.query = query;
	/* the same headers as sent: "name: value" */
	for (size_t i = 0; i < s.nxms; i++) {
		const char *c = strchr(s.xms[i], ':');
		snprintf(hbuf[i], sizeof hbuf[i], "%.*s: %s", (int)(c - s.xms[i]), s.xms[i], c + 1);
		hdrs[k++] = hbuf[i];
	}
	if (put)
		hdrs[k++] = "Content-Type: application/octet-stream";
	if (if_none_match) {
		snprintf(inm, sizeof inm, "If-None-Match: %s", if_none_match);
		hdrs[k++] = inm;
	}
	hdrs[k] = NULL;
	req.method = method;
	req.url = url;
	req.headers = hdrs;
	req.body = body;
	req.body_len = len;
	req.max_body = max_body;
	req.sign = az_sign;
	req.sign_ctx = &s;
	return tv_http_do(io->http, &req, resp, err);
}

/* A blob request without query parameters. */
static int az_blob_req(az_io *io, const char *method, const char *url, const char *const *xms,
                       const char *inm, const void *body, size_t len, size_t max_body,
                       tv_http_resp *resp, tv_err *err)
{
	/* the path for signing is the URL's path: after "scheme://host" */
	const char *p = strchr(strstr(url, "://") + 3, '/');
	return az_request(io, method, url, p ? p : "/", NULL, xms, inm, body, len, max_body, resp,
	                  err);
}

/* ---- reading ---------------------------------------------------------- */

static int az_get_range(void *ctx, const char *url, uint64_t off, size_t n, tv_http_resp *resp,
                        tv_err *err)
{
	char range[64];
	const char *xms[] = {range, NULL};
	snprintf(range, sizeof range, "x-ms-range:bytes=%llu-%llu", (unsigned long long)off,
	         (unsigned long long)(off + n - 1));
	return az_blob_req(ctx, "GET", url, xms, NULL, NULL, 0, n, resp, err);
}

static int az_head(az_io *io, const char *url, uint64_t *size, int64_t *mtime_ns, tv_err *err)
{
	tv_http_resp resp;
	char *cl = NULL, *lm = NULL;
	int rc = az_blob_req(io, "HEAD", url, NULL, NULL, NULL, 0, 0, &resp, err);
	if (rc)
		return rc;
	if (resp.status != 200)
		rc = tv_http_fail(&resp, "HEAD", url, AUTH_HINT, err);
	else if (!(cl = tv_http_header(&resp, "Content-Length")) ||
	         tv_http_parse_u64(cl, strlen(cl), size))
		rc = tv_err_set(err, TV_ECORRUPT, "HEAD %s: no valid Content-Length", url);
	else if (mtime_ns) {
		lm = tv_http_header(&resp, "Last-Modified");
		if (!lm || tv_http_parse_time(lm, strlen(lm), mtime_ns))
			*mtime_ns = 0;
	}
	free(cl);
	free(lm);
	tv_http_resp_free(&resp);
	return rc;
}

static int az_size(void *ctx, const char *url, uint64_t *size, tv_err *err)
{
	return az_head(ctx, url, size, NULL, err);
}

static int az_open_read(tv_io *io_, const char *path, tv_rfile **out, tv_err *err)
{
	az_io *io = (az_io *)io_;
	tv_http_getter g = {az_get_range, az_size, io, AUTH_HINT};
	char *url, *upath;
	int rc;
	if (blob_url(io, path, &url, &upath))
		return TV_ENOMEM_SET(err, path);
	rc = tv_http_rfile_open(&g, &az_methods, url, out, err);
	free(url);
	free(upath);
	return rc;
}

static void az_close_read(tv_rfile *f) { tv_http_rfile_close(f); }

/* ---- writing ---------------------------------------------------------- */

static int az_put(tv_io *io_, const char *path, const void *data, size_t n, int flags,
                  tv_err *err)
{
	az_io *io = (az_io *)io_;
	const char *xms[] = {"x-ms-blob-type:BlockBlob", NULL};
	int excl = (flags & TV_IO_PUT_IF_ABSENT) != 0;
	tv_http_resp resp;
	char *url, *upath;
	int rc;
	if (blob_url(io, path, &url, &upath))
		return TV_ENOMEM_SET(err, path);
	rc = az_blob_req(io, "PUT", url, xms, excl ? "*" : NULL, data ? data : "", n, 0, &resp, err);
	if (!rc) {
		if (resp.status == 201 || resp.status == 200)
			rc = 0;
		else if (excl && (resp.status == 409 || resp.status == 412))
			rc = tv_err_set(err, TV_EEXISTS, "%s already exists (HTTP %ld)", url, resp.status);
		else
			rc = tv_http_fail(&resp, "PUT", url, AUTH_HINT, err);
		tv_http_resp_free(&resp);
	}
	free(url);
	free(upath);
	return rc;
}

static int az_open_write(tv_io *io, const char *path, tv_wfile **out, tv_err *err)
{
	az_w *w = calloc(1, sizeof *w);
	*out = NULL;
	if (!w || !(w->base.path = tv_strdup(path))) {
		free(w);
		return TV_ENOMEM_SET(err, path);
	}
	w->base.m = &az_methods;
	w->base.io = io;
	*out = &w->base;
	return 0;
}

static int az_write(tv_wfile *wf, const void *data, size_t n, tv_err *err)
{
	az_w *w = (az_w *)wf;
	return tv_buf_append(&w->data, data, n) ? TV_ENOMEM_SET(err, wf->path) : 0;
}

static void az_abort(tv_wfile *wf)
{
	az_w *w = (az_w *)wf;
	tv_buf_free(&w->data);
	free(w->base.path);
	free(w);
}

static int az_commit(tv_wfile *wf, int flags, tv_err *err)
{
	az_w *w = (az_w *)wf;
	int rc = az_put(wf->io, wf->path, w->data.data, w->data.len, flags, err);
	az_abort(wf);
	return rc;
}

/* ---- listing ---------------------------------------------------------- */

/* Adds the <Blob> and <BlobPrefix> elements of one List Blobs page. */
static int parse_page(const char *xml, size_t n, const char *p, tv_http_entries *e, const char *url,
                      tv_err *err)
{
	const char *v, *name = NULL;
	size_t vl, end, off, len = 0;
	for (int dirs = 0; dirs < 2; dirs++) {
		const char *tag = dirs ? "BlobPrefix" : "Blob";
		for (off = 0; tv_xml_find(xml + off, n - off, tag, &v, &vl, &end); off += end) {
			char *key = tv_xml_get(v, vl, "Name");
			char *sz = dirs ? NULL : tv_xml_get(v, vl, "Content-Length");
			char *lm = dirs ? NULL : tv_xml_get(v, vl, "Last-Modified");
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

/* One List Blobs request for prefix p after marker (or NULL). */
static int list_page(az_io *io, const char *p, const char *marker, int max, tv_http_resp *resp,
                     char **url_out, tv_err *err)
{
	char maxs[16], *url = NULL, *upath = NULL;
	const char *q[16];
	size_t k = 0;
	tv_buf b = {0};
	int rc;
	*url_out = NULL;
	snprintf(maxs, sizeof maxs, "%d", max);
	q[k++] = "comp", q[k++] = "list", q[k++] = "delimiter", q[k++] = "/";
	if (marker)
		q[k++] = "marker", q[k++] = marker;
	if (max)
		q[k++] = "maxresults", q[k++] = maxs;
	q[k++] = "prefix", q[k++] = p, q[k++] = "restype", q[k++] = "container";
	q[k] = NULL;
	if (blob_url(io, NULL, &url, &upath) || tv_buf_printf(&b, "%s?", url)) {
		rc = TV_ENOMEM_SET(err, io->uri);
		goto done;
	}
	for (size_t i = 0; q[i]; i += 2)
		if (tv_buf_printf(&b, "%s%s=", i ? "&" : "", q[i]) || tv_http_urlencode(&b, q[i + 1], 0)) {
			rc = TV_ENOMEM_SET(err, io->uri);
			goto done;
		}
	rc = az_request(io, "GET", b.data, upath, q, NULL, NULL, NULL, 0, 0, resp, err);
	if (!rc) {
		*url_out = b.data;
		b.data = NULL;
	}
done:
	tv_buf_free(&b);
	free(url);
	free(upath);
	return rc;
}

static int list_prefix(az_io *io, const char *p, int max, tv_http_entries *e, tv_err *err)
{
	char *marker = NULL;
	int rc = 0;
	for (int page = 0; !rc; page++) {
		tv_http_resp resp;
		char *url = NULL, *next = NULL;
		if (page >= MAX_LIST_PAGES) {
			rc = tv_err_set(err, TV_EIO, "%s: more than %d listing pages", io->uri,
			                MAX_LIST_PAGES);
			break;
		}
		if ((rc = list_page(io, p, marker, max, &resp, &url, err)))
			break;
		if (resp.status != 200)
			rc = tv_http_fail(&resp, "GET", url, AUTH_HINT, err);
		else if (!(rc = parse_page(resp.body.data, resp.body.len, p, e, url, err)))
			next = tv_xml_get(resp.body.data, resp.body.len, "NextMarker");
		tv_http_resp_free(&resp);
		if (!rc && !max && next && *next) {
			if (marker && !strcmp(next, marker))
				rc = tv_err_set(err, TV_ECORRUPT, "GET %s: the listing repeats its marker", url);
			free(marker);
			marker = next;
			free(url);
			continue;
		}
		free(next);
		free(url);
		break;
	}
	free(marker);
	return rc;
}

static char *dir_prefix(const az_io *io, const char *dir)
{
	return *dir ? tv_sprintf("%s%s/", io->prefix, dir) : tv_strdup(io->prefix);
}

static int az_list(tv_io *io_, const char *dir, tv_io_entry **out, size_t *n, tv_err *err)
{
	az_io *io = (az_io *)io_;
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

static int az_stat(tv_io *io_, const char *path, tv_io_entry *out, tv_err *err)
{
	az_io *io = (az_io *)io_;
	char *url, *upath, *p;
	tv_http_entries e = {0};
	int rc;
	memset(out, 0, sizeof *out);
	if (blob_url(io, path, &url, &upath))
		return TV_ENOMEM_SET(err, path);
	rc = az_head(io, url, &out->size, &out->mtime_ns, err);
	if (rc == TV_ENOTFOUND && (p = dir_prefix(io, path))) {
		tv_err probe;
		if (!list_prefix(io, p, 1, &e, &probe) && e.n > 0) {
			out->is_dir = 1;
			rc = 0;
		}
		tv_io_entries_free(e.v, e.n);
		free(p);
	}
	free(url);
	free(upath);
	return rc;
}

static int az_remove(tv_io *io_, const char *path, tv_err *err)
{
	az_io *io = (az_io *)io_;
	tv_http_resp resp;
	char *url, *upath;
	int rc;
	if (blob_url(io, path, &url, &upath))
		return TV_ENOMEM_SET(err, path);
	if (!(rc = az_blob_req(io, "DELETE", url, NULL, NULL, NULL, 0, 0, &resp, err))) {
		if (resp.status != 200 && resp.status != 202 && resp.status != 204 &&
		    resp.status != 404)
			rc = tv_http_fail(&resp, "DELETE", url, AUTH_HINT, err);
		tv_http_resp_free(&resp);
	}
	free(url);
	free(upath);
	return rc;
}

static void az_free(tv_io *io_)
{
	az_io *io = (az_io *)io_;
	tv_http_free(io->http);
	free(io->uri);
	free(io->container);
	free(io->prefix);
	free(io->endpoint);
	free(io->path0);
	free(io->account);
	memset(io->key, 0, sizeof io->key);
	free(io);
}

static const tv_io_methods az_methods = {
	"azure", TV_IO_CAP_PUT_IF_ABSENT,
	az_open_read, tv_http_rfile_read, az_close_read, az_put, az_open_write, az_write, az_commit,
	az_abort, az_list, az_stat, az_remove, az_free,
};

/* ---- opening ---------------------------------------------------------- */

static const char *env2(const char *a, const char *b)
{
	const char *v = getenv(a);
	if (!v || !*v)
		v = getenv(b);
	return v && *v ? v : NULL;
}

/* Decodes standard base64 (with padding) into out; -1 if malformed. */
int tv_azure__base64_decode(const char *s, unsigned char *out, size_t cap, size_t *len)
{
	size_t n = strlen(s), pad = 0;
	unsigned char tmp[3 * 64];
	int k;
	if (n == 0 || n % 4 || n / 4 * 3 > sizeof tmp || n / 4 * 3 > cap + 2)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '/' ||
		      (s[i] == '=' && i >= n - 2 && (i == n - 1 || s[n - 1] == '='))))
			return -1;
	pad = (s[n - 1] == '=') + (s[n - 2] == '=');
	k = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
	if (k < 0 || (size_t)k < pad || (size_t)k - pad > cap)
		return -1;
	*len = (size_t)k - pad;
	memcpy(out, tmp, *len);
	return 0;
}

int tv_io_azure_open(tv_io **out, const char *uri, tv_err *err)
{
	const char *account = env2("AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_ACCOUNT_NAME");
	const char *key = env2("AZURE_STORAGE_KEY", "AZURE_STORAGE_ACCOUNT_KEY");
	const char *ep = env2("AZURE_STORAGE_ENDPOINT", "AZURE_STORAGE_BLOB_ENDPOINT");
	const char *host;
	az_io *io;
	size_t el;
	int rc;
	*out = NULL;
	if (!account || !key)
		return tv_err_set(err, TV_EINVAL, "%s: %s is not set", uri,
		                  account ? "AZURE_STORAGE_KEY" : "AZURE_STORAGE_ACCOUNT");
	for (const char *c = account; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')) || c - account > 63)
			return tv_err_set(err, TV_EINVAL, "AZURE_STORAGE_ACCOUNT '%s' is not an account "
			                  "name (a-z, 0-9)", account);
	if (ep && ((strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8)) || strpbrk(ep, "?# ")))
		return tv_err_set(err, TV_EINVAL, "%s: AZURE_STORAGE_ENDPOINT '%s' is not an http:// or "
		                  "https:// URL", uri, ep);
	if (!(io = calloc(1, sizeof *io)))
		return TV_ENOMEM_SET(err, uri);
	io->base.m = &az_methods;
	if (tv_azure__base64_decode(key, io->key, sizeof io->key, &io->key_len)) {
		free(io);
		return tv_err_set(err, TV_EINVAL, "%s: AZURE_STORAGE_KEY is not valid base64", uri);
	}
	if ((rc = tv_io__split_uri(uri, "az://", &io->container, &io->prefix, err)))
		goto fail;
	io->endpoint = ep ? tv_strdup(ep) : tv_sprintf("https://%s.blob.core.windows.net", account);
	if (!io->endpoint) {
		rc = TV_ENOMEM_SET(err, uri);
		goto fail;
	}
	el = strlen(io->endpoint);
	while (el > 0 && io->endpoint[el - 1] == '/')
		io->endpoint[--el] = 0;
	host = strstr(io->endpoint, "://") + 3;
	io->path0 = tv_strdup(strchr(host, '/') ? strchr(host, '/') : "");
	io->uri = tv_strdup(uri);
	io->account = tv_strdup(account);
	if (!io->path0 || !io->uri || !io->account) {
		rc = TV_ENOMEM_SET(err, uri);
		goto fail;
	}
	if (!*host || *host == '/') {
		rc = tv_err_set(err, TV_EINVAL, "%s: AZURE_STORAGE_ENDPOINT has no host", uri);
		goto fail;
	}
	if ((rc = tv_http_new(&io->http, err)))
		goto fail;
	io->base.root = io->uri;
	*out = &io->base;
	return 0;
fail:
	az_free(&io->base);
	return rc;
}

/*
 * The libcurl helper of the object storage backends: one easy handle per
 * tv_io, bounded retries, bounded responses, and the few parsing helpers
 * (XML elements, HTTP dates) the backends share. See io/http.h.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <dlfcn.h>

#include "io/http.h"

#define MAX_BODY_DEFAULT (64u << 20)
#define MAX_HEADERS (64u << 10)
#define BACKOFF_BASE_MS 100
#define BACKOFF_MAX_MS 3000

struct tv_http {
	CURL *curl;
	int retries;
	long timeout_s, connect_timeout_s;
	char errbuf[CURL_ERROR_SIZE];
};

/* The state of one attempt, seen by the curl callbacks. */
typedef struct xfer {
	tv_http_resp *resp;
	size_t max_body;
	int too_large;
	const char *up;
	size_t up_len, up_off;
} xfer;

/* libcurl is loaded on first use (dlopen), not linked: its dependency
 * tree (some 30 libraries: GnuTLS, Kerberos, LDAP, ...) cost every teavec
 * process about 15 ms of dynamic loading, though only object storage and
 * the HTTP embedders need it. The header still gives the types and
 * constants; these are the functions we call. */
static struct {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *c);
	void (*easy_reset)(CURL *c);
	CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
} lc;
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init (*lc.global_init)
#define curl_easy_init (*lc.easy_init)
#define curl_easy_cleanup (*lc.easy_cleanup)
#define curl_easy_reset (*lc.easy_reset)
#define curl_easy_setopt (*lc.easy_setopt)
#define curl_easy_perform (*lc.easy_perform)
#define curl_easy_getinfo (*lc.easy_getinfo)
#define curl_easy_strerror (*lc.easy_strerror)
#define curl_slist_append (*lc.slist_append)
#define curl_slist_free_all (*lc.slist_free_all)

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;
static char load_error[256];

static int load_libcurl(void)
{
	void *so = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;
	if (!so) {
		snprintf(load_error, sizeof load_error,
		         "cannot load libcurl.so.4 (%s): install libcurl4 (Debian: apt-get install "
		         "libcurl4)",
		         dlerror());
		return -1;
	}
#define SYM(field, name)                                                              \
	if (!missing && !(*(void **)&lc.field = dlsym(so, name)))                         \
		missing = name;
	SYM(global_init, "curl_global_init")
	SYM(easy_init, "curl_easy_init")
	SYM(easy_cleanup, "curl_easy_cleanup")
	SYM(easy_reset, "curl_easy_reset")
	SYM(easy_setopt, "curl_easy_setopt")
	SYM(easy_perform, "curl_easy_perform")
	SYM(easy_getinfo, "curl_easy_getinfo")
	SYM(easy_strerror, "curl_easy_strerror")
	SYM(slist_append, "curl_slist_append")
	SYM(slist_free_all, "curl_slist_free_all")
#undef SYM
	if (missing) {
		snprintf(load_error, sizeof load_error, "libcurl.so.4 lacks %s: too old a libcurl",
		         missing);
		return -1;
	}
	return 0;
}

static void global_init(void)
{
	if (load_libcurl())
		global_rc = CURLE_FAILED_INIT;
	else
		global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static long env_long(const char *name, long def, long lo, long hi)
{
	const char *s = getenv(name);
	char *end;
	long v;
	if (!s || !*s)
		return def;
	v = strtol(s, &end, 10);
	return *end || v < lo || v > hi ? def : v;
}

int tv_http_new(tv_http **out, tv_err *err)
{
	tv_http *h;
	*out = NULL;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return tv_err_set(err, TV_EIO, "initialising libcurl: %s",
		                  load_error[0] ? load_error : curl_easy_strerror(global_rc));
	if (!(h = calloc(1, sizeof *h)) || !(h->curl = curl_easy_init())) {
		free(h);
		return TV_ENOMEM_SET(err, "an HTTP client");
	}
	h->retries = (int)env_long("TV_HTTP_RETRIES", 4, 0, 20);
	h->timeout_s = env_long("TV_HTTP_TIMEOUT", 30, 1, 3600);
	h->connect_timeout_s = env_long("TV_HTTP_CONNECT_TIMEOUT", 10, 1, 600);
	*out = h;
	return 0;
}

void tv_http_free(tv_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

void tv_http_resp_free(tv_http_resp *resp)
{
	tv_buf_free(&resp->body);
	tv_buf_free(&resp->headers);
	memset(resp, 0, sizeof *resp);
}

/* ---- curl callbacks -------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	xfer *x = ud;
	size_t n = size * nmemb;
	if (n > x->max_body - TV_MIN(x->resp->body.len, x->max_body)) {
		x->too_large = 1;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	/* one spare byte keeps the body NUL-terminated for the XML helpers */
	if (tv_buf_reserve(&x->resp->body, n + 1))
		return 0;
	memcpy(x->resp->body.data + x->resp->body.len, p, n);
	x->resp->body.len += n;
	x->resp->body.data[x->resp->body.len] = 0;
	return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	xfer *x = ud;
	size_t n = size * nmemb;
	tv_buf *b = &x->resp->headers;
	if (n >= 5 && !memcmp(p, "HTTP/", 5))
		b->len = 0; /* a new response (after 100 Continue): keep only the last */
	if (b->len + n > MAX_HEADERS || tv_buf_reserve(b, n + 1))
		return 0;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return n;
}

static size_t on_upload(char *p, size_t size, size_t nmemb, void *ud)
{
	xfer *x = ud;
	size_t n = TV_MIN(size * nmemb, x->up_len - x->up_off);
	if (n)
		memcpy(p, x->up + x->up_off, n);
	x->up_off += n;
	return n;
}

/* ---- requests -------------------------------------------------------- */

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static int add_header(struct curl_slist **l, const char *h)
{
	struct curl_slist *n = curl_slist_append(*l, h);
	if (!n)
		return -1;
	*l = n;
	return 0;
}

/* Sets up the easy handle for one attempt of req. */
static int setup(tv_http *h, const tv_http_req *req, xfer *x, struct curl_slist **hl,
                 tv_err *err)
{
	CURL *c = h->curl;
	char **signed_h = NULL;
	int rc = 0;
	curl_easy_reset(c); /* keeps the connection cache */
	if (req->sign && (rc = req->sign(req->sign_ctx, req, &signed_h, err)))
		return rc;
	for (size_t i = 0; !rc && req->headers && req->headers[i]; i++)
		rc = add_header(hl, req->headers[i]);
	for (size_t i = 0; !rc && signed_h && signed_h[i]; i++)
		rc = add_header(hl, signed_h[i]);
	/* no "Expect: 100-continue" round trip; but not with CURLOPT_AWS_SIGV4,
	 * which in curl 7.88 signs the empty header that is never sent */
	if (!rc && !req->aws_sigv4)
		rc = add_header(hl, "Expect:");
	free_strv(signed_h);
	if (rc)
		return TV_ENOMEM_SET(err, "HTTP headers");
	h->errbuf[0] = 0;
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hl);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->connect_timeout_s);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->timeout_s);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	if (!strcmp(req->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(req->method, "PUT")) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_upload);
		curl_easy_setopt(c, CURLOPT_READDATA, x);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
	} else if (!strcmp(req->method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	} else if (strcmp(req->method, "GET")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	}
	if (req->timeout_s > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT, req->timeout_s);
	if (req->aws_sigv4) {
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, req->aws_sigv4);
		curl_easy_setopt(c, CURLOPT_USERNAME, req->aws_key);
		curl_easy_setopt(c, CURLOPT_PASSWORD, req->aws_secret);
	}
	return 0;
}

static void backoff(int attempt)
{
	unsigned char r;
	long ms = BACKOFF_BASE_MS << TV_MIN(attempt, 10);
	struct timespec ts;
	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	if (tv_random_bytes(&r, 1))
		r = 128;
	ms = ms / 2 + ms * r / 512; /* 50% to 100% of the step: jitter */
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/* The wait a 429 or 503 asks for in Retry-After (seconds, or an HTTP
 * date), capped at max_s; -1 when there is none. */
static long retry_after_ms(const tv_http_resp *resp, long max_s)
{
	char *v, *end;
	long ms = -1;
	int64_t ns;
	if (max_s <= 0 || (resp->status != 429 && resp->status != 503) ||
	    !(v = tv_http_header(resp, "Retry-After")))
		return -1;
	if (*v >= '0' && *v <= '9') {
		double s = strtod(v, &end);
		if (!*end)
			ms = s > (double)max_s ? max_s * 1000 : (long)(s * 1000);
	} else if (!tv_http_parse_time(v, strlen(v), &ns)) {
		int64_t d = ns / 1000000 - tv_time_ns() / 1000000;
		ms = d < 0 ? 0 : d > max_s * 1000 ? max_s * 1000 : (long)d;
	}
	free(v);
	return ms;
}

static int retryable(CURLcode cc, long status)
{
	if (cc != CURLE_OK)
		return cc == CURLE_COULDNT_CONNECT || cc == CURLE_OPERATION_TIMEDOUT ||
		       cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING ||
		       cc == CURLE_PARTIAL_FILE || cc == CURLE_COULDNT_RESOLVE_HOST ||
		       cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_HTTP2 || cc == CURLE_HTTP2_STREAM;
	return status == 429 || (status >= 500 && status <= 599);
}

int tv_http_do(tv_http *h, const tv_http_req *req, tv_http_resp *resp, tv_err *err)
{
	CURLcode cc = CURLE_OK;
	long wait_ms = -1;
	memset(resp, 0, sizeof *resp);
	for (int attempt = 0;; attempt++) {
		struct curl_slist *hl = NULL;
		xfer x = {resp, req->max_body ? req->max_body : MAX_BODY_DEFAULT, 0,
		          req->body, req->body_len, 0};
		int rc;
		if (attempt && wait_ms >= 0) {
			struct timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		} else if (attempt) {
			backoff(attempt - 1);
		}
		resp->body.len = resp->headers.len = 0;
		resp->status = 0;
		resp->attempts = attempt + 1;
		if ((rc = setup(h, req, &x, &hl, err))) {
			curl_slist_free_all(hl);
			tv_http_resp_free(resp);
			return rc;
		}
		cc = curl_easy_perform(h->curl);
		curl_slist_free_all(hl);
		if (cc == CURLE_OK)
			curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
		if (x.too_large) {
			tv_http_resp_free(resp);
			return tv_err_set(err, TV_EIO, "%s %s: the response body is larger than %zu bytes",
			                  req->method, req->url, x.max_body);
		}
		if (attempt >= h->retries || !retryable(cc, resp->status))
			break;
		wait_ms = cc == CURLE_OK ? retry_after_ms(resp, req->retry_after_max_s) : -1;
	}
	if (cc != CURLE_OK) {
		int n = resp->attempts;
		tv_http_resp_free(resp);
		return tv_err_set(err, TV_EIO, "%s %s: %s%s%s (%d attempt%s)", req->method, req->url,
		                  curl_easy_strerror(cc), h->errbuf[0] ? ": " : "", h->errbuf, n,
		                  n == 1 ? "" : "s");
	}
	return 0;
}

char *tv_http_header(const tv_http_resp *resp, const char *name)
{
	size_t nl = strlen(name);
	const char *p = resp->headers.data, *end = p ? p + resp->headers.len : NULL;
	while (p && p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		if ((size_t)(le - p) > nl && p[nl] == ':' && !strncasecmp(p, name, nl)) {
			const char *v = p + nl + 1;
			while (v < le && (*v == ' ' || *v == '\t'))
				v++;
			while (le > v && (le[-1] == '\r' || le[-1] == ' ' || le[-1] == '\t'))
				le--;
			return tv_strndup(v, (size_t)(le - v));
		}
		p = eol ? eol + 1 : end;
	}
	return NULL;
}

/* Copies s into a message: control characters become spaces, long text is
 * cut. The service's words are quoted, not trusted. */
static void clean(char *s, size_t max)
{
	size_t i;
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = ' ';
	if (i > max)
		strcpy(s + max - 3, "...");
}

int tv_http_fail(const tv_http_resp *resp, const char *what, const char *url,
                 const char *auth_hint, tv_err *err)
{
	long st = resp->status;
	int code = st == 404 ? TV_ENOTFOUND : st == 409 || st == 412 ? TV_EEXISTS
	         : st == 401 || st == 403 ? TV_EPERM : TV_EIO;
	char *ecode = NULL, *emsg = NULL;
	if (resp->body.len) {
		ecode = tv_xml_get(resp->body.data, resp->body.len, "Code");
		emsg = tv_xml_get(resp->body.data, resp->body.len, "Message");
	}
	if (!ecode)
		ecode = tv_http_header(resp, "x-ms-error-code");
	if (ecode)
		clean(ecode, 100);
	if (emsg)
		clean(emsg, 300);
	if (code != TV_EPERM || !auth_hint)
		auth_hint = "";
	tv_err_set(err, code, "%s %s: HTTP %ld%s%s%s%s%s%s%s", what, url, st, ecode ? " " : "",
	           ecode ? ecode : "", emsg ? (ecode ? ": " : " ") : "", emsg ? emsg : "",
	           *auth_hint ? " " : "", auth_hint, resp->attempts > 1 ? " (after retries)" : "");
	free(ecode);
	free(emsg);
	return code;
}

/* ---- encoding -------------------------------------------------------- */

int tv_http_urlencode(tv_buf *b, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
			if (tv_buf_append(b, s, 1))
				return TV_ENOMEM;
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			if (tv_buf_append(b, e, 3))
				return TV_ENOMEM;
		}
	}
	return 0;
}

/* ---- XML ------------------------------------------------------------- */

static const char *find_bytes(const char *h, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; k <= n && i <= n - k; i++)
		if (h[i] == needle[0] && !memcmp(h + i, needle, k))
			return h + i;
	return NULL;
}

int tv_xml_find(const char *xml, size_t n, const char *tag, const char **val, size_t *vlen,
                size_t *end)
{
	size_t tl = strlen(tag), off = 0;
	char close[80];
	if (tl == 0 || tl + 4 > sizeof close)
		return 0;
	snprintf(close, sizeof close, "</%s>", tag);
	while (off < n) {
		const char *p = find_bytes(xml + off, n - off, "<"), *gt, *c;
		size_t at, rest;
		if (!p)
			return 0;
		at = (size_t)(p - xml);
		rest = n - at;
		if (rest < tl + 2 || memcmp(p + 1, tag, tl) ||
		    !(p[tl + 1] == '>' || p[tl + 1] == '/' || p[tl + 1] == ' ' || p[tl + 1] == '\t' ||
		      p[tl + 1] == '\r' || p[tl + 1] == '\n')) {
			off = at + 1;
			continue;
		}
		if (!(gt = memchr(p, '>', rest)))
			return 0;
		if (gt[-1] == '/') { /* <tag/> or <tag attr="..."/> */
			*val = gt + 1;
			*vlen = 0;
			*end = (size_t)(gt + 1 - xml);
			return 1;
		}
		if (!(c = find_bytes(gt + 1, n - (size_t)(gt + 1 - xml), close)))
			return 0;
		*val = gt + 1;
		*vlen = (size_t)(c - (gt + 1));
		*end = (size_t)(c - xml) + tl + 3;
		return 1;
	}
	return 0;
}

/* Appends code point u as UTF-8; -1 for one that is not a character. */
static int put_utf8(tv_buf *b, unsigned long u)
{
	char e[4];
	size_t k;
	if (u == 0 || u > 0x10FFFF || (u >= 0xD800 && u <= 0xDFFF))
		return -1;
	if (u < 0x80) {
		e[0] = (char)u;
		k = 1;
	} else if (u < 0x800) {
		e[0] = (char)(0xC0 | (u >> 6));
		e[1] = (char)(0x80 | (u & 0x3F));
		k = 2;
	} else if (u < 0x10000) {
		e[0] = (char)(0xE0 | (u >> 12));
		e[1] = (char)(0x80 | ((u >> 6) & 0x3F));
		e[2] = (char)(0x80 | (u & 0x3F));
		k = 3;
	} else {
		e[0] = (char)(0xF0 | (u >> 18));
		e[1] = (char)(0x80 | ((u >> 12) & 0x3F));
		e[2] = (char)(0x80 | ((u >> 6) & 0x3F));
		e[3] = (char)(0x80 | (u & 0x3F));
		k = 4;
	}
	return tv_buf_append(b, e, k) ? -1 : 0;
}

/* Decodes the reference starting at s[0] == '&'; *used gets its length. */
static int entity(tv_buf *b, const char *s, size_t n, size_t *used)
{
	static const struct { const char *name; char c; } named[] = {
		{"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"quot;", '"'}, {"apos;", '\''},
	};
	const char *semi = memchr(s, ';', TV_MIN(n, (size_t)12));
	unsigned long u = 0;
	size_t i;
	if (!semi)
		return -1;
	*used = (size_t)(semi - s) + 1;
	for (i = 0; i < TV_ARRAY_LEN(named); i++)
		if (*used - 1 == strlen(named[i].name) && !memcmp(s + 1, named[i].name, *used - 1))
			return tv_buf_append(b, &named[i].c, 1) ? -1 : 0;
	if (*used < 4 || s[1] != '#')
		return -1;
	if (s[2] == 'x' || s[2] == 'X') {
		for (i = 3; s + i < semi; i++) {
			if (!isxdigit((unsigned char)s[i]))
				return -1;
			u = u * 16 + (unsigned long)(isdigit((unsigned char)s[i]) ? s[i] - '0'
			                             : (tolower((unsigned char)s[i]) - 'a' + 10));
		}
		if (i == 3)
			return -1;
	} else {
		for (i = 2; s + i < semi; i++) {
			if (!isdigit((unsigned char)s[i]))
				return -1;
			u = u * 10 + (unsigned long)(s[i] - '0');
		}
	}
	return put_utf8(b, u);
}

char *tv_xml_text(const char *val, size_t vlen)
{
	tv_buf b = {0};
	size_t i = 0;
	if (tv_buf_reserve(&b, vlen + 1))
		return NULL;
	while (i < vlen) {
		size_t used;
		if (val[i] == 0)
			goto bad;
		if (val[i] != '&') {
			b.data[b.len++] = val[i++];
			continue;
		}
		if (entity(&b, val + i, vlen - i, &used))
			goto bad;
		i += used;
	}
	if (tv_buf_append(&b, "", 1))
		goto bad;
	return b.data;
bad:
	tv_buf_free(&b);
	return NULL;
}

char *tv_xml_get(const char *xml, size_t n, const char *tag)
{
	const char *v;
	size_t vl, end;
	return tv_xml_find(xml, n, tag, &v, &vl, &end) ? tv_xml_text(v, vl) : NULL;
}

/* ---- dates ----------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Reads exactly k digits at s[*i]. */
static int digits(const char *s, size_t n, size_t *i, int k, int *out)
{
	int v = 0;
	if (*i + (size_t)k > n)
		return -1;
	for (int j = 0; j < k; j++) {
		if (!isdigit((unsigned char)s[*i + (size_t)j]))
			return -1;
		v = v * 10 + (s[*i + (size_t)j] - '0');
	}
	*i += (size_t)k;
	*out = v;
	return 0;
}

static int lit(const char *s, size_t n, size_t *i, const char *l)
{
	size_t k = strlen(l);
	if (*i + k > n || memcmp(s + *i, l, k))
		return -1;
	*i += k;
	return 0;
}

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const wdays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};

static int finish_time(int y, int mo, int d, int h, int mi, int s, long frac_ns, int64_t *ns)
{
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		return -1;
	*ns = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * 1000000000LL) + frac_ns;
	return 0;
}

int tv_http_parse_time(const char *s, size_t n, int64_t *ns)
{
	int y, mo = 0, d, h, mi, sec;
	size_t i = 0;
	long frac = 0, scale = 100000000L;
	if (n >= 10 && s[4] == '-') { /* ISO 8601 */
		if (digits(s, n, &i, 4, &y) || lit(s, n, &i, "-") || digits(s, n, &i, 2, &mo) ||
		    lit(s, n, &i, "-") || digits(s, n, &i, 2, &d) || lit(s, n, &i, "T") ||
		    digits(s, n, &i, 2, &h) || lit(s, n, &i, ":") || digits(s, n, &i, 2, &mi) ||
		    lit(s, n, &i, ":") || digits(s, n, &i, 2, &sec))
			return -1;
		if (i < n && s[i] == '.')
			for (i++; i < n && isdigit((unsigned char)s[i]); i++, scale /= 10)
				frac += (s[i] - '0') * scale;
		if (lit(s, n, &i, "Z") || i != n)
			return -1;
		return finish_time(y, mo, d, h, mi, sec, frac, ns);
	}
	/* RFC 1123: "Tue, 02 Jan 2024 03:04:05 GMT" */
	if (n < 29 || s[3] != ',' || s[4] != ' ')
		return -1;
	i = 5;
	if (digits(s, n, &i, 2, &d) || lit(s, n, &i, " ") || i + 4 > n)
		return -1;
	for (int k = 0; k < 12; k++)
		if (!memcmp(s + i, months[k], 3))
			mo = k + 1;
	i += 3;
	if (!mo || lit(s, n, &i, " ") || digits(s, n, &i, 4, &y) || lit(s, n, &i, " ") ||
	    digits(s, n, &i, 2, &h) || lit(s, n, &i, ":") || digits(s, n, &i, 2, &mi) ||
	    lit(s, n, &i, ":") || digits(s, n, &i, 2, &sec) || lit(s, n, &i, " GMT") || i != n)
		return -1;
	return finish_time(y, mo, d, h, mi, sec, 0, ns);
}

void tv_http_format_time(int64_t t, char *out, size_t cap)
{
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400, secs = t - days * 86400;
	/* civil_from_days, the inverse of days_from_civil */
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
	int64_t y = yoe + era * 400 + (m <= 2);
	snprintf(out, cap, "%s, %02d %s %04lld %02d:%02d:%02d GMT",
	         wdays[((days % 7) + 7) % 7], d, months[m - 1], (long long)y, (int)(secs / 3600),
	         (int)(secs / 60 % 60), (int)(secs % 60));
}

/* ---- numbers --------------------------------------------------------- */

int tv_http_parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]) || __builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
			return -1;
	}
	*out = v;
	return 0;
}

int tv_http_parse_content_range(const char *s, uint64_t *start, uint64_t *end, uint64_t *total)
{
	const char *dash, *slash;
	if (strncmp(s, "bytes ", 6))
		return -1;
	s += 6;
	if (!(dash = strchr(s, '-')) || !(slash = strchr(dash, '/')))
		return -1;
	if (tv_http_parse_u64(s, (size_t)(dash - s), start) ||
	    tv_http_parse_u64(dash + 1, (size_t)(slash - dash - 1), end) ||
	    tv_http_parse_u64(slash + 1, strlen(slash + 1), total))
		return -1;
	return *end < *start || *end >= *total ? -1 : 0;
}

/* ---- windowed reads --------------------------------------------------- */

typedef struct http_r {
	tv_rfile base;
	tv_http_getter g;
	char *url;
	tv_buf win; /* bytes [win_off, win_off + win.len) of the object */
	uint64_t win_off;
} http_r;

/* Fetches [off, off + n) (n > 0, within the size once known) into the
 * window. size_known = 0 on open: then the response tells the size. */
static int fetch(http_r *r, uint64_t off, size_t n, int size_known, tv_err *err)
{
	tv_http_resp resp;
	uint64_t s, e, total;
	char *cr = NULL;
	int rc = r->g.get(r->g.ctx, r->url, off, n, &resp, err);
	if (rc)
		return rc;
	if (resp.status == 206) {
		cr = tv_http_header(&resp, "Content-Range");
		if (!cr || tv_http_parse_content_range(cr, &s, &e, &total) || s != off ||
		    e - s + 1 != resp.body.len || (size_known && total != r->base.size) ||
		    (!size_known && resp.body.len != TV_MIN((uint64_t)n, total)) ||
		    (size_known && resp.body.len != n)) {
			rc = tv_err_set(err, TV_ECORRUPT,
			                "GET %s: the response does not match the range asked for "
			                "(%zu bytes at %llu; Content-Range: %s, %zu bytes received)",
			                r->url, n, (unsigned long long)off, cr ? cr : "none",
			                resp.body.len);
			goto done;
		}
		r->base.size = total;
	} else if (resp.status == 200) {
		/* the service sent the whole object (it ignored the range) */
		if (size_known && resp.body.len != r->base.size) {
			rc = tv_err_set(err, TV_ECORRUPT, "GET %s: the object changed size while read",
			                r->url);
			goto done;
		}
		r->base.size = resp.body.len;
		if (off > 0) {
			if (off + n > resp.body.len) {
				rc = tv_err_set(err, TV_ECORRUPT, "GET %s: short object", r->url);
				goto done;
			}
			memmove(resp.body.data, resp.body.data + off, n);
			resp.body.len = n;
		}
	} else if (resp.status == 416 && !size_known && off == 0) {
		/* a range of an empty object is not satisfiable: ask for the size */
		if (!(rc = r->g.size(r->g.ctx, r->url, &total, err)) && total != 0)
			rc = tv_err_set(err, TV_ECORRUPT, "GET %s: range refused on an object of %llu bytes",
			                r->url, (unsigned long long)total);
		r->base.size = 0;
		resp.body.len = 0;
	} else {
		rc = tv_http_fail(&resp, "GET", r->url, r->g.auth_hint, err);
		goto done;
	}
	if (!rc) {
		tv_buf_free(&r->win);
		r->win = resp.body;
		r->win_off = off;
		memset(&resp.body, 0, sizeof resp.body);
	}
done:
	free(cr);
	tv_http_resp_free(&resp);
	return rc;
}

int tv_http_rfile_open(const tv_http_getter *g, const struct tv_io_methods *m, const char *url,
                       tv_rfile **out, tv_err *err)
{
	http_r *r = calloc(1, sizeof *r);
	int rc;
	*out = NULL;
	if (!r || !(r->url = tv_strdup(url))) {
		free(r);
		return TV_ENOMEM_SET(err, url);
	}
	r->g = *g;
	r->base.path = r->url;
	r->base.m = m;
	if ((rc = fetch(r, 0, TV_HTTP_WINDOW, 0, err))) {
		tv_http_rfile_close(&r->base);
		return rc;
	}
	if (r->win.len == r->base.size && r->base.size > 0)
		r->base.map = (const uint8_t *)r->win.data; /* the whole object */
	*out = &r->base;
	return 0;
}

int tv_http_rfile_read(tv_rfile *f, uint64_t off, size_t n, void *dst, tv_err *err)
{
	http_r *r = (http_r *)f;
	int rc;
	if (n == 0)
		return 0;
	if (off > f->size || n > f->size - off)
		return tv_err_set(err, TV_ECORRUPT, "%s: read past the end", r->url);
	if (off < r->win_off || off - r->win_off > r->win.len || n > r->win.len - (off - r->win_off)) {
		size_t want = (size_t)TV_MIN((uint64_t)TV_MAX(n, (size_t)TV_HTTP_READAHEAD), f->size - off);
		if ((rc = fetch(r, off, want, 1, err)))
			return rc;
	}
	memcpy(dst, r->win.data + (off - r->win_off), n);
	return 0;
}

void tv_http_rfile_close(tv_rfile *f)
{
	http_r *r = (http_r *)f;
	if (!r)
		return;
	tv_buf_free(&r->win);
	free(r->url);
	free(r);
}

/* ---- listings ------------------------------------------------------- */

static int cmp_entry(const void *a, const void *b)
{
	const tv_io_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : x->is_dir - y->is_dir;
}

void tv_io__entries_unique(tv_io_entry *v, size_t *n)
{
	size_t k = 0;
	if (*n < 2)
		return;
	qsort(v, *n, sizeof *v, cmp_entry);
	for (size_t i = 0; i < *n; i++) {
		if (k > 0 && !cmp_entry(&v[k - 1], &v[i])) {
			free(v[i].name);
			continue;
		}
		v[k++] = v[i];
	}
	*n = k;
}

/* ---- URIs ------------------------------------------------------------- */

int tv_io__split_uri(const char *uri, const char *scheme, char **container, char **prefix,
                     tv_err *err)
{
	size_t sl = strlen(scheme), bl, pl;
	const char *b, *slash, *s;
	*container = *prefix = NULL;
	if (strncmp(uri, scheme, sl))
		return tv_err_set(err, TV_EINVAL, "%s: not a %s URI", uri, scheme);
	b = uri + sl;
	slash = strchr(b, '/');
	bl = slash ? (size_t)(slash - b) : strlen(b);
	if (bl < 3 || bl > 63)
		return tv_err_set(err, TV_EINVAL, "%s: the bucket or container name must have 3 to 63 "
		                  "characters", uri);
	for (size_t i = 0; i < bl; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' ||
		      b[i] == '.'))
			return tv_err_set(err, TV_EINVAL, "%s: '%c' is not allowed in a bucket or "
			                  "container name (a-z, 0-9, '-', '.')", uri, b[i]);
	s = slash ? slash + 1 : b + bl;
	pl = strlen(s);
	while (pl > 0 && s[pl - 1] == '/')
		pl--;
	for (size_t i = 0; i < pl;) {
		size_t j = i;
		while (j < pl && s[j] != '/')
			j++;
		if (j == i || (j - i == 1 && s[i] == '.') || (j - i == 2 && s[i] == '.' && s[i + 1] == '.'))
			return tv_err_set(err, TV_EINVAL, "%s: empty, '.' or '..' path component", uri);
		i = j + 1;
	}
	*container = tv_strndup(b, bl);
	*prefix = pl ? tv_sprintf("%.*s/", (int)pl, s) : tv_strdup("");
	if (!*container || !*prefix) {
		free(*container);
		free(*prefix);
		*container = *prefix = NULL;
		return TV_ENOMEM_SET(err, uri);
	}
	return 0;
}

/* ---- listings (shared by s3.c and azure.c) ---------------------------- */

int tv_http_entries_add(tv_http_entries *e, const char *name, size_t len, uint64_t size,
                        int64_t mtime, int is_dir)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 32;
		tv_io_entry *nv = tv_reallocarray(e->v, cap, sizeof *nv);
		if (!nv)
			return TV_ENOMEM;
		e->v = nv;
		e->cap = cap;
	}
	memset(&e->v[e->n], 0, sizeof e->v[e->n]);
	if (!(e->v[e->n].name = tv_strndup(name, len)))
		return TV_ENOMEM;
	e->v[e->n].size = size;
	e->v[e->n].mtime_ns = mtime;
	e->v[e->n].is_dir = is_dir;
	e->n++;
	return 0;
}

/* The name of key under prefix p: NULL for the prefix itself ("dir/"
 * markers) and for anything with a '/' left in it. Keys outside p are a
 * service fault. */
int tv_http_child_name(const char *key, const char *p, int is_dir, const char **name,
                       size_t *len)
{
	size_t pl = strlen(p), kl = strlen(key);
	*name = NULL;
	if (kl < pl || memcmp(key, p, pl))
		return -1;
	key += pl;
	kl -= pl;
	if (is_dir) {
		if (kl < 2 || key[kl - 1] != '/')
			return kl == 0 ? 0 : -1;
		kl--;
	}
	if (kl == 0 || memchr(key, '/', kl))
		return 0;
	*name = key;
	*len = kl;
	return 0;
}

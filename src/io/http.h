/*
 * A small HTTP client over one libcurl easy handle, shared by the object
 * storage backends (io/s3.c, io/azure.c).
 *
 *  - One tv_http per tv_io: the easy handle (and so its connection cache)
 *    is reused from request to request. Not thread-safe: a tv_http is used
 *    by one thread at a time, like the tv_io that owns it.
 *  - A request is retried, with exponential backoff and jitter, when the
 *    connection fails or the service answers 429 or 5xx; a retried
 *    request is signed again (the sign callback runs before each attempt).
 *  - Whatever the service sends back is hostile: the body is capped
 *    (max_body), headers are kept in a bounded buffer, and the helpers
 *    below that pick values out of XML never read past the given length.
 */
#ifndef TV_IO_HTTP_H
#define TV_IO_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "io/io.h"
#include "util/common.h"
#include "util/err.h"

typedef struct tv_http tv_http;
struct tv_http_req;

/* Adds the headers of one attempt (e.g. a date and a signature) to *hdrs,
 * a NULL-terminated array of "Name: value" strings the callee allocates
 * with malloc and tv_http frees. Returns 0 or a TV_E* code. */
typedef int (*tv_http_sign_fn)(void *ctx, const struct tv_http_req *req, char ***hdrs,
                               tv_err *err);

typedef struct tv_http_req {
	const char *method;         /* "GET", "HEAD", "PUT", "POST", "DELETE" */
	const char *url;            /* fully encoded */
	const char *const *headers; /* NULL-terminated "Name: value", or NULL */
	const void *body;           /* PUT or POST body (may be NULL when body_len is 0) */
	size_t body_len;
	size_t max_body;            /* a longer response body is TV_EIO; 0 = 64 MiB */
	const char *aws_sigv4;      /* CURLOPT_AWS_SIGV4 ("aws:amz:REGION:s3"), or NULL */
	const char *aws_key;        /* the access key id and secret for aws_sigv4 */
	const char *aws_secret;
	tv_http_sign_fn sign;       /* optional, called before each attempt */
	void *sign_ctx;
	/* Added for the HTTP embedders (embed/http_*.c); 0 keeps the defaults. */
	long timeout_s;             /* a whole attempt may take this long; 0 = no limit */
	long retry_after_max_s;     /* honour a Retry-After of a 429 or 503 up to this */
} tv_http_req;

typedef struct tv_http_resp {
	long status;      /* the HTTP status of the last attempt */
	int attempts;     /* how many attempts were made (1 = no retry) */
	tv_buf body;      /* the response body (NUL-terminated when not empty) */
	tv_buf headers;   /* the raw response headers of the last attempt */
} tv_http_resp;

/* Creates a client. Settings from the environment: TV_HTTP_RETRIES
 * (attempts after the first, default 4), TV_HTTP_TIMEOUT (seconds a
 * transfer may stall, default 30), TV_HTTP_CONNECT_TIMEOUT (default 10). */
int tv_http_new(tv_http **out, tv_err *err);
void tv_http_free(tv_http *h);

/* Performs req, retrying as described above. Returns 0 once a response
 * arrived (whatever its status: the caller maps it, see tv_http_fail) or
 * TV_EIO naming the URL when the transfer failed on every attempt.
 * resp is reset first; free it with tv_http_resp_free. */
int tv_http_do(tv_http *h, const tv_http_req *req, tv_http_resp *resp, tv_err *err);
void tv_http_resp_free(tv_http_resp *resp);

/* The value of response header name (case-insensitive), copied into a
 * fresh string with surrounding blanks removed; NULL when absent. */
char *tv_http_header(const tv_http_resp *resp, const char *name);

/* Sets err for a failed request: "<what> <url>: HTTP <status> <Code>:
 * <Message>" with Code and Message taken from an XML error body (or the
 * x-ms-error-code header) when there is one, and auth_hint appended for
 * 401 and 403. The code is TV_ENOTFOUND for 404, TV_EEXISTS for 409 and
 * 412, TV_EPERM for 401 and 403, TV_EIO otherwise. Returns the code. */
int tv_http_fail(const tv_http_resp *resp, const char *what, const char *url,
                 const char *auth_hint, tv_err *err);

/* ---- remote objects read in windows ---------------------------------
 *
 * Opening GETs the first TV_HTTP_WINDOW bytes with a Range header: one
 * round trip gives the size (Content-Range) and, for an object no larger
 * than that, the whole object, exposed as tv_rfile.map. Later reads are
 * served from the last window fetched, or fetch a new window of at least
 * TV_HTTP_READAHEAD bytes. The backend supplies the ranged GET (its
 * signing and range header) and a HEAD for the size of empty objects. */
#define TV_HTTP_WINDOW (1u << 20)
#define TV_HTTP_READAHEAD (256u << 10)

typedef struct tv_http_getter {
	/* GET url for bytes [off, off + n) into resp (any status) */
	int (*get)(void *ctx, const char *url, uint64_t off, size_t n, tv_http_resp *resp,
	           tv_err *err);
	/* the size of the object at url (HEAD), or an error */
	int (*size)(void *ctx, const char *url, uint64_t *size, tv_err *err);
	void *ctx;
	const char *auth_hint; /* for tv_http_fail */
} tv_http_getter;

/* Opens url for reading; *out is closed with tv_rfile_close (which calls
 * the close_read of methods, which must call tv_http_rfile_close). */
int tv_http_rfile_open(const tv_http_getter *g, const struct tv_io_methods *m, const char *url,
                       tv_rfile **out, tv_err *err);
int tv_http_rfile_read(tv_rfile *f, uint64_t off, size_t n, void *dst, tv_err *err);
void tv_http_rfile_close(tv_rfile *f);

/* Sorts a listing by name (directories after files of the same name) and
 * drops repeated entries: a paged listing may repeat a prefix. */
void tv_io__entries_unique(tv_io_entry *v, size_t *n);

/* Parses a Content-Range value "bytes START-END/TOTAL"; -1 if malformed
 * or inconsistent (END < START, END >= TOTAL). */
int tv_http_parse_content_range(const char *s, uint64_t *start, uint64_t *end, uint64_t *total);
/* Parses a decimal uint64 (all of s[0..n), no sign, no overflow). */
int tv_http_parse_u64(const char *s, size_t n, uint64_t *out);

/* ---- helpers for the backends (also used by the unit tests) ---------- */

/* Splits "s3:" "//bucket/a/b/" (scheme "s3:" "//") into the bucket or container
 * and the key prefix "a/b/" ("" for none; a trailing '/' is added). Path
 * components may not be empty, "." or ".."; names have 3 to 63 of
 * [a-z0-9.-]. TV_EINVAL naming the URI otherwise. */
int tv_io__split_uri(const char *uri, const char *scheme, char **container, char **prefix,
                     tv_err *err);

/* Appends s percent-encoded as AWS and Azure canonicalise it: A-Z a-z
 * 0-9 - _ . ~ are kept, '/' is kept when keep_slash, the rest is %XX
 * (upper-case hex). */
int tv_http_urlencode(tv_buf *b, const char *s, int keep_slash);

/* Finds the first element <tag>...</tag> (or <tag/>, or <tag attr...>) in
 * xml[0..n). On success *val and *vlen give its raw (still escaped) content
 * and *end the offset just past the closing tag; returns 1. Returns 0
 * when there is no complete element. */
int tv_xml_find(const char *xml, size_t n, const char *tag, const char **val, size_t *vlen,
                size_t *end);
/* The unescaped text of an element's content: &lt; &gt; &amp; &quot;
 * &apos; and numeric references (to UTF-8); NULL on a malformed reference,
 * a NUL character or no memory. */
char *tv_xml_text(const char *val, size_t vlen);
/* tv_xml_find then tv_xml_text; NULL when absent or malformed. */
char *tv_xml_get(const char *xml, size_t n, const char *tag);

/* Azure Shared Key (io/azure.c). The string to sign of a request:
 * content_length 0 signs as empty; xms holds the x-ms-* headers as
 * "name:value" (lower-case names, any order; at most 8); path is the URL's
 * encoded path; query holds name, value pairs (lower-case names, decoded
 * values; at most 16 pairs), NULL-terminated. NULL on no memory or too
 * many. Caller frees. */
char *tv_azure__string_to_sign(const char *verb, size_t content_length, const char *content_type,
                               const char *if_none_match, const char *const *xms,
                               const char *account, const char *path,
                               const char *const *query);
/* base64(HMAC-SHA256(key, sts)) into out (44 characters + NUL); 0 or -1. */
int tv_azure__sign(const unsigned char *key, size_t key_len, const char *sts, char out[64]);
/* Decodes standard padded base64 of at most 128 bytes; -1 if malformed. */
int tv_azure__base64_decode(const char *s, unsigned char *out, size_t cap, size_t *len);

/* Parses "2024-01-02T03:04:05.123Z" (ISO 8601, as in S3 listings) or
 * "Tue, 02 Jan 2024 03:04:05 GMT" (RFC 1123, as in HTTP headers and Azure
 * listings) into ns since the epoch. Returns 0, or -1 if malformed. */
int tv_http_parse_time(const char *s, size_t n, int64_t *ns);
/* Formats t (seconds since the epoch) as an RFC 1123 date; out >= 30. */
void tv_http_format_time(int64_t t, char *out, size_t cap);

/* A growing listing; add copies name[0..len). */
typedef struct tv_http_entries {
	tv_io_entry *v;
	size_t n, cap;
} tv_http_entries;
int tv_http_entries_add(tv_http_entries *e, const char *name, size_t len, uint64_t size,
                        int64_t mtime, int is_dir);
/* The name of key under prefix p: NULL for the prefix itself ("dir/"
 * markers) and for anything with a '/' left in it; -1 for a key outside
 * p (a service fault). */
int tv_http_child_name(const char *key, const char *p, int is_dir, const char **name,
                       size_t *len);

#endif

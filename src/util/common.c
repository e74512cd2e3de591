#include "util/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include "teavec.h"

#define HUGE_MIN ((size_t)4 << 20)
#define HUGE_PAGE ((uintptr_t)2 << 20)

/* Large buffers are filled once and read a few times (samples, batches,
 * columns): transparent huge pages where the system offers them, one page
 * fault per 2 MiB instead of one per 4 KiB. A hint; nothing if refused. */
static void *huge_hint(void *p, size_t n)
{
	uintptr_t b = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	uintptr_t e = ((uintptr_t)p + n) & ~(HUGE_PAGE - 1);
	if (p && n >= HUGE_MIN && e > b)
		madvise((void *)b, e - b, MADV_HUGEPAGE);
	return p;
}

void *tv_mallocarray(size_t n, size_t size)
{
	size_t total;
	if (tv_mul_overflow(n, size, &total))
		return NULL;
	return huge_hint(malloc(total ? total : 1), total);
}

void *tv_reallocarray(void *p, size_t n, size_t size)
{
	size_t total;
	if (tv_mul_overflow(n, size, &total))
		return NULL;
	return huge_hint(realloc(p, total ? total : 1), total);
}

char *tv_strdup(const char *s)
{
	return s ? tv_strndup(s, strlen(s)) : NULL;
}

char *tv_strndup(const char *s, size_t n)
{
	char *r;
	if (!s || n == SIZE_MAX)
		return NULL;
	r = malloc(n + 1);
	if (r) {
		memcpy(r, s, n);
		r[n] = '\0';
	}
	return r;
}

char *tv_sprintf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *r;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !(r = malloc((size_t)n + 1)))
		return NULL;
	va_start(ap, fmt);
	vsnprintf(r, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return r;
}

bool tv_utf8_valid(const char *str, size_t n, size_t *bad_at)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t len;
		uint32_t cp, min;
		if (c < 0x80) {
			uint64_t w;
			i++;
			/* ASCII runs 8 bytes at a time */
			while (n - i >= 8 && (memcpy(&w, s + i, 8), !(w & 0x8080808080808080ULL)))
				i += 8;
			continue;
		}
		if ((c & 0xE0) == 0xC0) {
			len = 2; cp = c & 0x1F; min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			len = 3; cp = c & 0x0F; min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			len = 4; cp = c & 0x07; min = 0x10000;
		} else {
			goto bad;
		}
		if (n - i < len)
			goto bad;
		for (size_t j = 1; j < len; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				goto bad;
			cp = (cp << 6) | (s[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			goto bad;
		i += len;
	}
	return true;
bad:
	if (bad_at)
		*bad_at = i;
	return false;
}

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

uint64_t tv_hash64_seed(const void *data, size_t n, uint64_t seed)
{
	/* 8 bytes at a time with a multiply-rotate mix, then a finaliser: fast
	 * and well distributed; not cryptographic. */
	const unsigned char *p = data;
	uint64_t h = seed ^ (n * 0x9E3779B97F4A7C15ULL);
	while (n >= 8) {
		uint64_t k;
		memcpy(&k, p, 8);
		h ^= mix64(k);
		h = rotl64(h, 27) * 0x9E3779B97F4A7C15ULL + 0x52dce729;
		p += 8;
		n -= 8;
	}
	if (n) {
		uint64_t k = 0;
		memcpy(&k, p, n);
		h ^= mix64(k ^ ((uint64_t)n << 56));
	}
	return mix64(h);
}

uint64_t tv_hash64(const void *data, size_t n) { return tv_hash64_seed(data, n, 0); }

int tv_random_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;
	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return TV_EIO;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int tv_uuid4(char out[37])
{
	unsigned char b[16];
	int rc = tv_random_bytes(b, sizeof b);
	if (rc)
		return rc;
	b[6] = (b[6] & 0x0F) | 0x40;
	b[8] = (b[8] & 0x3F) | 0x80;
	snprintf(out, 37,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
	         b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

int64_t tv_time_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

double tv_monotonic_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int tv_buf_reserve(tv_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;
	if (tv_add_overflow(b->len, extra, &need) || tv_add_overflow(need, 1, &need))
		return TV_ENOMEM;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need) {
		if (tv_mul_overflow(cap, 2, &cap))
			return TV_ENOMEM;
	}
	if (!(p = realloc(b->data, cap)))
		return TV_ENOMEM;
	b->data = huge_hint(p, cap);
	b->cap = cap;
	return 0;
}

int tv_buf_append(tv_buf *b, const void *data, size_t n)
{
	int rc = tv_buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int tv_buf_printf(tv_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return TV_EINVAL;
	if ((rc = tv_buf_reserve(b, (size_t)n)))
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void tv_buf_free(tv_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

double tv_trace(const char *what, double t0)
{
	static int on = -1;
	double now = tv_monotonic_s();
	if (on < 0)
		on = getenv("TEAVEC_TRACE") != NULL;
	if (on && what)
		fprintf(stderr, "teavec: %s %.3f s\n", what, now - t0);
	return now;
}

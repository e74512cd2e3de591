/*
 * Small helpers every layer uses: checked sizes, allocation, strings,
 * UTF-8 validation, hashing, random ids, time.
 */
#ifndef TV_UTIL_COMMON_H
#define TV_UTIL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TV_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define TV_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TV_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Overflow-checked arithmetic: return true on overflow. */
static inline bool tv_mul_overflow(size_t a, size_t b, size_t *out)
{
	return __builtin_mul_overflow(a, b, out);
}
static inline bool tv_add_overflow(size_t a, size_t b, size_t *out)
{
	return __builtin_add_overflow(a, b, out);
}

/* malloc(n * size) with overflow check; NULL on overflow or failure. */
void *tv_mallocarray(size_t n, size_t size);
void *tv_reallocarray(void *p, size_t n, size_t size);
/* strdup / strndup that accept NULL (returning NULL). */
char *tv_strdup(const char *s);
char *tv_strndup(const char *s, size_t n);
/* asprintf into a fresh string; NULL on failure. */
char *tv_sprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF). *bad_at receives the offset of the first bad
 * byte when false. */
bool tv_utf8_valid(const char *s, size_t n, size_t *bad_at);

/* 64-bit hashes (FNV-1a for short keys, a fast mixing hash for blobs). */
uint64_t tv_hash64(const void *data, size_t n);
uint64_t tv_hash64_seed(const void *data, size_t n, uint64_t seed);

/* Cryptographically random bytes (getrandom); returns 0 or TV_EIO. */
int tv_random_bytes(void *buf, size_t n);
/* A random UUIDv4 as 36 characters + NUL. */
int tv_uuid4(char out[37]);

/* When TEAVEC_TRACE is set: prints "teavec: <what> <seconds since t0>" to
 * stderr (phase timings of long operations such as index builds) and
 * returns now; else just returns now. */
double tv_trace(const char *what, double t0);

/* Wall-clock time in nanoseconds since the epoch; monotonic seconds. */
int64_t tv_time_ns(void);
double tv_monotonic_s(void);

/* A growable byte buffer. */
typedef struct tv_buf {
	char *data;
	size_t len, cap;
} tv_buf;
int tv_buf_reserve(tv_buf *b, size_t extra);
int tv_buf_append(tv_buf *b, const void *data, size_t n);
int tv_buf_printf(tv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tv_buf_free(tv_buf *b);

#endif

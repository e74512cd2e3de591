/*
 * An open-addressing hash index from string keys to size_t values, for
 * "which row holds this id". The map stores only (hash, value) pairs; the
 * keys live in the caller's storage and are fetched through key_of, so a
 * million ids cost 16 bytes each here and are never copied.
 *
 * Linear probing with backward-shift deletion (no tombstones); the table
 * stays at most 70% full.
 */
#ifndef TV_UTIL_STRMAP_H
#define TV_UTIL_STRMAP_H

#include <stddef.h>
#include <stdint.h>

/* Returns the key stored for value v (and its length). */
typedef const char *(*tv_strmap_key_fn)(const void *ctx, size_t v, size_t *len);

typedef struct tv_strmap_slot {
	uint64_t hash; /* 0 = empty (real hashes are forced non-zero) */
	size_t val;
} tv_strmap_slot;

typedef struct tv_strmap {
	tv_strmap_slot *slots;
	size_t cap, n; /* cap is 0 or a power of two */
	tv_strmap_key_fn key_of;
	const void *ctx;
} tv_strmap;

#define TV_STRMAP_NONE ((size_t)-1)

void tv_strmap_init(tv_strmap *m, tv_strmap_key_fn key_of, const void *ctx);
void tv_strmap_free(tv_strmap *m);
/* Makes room for `extra` more keys without further allocation; 0 or TV_ENOMEM. */
int tv_strmap_reserve(tv_strmap *m, size_t extra);
/* Value for key, or TV_STRMAP_NONE. */
size_t tv_strmap_get(const tv_strmap *m, const char *key, size_t len);
/* Inserts or overwrites key -> val. Needs room (reserve first, or it grows
 * and may return TV_ENOMEM). */
int tv_strmap_put(tv_strmap *m, const char *key, size_t len, size_t val);
/* Inserts key -> val unless key is there: returns TV_STRMAP_NONE when it
 * inserted, else the value already stored (left as it is). One probe where
 * a get then a put take two. Needs room as tv_strmap_put; on TV_ENOMEM
 * *rc is set and nothing is inserted. */
size_t tv_strmap_insert(tv_strmap *m, const char *key, size_t len, size_t val, int *rc);
/* The same, with the key's hash computed apart (tv_strmap_hash), so that
 * a loop over many keys can prefetch the slot of a key some steps ahead
 * while it probes this one: a map of a million ids is far bigger than the
 * caches, and each probe would otherwise wait for memory. hash must be
 * tv_strmap_hash(key, len). */
uint64_t tv_strmap_hash(const char *key, size_t len);
void tv_strmap_prefetch(const tv_strmap *m, uint64_t hash);
size_t tv_strmap_get_h(const tv_strmap *m, const char *key, size_t len, uint64_t hash);
size_t tv_strmap_insert_h(tv_strmap *m, const char *key, size_t len, uint64_t hash, size_t val,
                          int *rc);
/* Removes key; returns its value or TV_STRMAP_NONE. */
size_t tv_strmap_del(tv_strmap *m, const char *key, size_t len);

#endif

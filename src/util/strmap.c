#include "util/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "teavec.h"
#include "util/common.h"
#include "util/hugemem.h"

static uint64_t key_hash(const char *key, size_t len)
{
	uint64_t h = tv_hash64(key, len);
	return h ? h : 1;
}

uint64_t tv_strmap_hash(const char *key, size_t len) { return key_hash(key, len); }

void tv_strmap_prefetch(const tv_strmap *m, uint64_t hash)
{
	if (m->cap)
		__builtin_prefetch(&m->slots[hash & (m->cap - 1)]);
}

void tv_strmap_init(tv_strmap *m, tv_strmap_key_fn key_of, const void *ctx)
{
	memset(m, 0, sizeof *m);
	m->key_of = key_of;
	m->ctx = ctx;
}

void tv_strmap_free(tv_strmap *m)
{
	tv_huge_free(m->slots, m->cap * sizeof *m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}

static int rehash(tv_strmap *m, size_t cap)
{
	tv_strmap_slot *old = m->slots, *slots;
	size_t oldcap = m->cap;
	slots = tv_huge_calloc(cap * sizeof *slots); /* probed at random */
	if (!slots)
		return TV_ENOMEM;
	for (size_t i = 0; i < oldcap; i++) {
		size_t j;
		if (!old[i].hash)
			continue;
		for (j = old[i].hash & (cap - 1); slots[j].hash; j = (j + 1) & (cap - 1))
			;
		slots[j] = old[i];
	}
	tv_huge_free(old, oldcap * sizeof *old);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

int tv_strmap_reserve(tv_strmap *m, size_t extra)
{
	size_t need, cap = m->cap ? m->cap : 16;
	if (tv_add_overflow(m->n, extra, &need) || need > SIZE_MAX / 64) /* cap * 16 bytes cannot wrap */
		return TV_ENOMEM;
	while (need * 10 > cap * 7)
		cap *= 2;
	return cap == m->cap ? 0 : rehash(m, cap);
}

static size_t find(const tv_strmap *m, const char *key, size_t len, uint64_t h)
{
	if (!m->cap)
		return TV_STRMAP_NONE;
	for (size_t j = h & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
		size_t klen;
		const char *k;
		if (!m->slots[j].hash)
			return TV_STRMAP_NONE;
		if (m->slots[j].hash != h)
			continue;
		k = m->key_of(m->ctx, m->slots[j].val, &klen);
		if (klen == len && !memcmp(k, key, len))
			return j;
	}
}

size_t tv_strmap_get(const tv_strmap *m, const char *key, size_t len)
{
	return tv_strmap_get_h(m, key, len, key_hash(key, len));
}

size_t tv_strmap_get_h(const tv_strmap *m, const char *key, size_t len, uint64_t hash)
{
	size_t j = find(m, key, len, hash);
	return j == TV_STRMAP_NONE ? TV_STRMAP_NONE : m->slots[j].val;
}

int tv_strmap_put(tv_strmap *m, const char *key, size_t len, size_t val)
{
	uint64_t h = key_hash(key, len);
	size_t j = find(m, key, len, h);
	int rc;
	if (j != TV_STRMAP_NONE) {
		m->slots[j].val = val;
		return 0;
	}
	if ((rc = tv_strmap_reserve(m, 1)))
		return rc;
	for (j = h & (m->cap - 1); m->slots[j].hash; j = (j + 1) & (m->cap - 1))
		;
	m->slots[j].hash = h;
	m->slots[j].val = val;
	m->n++;
	return 0;
}

size_t tv_strmap_insert(tv_strmap *m, const char *key, size_t len, size_t val, int *rc)
{
	return tv_strmap_insert_h(m, key, len, key_hash(key, len), val, rc);
}

size_t tv_strmap_insert_h(tv_strmap *m, const char *key, size_t len, uint64_t h, size_t val,
                          int *rc)
{
	size_t j;
	if ((*rc = tv_strmap_reserve(m, 1)))
		return TV_STRMAP_NONE;
	for (j = h & (m->cap - 1); m->slots[j].hash; j = (j + 1) & (m->cap - 1)) {
		size_t klen;
		const char *k;
		if (m->slots[j].hash != h)
			continue;
		k = m->key_of(m->ctx, m->slots[j].val, &klen);
		if (klen == len && !memcmp(k, key, len))
			return m->slots[j].val;
	}
	m->slots[j].hash = h;
	m->slots[j].val = val;
	m->n++;
	return TV_STRMAP_NONE;
}

size_t tv_strmap_del(tv_strmap *m, const char *key, size_t len)
{
	size_t j = find(m, key, len, key_hash(key, len)), val, mask = m->cap - 1;
	if (j == TV_STRMAP_NONE)
		return TV_STRMAP_NONE;
	val = m->slots[j].val;
	/* backward-shift: pull later members of the probe run into the hole */
	for (size_t i = (j + 1) & mask;; i = (i + 1) & mask) {
		size_t home;
		if (!m->slots[i].hash)
			break;
		home = m->slots[i].hash & mask;
		/* slot i may move to j if its home is not in (j, i] cyclically */
		if ((i > j && (home <= j || home > i)) || (i < j && (home <= j && home > i))) {
			m->slots[j] = m->slots[i];
			j = i;
		}
	}
	m->slots[j].hash = 0;
	m->n--;
	return val;
}

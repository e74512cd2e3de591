/* util: the string hash map (every operation, against a plain reference,
 * through growth to a table big enough for huge pages) and the huge-page
 * allocator. */
#include <stdint.h>

#include "teavec.h"
#include "tv_test.h"
#include "util/hugemem.h"
#include "util/strmap.h"

#define NKEYS 300000 /* > 262,144 slots x 16 bytes: the table reaches TV_HUGE_MIN */

static char (*keys)[16];

static const char *key_of(const void *ctx, size_t v, size_t *len)
{
	(void)ctx;
	*len = strlen(keys[v]);
	return keys[v];
}

/* ref[i]: the value key i should map to, or TV_STRMAP_NONE. */
static int agrees(const tv_strmap *m, const size_t *ref, size_t n)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += tv_strmap_get(m, keys[i], strlen(keys[i])) != ref[i];
	return bad == 0;
}

static void test_strmap_matches_a_reference_through_growth(void)
{
	tv_strmap m;
	size_t *ref = malloc(NKEYS * sizeof *ref), n = 0;
	int rc = 0;
	keys = calloc(NKEYS, sizeof *keys);
	REQUIRE(ref && keys);
	for (size_t i = 0; i < NKEYS; i++) {
		snprintf(keys[i], sizeof keys[i], "k%zu", i * 7919);
		ref[i] = TV_STRMAP_NONE;
	}
	tv_strmap_init(&m, key_of, NULL);
	CHECK_EQ_INT(tv_strmap_get(&m, "k0", 2), TV_STRMAP_NONE); /* empty, no table */
	/* a third by put, a third by insert, a third by insert_h with prefetch */
	for (size_t i = 0; i < NKEYS; i++) {
		const char *k = keys[i];
		size_t len = strlen(k), got;
		if (i % 3 == 0) {
			CHECK_EQ_INT(tv_strmap_put(&m, k, len, i), 0);
		} else if (i % 3 == 1) {
			got = tv_strmap_insert(&m, k, len, i, &rc);
			CHECK_EQ_INT(got, TV_STRMAP_NONE);
			CHECK_EQ_INT(rc, 0);
		} else {
			uint64_t h = tv_strmap_hash(k, len);
			tv_strmap_prefetch(&m, h);
			CHECK(h != 0);
			got = tv_strmap_insert_h(&m, k, len, h, i, &rc);
			CHECK_EQ_INT(got, TV_STRMAP_NONE);
			CHECK_EQ_INT(tv_strmap_get_h(&m, k, len, h), i);
		}
		ref[i] = i;
		n++;
	}
	CHECK_EQ_INT(m.n, n);
	CHECK(m.cap * sizeof *m.slots >= TV_HUGE_MIN);
	CHECK(agrees(&m, ref, NKEYS));
	/* insert of a present key returns its value and changes nothing */
	CHECK_EQ_INT(tv_strmap_insert(&m, keys[5], strlen(keys[5]), 99, &rc), 5);
	CHECK_EQ_INT(tv_strmap_get(&m, keys[5], strlen(keys[5])), 5);
	CHECK_EQ_INT(m.n, n);
	/* put of a present key overwrites (the value must still name the key) */
	CHECK_EQ_INT(tv_strmap_put(&m, keys[6], strlen(keys[6]), 6), 0);
	CHECK_EQ_INT(m.n, n);
	/* absent keys: a prefix, a longer key, another hash */
	CHECK_EQ_INT(tv_strmap_get(&m, "k", 1), TV_STRMAP_NONE);
	CHECK_EQ_INT(tv_strmap_get(&m, "k79191", 6), TV_STRMAP_NONE);
	CHECK_EQ_INT(tv_strmap_get(&m, "", 0), TV_STRMAP_NONE);
	/* deleting every other key keeps the rest findable (backward shift) */
	for (size_t i = 0; i < NKEYS; i += 2) {
		CHECK_EQ_INT(tv_strmap_del(&m, keys[i], strlen(keys[i])), i);
		ref[i] = TV_STRMAP_NONE;
		n--;
	}
	CHECK_EQ_INT(tv_strmap_del(&m, keys[0], strlen(keys[0])), TV_STRMAP_NONE);
	CHECK_EQ_INT(m.n, n);
	CHECK(agrees(&m, ref, NKEYS));
	/* and re-inserting them lands them again */
	for (size_t i = 0; i < NKEYS; i += 2) {
		CHECK_EQ_INT(tv_strmap_insert(&m, keys[i], strlen(keys[i]), i, &rc), TV_STRMAP_NONE);
		ref[i] = i;
	}
	CHECK(agrees(&m, ref, NKEYS));
	tv_strmap_free(&m);
	CHECK(m.slots == NULL && m.cap == 0 && m.n == 0);
	free(ref);
	free(keys);
}

static void test_huge_blocks_are_zeroed_aligned_and_usable(void)
{
	static const size_t sizes[] = {1, 4096, (4u << 20) - 1, 4u << 20, (5u << 20) + 3, 64u << 20};
	for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
		size_t n = sizes[k], nonzero = 0;
		unsigned char *p = tv_huge_calloc(n);
		REQUIRE(p);
		for (size_t i = 0; i < n; i++)
			nonzero += p[i] != 0;
		CHECK_EQ_INT(nonzero, 0);
		if (n >= TV_HUGE_MIN) /* mapped on its own, on a 2 MiB boundary */
			CHECK_EQ_INT((uintptr_t)p % (2u << 20), 0);
		memset(p, 0xa5, n); /* every byte writable (ASan checks the small ones) */
		CHECK(p[n - 1] == 0xa5 && p[0] == 0xa5);
		tv_huge_free(p, n);
	}
	tv_huge_free(NULL, 1);
	tv_huge_free(NULL, 64u << 20);
}

int main(void)
{
	TV_RUN(test_strmap_matches_a_reference_through_growth);
	TV_RUN(test_huge_blocks_are_zeroed_aligned_and_usable);
	TV_TEST_END();
}

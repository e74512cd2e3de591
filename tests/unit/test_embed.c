/* The embedder factory and the built-in hash embedder. */
#include "teavec.h"
#include "tv_test.h"

static tv_embedder *open_hash(const char *settings)
{
	tv_embedder *e = NULL;
	if (tv_embedder_open(&e, settings))
		fprintf(stderr, "open: %s\n", tv_last_errmsg());
	return e;
}

static double cosine(const float *a, const float *b, size_t d)
{
	double s = 0;
	for (size_t i = 0; i < d; i++)
		s += (double)a[i] * b[i];
	return s; /* both unit length */
}

static void test_hash_is_deterministic_normalised_and_sized(void)
{
	tv_embedder *e = open_hash("{\"embedding_dimensions\": 64}"), *d = open_hash(NULL);
	const char *t[2] = {"The quick brown fox", "The quick brown fox"};
	float v[128], w[256];
	double n = 0;
	REQUIRE(e && d);
	CHECK_EQ_INT(tv_embedder_dim(e), 64);
	CHECK_EQ_INT(tv_embedder_dim(d), 256);
	CHECK_EQ_STR(tv_embedder_id(e), "hash:v1:64");
	CHECK_EQ_INT(tv_embedder_embed(e, t, 2, v), 0);
	CHECK(memcmp(v, v + 64, 64 * sizeof(float)) == 0);
	for (int i = 0; i < 64; i++)
		n += (double)v[i] * v[i];
	CHECK_NEAR(n, 1.0, 1e-5);
	CHECK_EQ_INT(tv_embedder_embed(d, t, 1, w), 0);
	tv_embedder_free(e);
	tv_embedder_free(d);
}

static void test_hash_similar_texts_are_nearer_than_unrelated(void)
{
	tv_embedder *e = open_hash(NULL);
	const char *t[4] = {"how are manifests committed to the table",
	                    "Manifests are COMMITTED with link() to the table directory",
	                    "bananas grow in tropical climates",
	                    "table committed manifests are how to"};
	float v[4 * 256];
	REQUIRE(e);
	REQUIRE(tv_embedder_embed(e, t, 4, v) == 0);
	CHECK(cosine(v, v + 256, 256) > cosine(v, v + 512, 256) + 0.2);
	/* bigrams make word order matter: a shuffle is close but not identical */
	CHECK(cosine(v, v + 768, 256) < 0.999);
	CHECK(cosine(v, v + 768, 256) > cosine(v, v + 256, 256));
	tv_embedder_free(e);
}

static void test_hash_edge_texts(void)
{
	tv_embedder *e = open_hash(NULL);
	const char *t[3] = {"", "  ,.;!  ", "caf\xc3\xa9 \xff\xfe bad utf8"};
	float v[3 * 256];
	int zero = 1;
	REQUIRE(e);
	CHECK_EQ_INT(tv_embedder_embed(e, t, 3, v), 0);
	for (int i = 0; i < 512; i++)
		zero &= v[i] == 0.0f;
	CHECK(zero);
	CHECK(cosine(v + 512, v + 512, 256) > 0.99);
	t[0] = NULL;
	CHECK_EQ_INT(tv_embedder_embed(e, t, 1, v), TV_EINVAL);
	CHECK(strstr(tv_embedder_errmsg(e), "texts[0]") != NULL);
	tv_embedder_free(e);
}

static void test_factory_errors_name_the_key(void)
{
	tv_embedder *e = NULL;
	CHECK_EQ_INT(tv_embedder_open(&e, "{\"embedding_provider\": \"magic\"}"), TV_EINVAL);
	CHECK(strstr(tv_last_errmsg(), "embedding_provider") != NULL);
	CHECK_EQ_INT(tv_embedder_open(&e, "{\"embedding_dimensions\": 0}"), TV_EINVAL);
	CHECK(strstr(tv_last_errmsg(), "embedding_dimensions") != NULL);
	CHECK_EQ_INT(tv_embedder_open(&e, "[1]"), TV_EINVAL);
	CHECK(e == NULL);
}

int main(void)
{
	TV_RUN(test_hash_is_deterministic_normalised_and_sized);
	TV_RUN(test_hash_similar_texts_are_nearer_than_unrelated);
	TV_RUN(test_hash_edge_texts);
	TV_RUN(test_factory_errors_name_the_key);
	TV_TEST_END();
}

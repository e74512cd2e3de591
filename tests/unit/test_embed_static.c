/*
 * The static embedder: GloVe and word2vec text models, the one-time
 * conversion to .tvwv, SIF weighting, and damaged or missing files. The
 * expected vectors are computed here from the text files' numbers with
 * the documented formula (w = a / (a + 1 / (rank * H_N)), a = 1e-3).
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "teavec.h"
#include "tv_test.h"

static char dir[4096];

static const char *write_file(const char *name, const char *text)
{
	static char path[4200];
	FILE *f;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return path;
}

static tv_embedder *open_static(const char *path, const char *extra, int *rc)
{
	char s[8500];
	tv_embedder *e = NULL;
	snprintf(s, sizeof s, "{\"embedding_provider\": \"static\", \"embedding_model_path\": \"%s\"%s}",
	         path, extra ? extra : "");
	*rc = tv_embedder_open(&e, s);
	return e;
}

/* The expected embedding: sum over tokens of w(rank) * v, normalised. */
static void expect_sif(const double (*vecs)[3], const int *ranks, int ntok, int nlines,
                       size_t dim, double *out)
{
	double h = 0, norm = 0;
	for (int k = 1; k <= nlines; k++)
		h += 1.0 / k;
	memset(out, 0, dim * sizeof *out);
	for (int t = 0; t < ntok; t++) {
		double p = 1.0 / (ranks[t] * h), w = 1e-3 / (1e-3 + p);
		for (size_t i = 0; i < dim; i++)
			out[i] += w * vecs[t][i];
	}
	for (size_t i = 0; i < dim; i++)
		norm += out[i] * out[i];
	for (size_t i = 0; i < dim; i++)
		out[i] /= sqrt(norm);
}

/* GloVe: no header. "Paris" is keyed "paris"; the later "PARIS" folds to
 * it and is ignored; "don't" can never be a token but keeps its rank. */
static const char glove[] = "the 0.1 0.2 0.3\n"
                            "cat -1.5 0.25 2\n"
                            "don't 9 9 9\n"
                            "Paris 0.5 -0.5 1e-1\n"
                            "\n"
                            "PARIS 7 7 7\n"
                            "mat 3 0 -4\n";

static void test_static_glove_gives_sif_weighted_normalised_averages(void)
{
	const double v_the[3] = {0.1, 0.2, 0.3}, v_cat[3] = {-1.5, 0.25, 2},
	             v_paris[3] = {0.5, -0.5, 0.1}, v_mat[3] = {3, 0, -4};
	const char *path = write_file("glove.txt", glove);
	const char *t[4] = {"The cat sat on the MAT.", "paris", "Cat", "Don't, PARIS!"};
	double want[3];
	float v[12];
	int rc;
	tv_embedder *e = open_static(path, NULL, &rc);
	REQUIRE(e);
	CHECK_EQ_INT(tv_embedder_dim(e), 3);
	CHECK_EQ_STR(tv_embedder_id(e), "static:v1:glove.txt:3");
	REQUIRE(tv_embedder_embed(e, t, 4, v) == 0);
	{ /* the(1) cat(2) [sat on unknown] the(1) mat(6); 6 words in the file */
		double all[4][3];
		int ranks[4] = {1, 2, 1, 6};
		memcpy(all[0], v_the, sizeof v_the);
		memcpy(all[1], v_cat, sizeof v_cat);
		memcpy(all[2], v_the, sizeof v_the);
		memcpy(all[3], v_mat, sizeof v_mat);
		expect_sif((const double(*)[3])all, ranks, 4, 6, 3, want);
		for (int i = 0; i < 3; i++)
			CHECK_NEAR(v[i], want[i], 1e-6);
	}
	{ /* "paris": rank 4, the first of the two spellings */
		int ranks[1] = {4};
		expect_sif((const double(*)[3])v_paris, ranks, 1, 6, 3, want);
		for (int i = 0; i < 3; i++)
			CHECK_NEAR(v[3 + i], want[i], 1e-6);
	}
	{ /* one word: its direction, whatever the weight */
		double n = sqrt(v_cat[0] * v_cat[0] + v_cat[1] * v_cat[1] + v_cat[2] * v_cat[2]);
		for (int i = 0; i < 3; i++)
			CHECK_NEAR(v[6 + i], v_cat[i] / n, 1e-6);
	}
	{ /* "don't" is split into "don" and "t" (unknown); paris stays */
		for (int i = 0; i < 3; i++)
			CHECK_NEAR(v[9 + i], v[3 + i], 1e-7);
	}
	tv_embedder_free(e);
}

static void test_static_unknown_words_are_skipped_and_no_known_word_gives_zero(void)
{
	const char *path = write_file("glove.txt", glove);
	const char *t[4] = {"zebra quux", "", "cat zebra", "cat"};
	float v[12];
	int rc, zero = 1;
	tv_embedder *e = open_static(path, NULL, &rc);
	REQUIRE(e);
	REQUIRE(tv_embedder_embed(e, t, 4, v) == 0);
	for (int i = 0; i < 6; i++)
		zero &= v[i] == 0.0f;
	CHECK(zero);
	CHECK(memcmp(v + 6, v + 9, 3 * sizeof(float)) == 0);
	tv_embedder_free(e);
}

static void test_static_word2vec_header_and_bad_lines_name_file_and_line(void)
{
	const char *path = write_file("w2v.txt", "3 2\nalpha 1 0\nbeta 0 1\ngamma 1 1\n");
	const char *t[1] = {"alpha beta"};
	float v[2];
	double h = 1 + 0.5 + 1.0 / 3, w1 = 1e-3 / (1e-3 + 1 / h), w2 = 1e-3 / (1e-3 + 1 / (2 * h));
	int rc;
	tv_embedder *e = open_static(path, ", \"embedding_dimensions\": 2", &rc);
	REQUIRE(e);
	CHECK_EQ_STR(tv_embedder_id(e), "static:v1:w2v.txt:2");
	REQUIRE(tv_embedder_embed(e, t, 1, v) == 0);
	CHECK_NEAR(v[0], w1 / sqrt(w1 * w1 + w2 * w2), 1e-6);
	CHECK_NEAR(v[1], w2 / sqrt(w1 * w1 + w2 * w2), 1e-6);
	tv_embedder_free(e);

	e = open_static(path, ", \"embedding_dimensions\": 3", &rc);
	CHECK(!e && rc == TV_EINVAL);
	CHECK(strstr(tv_last_errmsg(), "embedding_dimensions") != NULL);

	path = write_file("short.txt", "4 2\nalpha 1 0\nbeta 0 1\n");
	e = open_static(path, NULL, &rc);
	CHECK(!e && rc == TV_ECORRUPT);
	CHECK(strstr(tv_last_errmsg(), "short.txt: the header says 4 words") != NULL);

	path = write_file("bad.txt", "2 2\nalpha 1 0\nbeta 0 x1\n");
	e = open_static(path, NULL, &rc);
	CHECK(!e && rc == TV_ECORRUPT);
	CHECK_MSG(strstr(tv_last_errmsg(), "bad.txt:3: 'x1'") != NULL, "%s", tv_last_errmsg());

	path = write_file("ragged.txt", "alpha 1 0 2\nbeta 0 1\n");
	e = open_static(path, NULL, &rc);
	CHECK(!e && rc == TV_ECORRUPT);
	CHECK_MSG(strstr(tv_last_errmsg(), "ragged.txt:2: expected a word and 3 numbers") != NULL,
	          "%s", tv_last_errmsg());
	{ /* a failed conversion leaves nothing behind */
		char bin[4300];
		snprintf(bin, sizeof bin, "%s/ragged.txt.tvwv", dir);
		CHECK(access(bin, F_OK) != 0);
	}
}

static int stat_of(const char *path, struct stat *st) { return stat(path, st); }

static void test_static_converts_once_then_maps_the_binary(void)
{
	const char *path = write_file("once.txt", glove);
	char bin[4300], src[4200];
	struct stat a, b;
	tv_embedder *e;
	const char *t[1] = {"cat mat"};
	float v1[3], v2[3];
	int rc;
	snprintf(src, sizeof src, "%s", path);
	snprintf(bin, sizeof bin, "%s.tvwv", src);
	e = open_static(src, NULL, &rc);
	REQUIRE(e);
	REQUIRE(tv_embedder_embed(e, t, 1, v1) == 0);
	tv_embedder_free(e);
	REQUIRE(stat_of(bin, &a) == 0);

	e = open_static(src, NULL, &rc); /* maps the same file: not rewritten */
	REQUIRE(e);
	REQUIRE(tv_embedder_embed(e, t, 1, v2) == 0);
	tv_embedder_free(e);
	REQUIRE(stat_of(bin, &b) == 0);
	CHECK(a.st_ino == b.st_ino && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
	      a.st_mtim.tv_nsec == b.st_mtim.tv_nsec);
	CHECK(memcmp(v1, v2, sizeof v1) == 0);

	/* the binary alone, without its text */
	e = open_static(bin, NULL, &rc);
	REQUIRE(e);
	REQUIRE(tv_embedder_embed(e, t, 1, v2) == 0);
	CHECK(memcmp(v1, v2, sizeof v1) == 0);
	CHECK_EQ_STR(tv_embedder_id(e), "static:v1:once.txt.tvwv:3");
	tv_embedder_free(e);

	/* a changed text is converted again */
	write_file("once.txt", "cat 0 0 1\n");
	{
		struct timespec ts[2] = {{0, UTIME_OMIT}, {a.st_mtim.tv_sec + 5, 0}};
		REQUIRE(utimensat(AT_FDCWD, src, ts, 0) == 0);
	}
	e = open_static(src, NULL, &rc);
	REQUIRE(e);
	REQUIRE(tv_embedder_embed(e, t, 1, v2) == 0);
	CHECK_NEAR(v2[2], 1.0, 1e-7);
	tv_embedder_free(e);
	REQUIRE(stat_of(bin, &b) == 0);
	CHECK(a.st_ino != b.st_ino || a.st_mtim.tv_nsec != b.st_mtim.tv_nsec ||
	      a.st_mtim.tv_sec != b.st_mtim.tv_sec);
}

/* Overwrites n bytes at off of path. */
static void poke(const char *path, long off, const void *bytes, size_t n)
{
	FILE *f = fopen(path, "r+b");
	if (!f)
		return;
	fseek(f, off, SEEK_SET);
	fwrite(bytes, 1, n, f);
	fclose(f);
}

static void expect_corrupt(const char *src, const char *bin, const char *why)
{
	int rc;
	tv_embedder *e = open_static(src, NULL, &rc);
	CHECK_MSG(!e && rc == TV_ECORRUPT, "%s: rc %d", why, rc);
	CHECK_MSG(strstr(tv_last_errmsg(), bin) != NULL, "%s: %s", why, tv_last_errmsg());
	tv_embedder_free(e);
}

static void test_static_damaged_binary_is_corrupt_naming_the_file(void)
{
	char src[4200], bin[4300];
	const char *t[1] = {"cat"};
	float v[3];
	unsigned long long offs_off, size;
	struct stat st;
	int rc;
	FILE *f;
	tv_embedder *e;
	snprintf(src, sizeof src, "%s", write_file("dmg.txt", glove));
	snprintf(bin, sizeof bin, "%s.tvwv", src);
	e = open_static(src, NULL, &rc);
	REQUIRE(e);
	tv_embedder_free(e);
	REQUIRE(stat(bin, &st) == 0);
	size = (unsigned long long)st.st_size;

	poke(bin, 13, "\x7f", 1); /* the dimension: the header checksum fails */
	expect_corrupt(src, bin, "header byte");
	e = open_static(src, NULL, &rc); /* stays an error: not silently rebuilt */
	CHECK(!e && rc == TV_ECORRUPT);

	/* rebuild, then damage the word offsets behind an intact header */
	unlink(bin);
	e = open_static(src, NULL, &rc);
	REQUIRE(e);
	tv_embedder_free(e);
	f = fopen(bin, "rb");
	REQUIRE(f);
	REQUIRE(fseek(f, 56, SEEK_SET) == 0 && fread(&offs_off, 8, 1, f) == 1);
	fclose(f);
	poke(bin, (long)offs_off + 8, "\xff\xff\xff\xff\xff\xff\xff\x7f", 8);
	expect_corrupt(src, bin, "word offsets");

	/* truncated */
	unlink(bin);
	e = open_static(src, NULL, &rc);
	REQUIRE(e);
	tv_embedder_free(e);
	REQUIRE(truncate(bin, (off_t)size - 4) == 0);
	expect_corrupt(src, bin, "truncated");
	REQUIRE(truncate(bin, 40) == 0);
	expect_corrupt(src, bin, "shorter than a header");

	/* a NaN in a vector: found when the word is used */
	unlink(bin);
	e = open_static(src, NULL, &rc);
	REQUIRE(e);
	tv_embedder_free(e);
	poke(bin, 128 + 3 * 4, "\x00\x00\xc0\x7f", 4); /* cat[0] = NaN */
	e = open_static(src, NULL, &rc);
	REQUIRE(e);
	CHECK_EQ_INT(tv_embedder_embed(e, t, 1, v), TV_ECORRUPT);
	CHECK(strstr(tv_embedder_errmsg(e), bin) != NULL);
	tv_embedder_free(e);
}

static void test_static_missing_or_unreadable_model_names_the_key(void)
{
	tv_embedder *e = NULL;
	char missing[4300];
	int rc;
	CHECK_EQ_INT(tv_embedder_open(&e, "{\"embedding_provider\": \"static\"}"), TV_EINVAL);
	CHECK(strstr(tv_last_errmsg(), "embedding_model_path") != NULL);
	CHECK(e == NULL);
	snprintf(missing, sizeof missing, "%s/no-such-model.txt", dir);
	e = open_static(missing, NULL, &rc);
	CHECK(!e && rc == TV_EINVAL);
	CHECK(strstr(tv_last_errmsg(), "embedding_model_path") != NULL);
	CHECK(strstr(tv_last_errmsg(), "no-such-model.txt") != NULL);
	e = open_static(dir, NULL, &rc); /* a directory */
	CHECK(!e && rc == TV_EINVAL);
	CHECK(strstr(tv_last_errmsg(), "embedding_model_path") != NULL);
	/* embedding_model (the CLI's --model) is the path when the key is absent */
	{
		char s[8500];
		snprintf(s, sizeof s,
		         "{\"embedding_provider\": \"static\", \"embedding_model\": \"%s\"}",
		         write_file("viamodel.txt", glove));
		CHECK_EQ_INT(tv_embedder_open(&e, s), 0);
		tv_embedder_free(e);
	}
}

int main(void)
{
	snprintf(dir, sizeof dir, "%s", tv_test_tmpdir("embed_static"));
	TV_RUN(test_static_glove_gives_sif_weighted_normalised_averages);
	TV_RUN(test_static_unknown_words_are_skipped_and_no_known_word_gives_zero);
	TV_RUN(test_static_word2vec_header_and_bad_lines_name_file_and_line);
	TV_RUN(test_static_converts_once_then_maps_the_binary);
	TV_RUN(test_static_damaged_binary_is_corrupt_naming_the_file);
	TV_RUN(test_static_missing_or_unreadable_model_names_the_key);
	TV_TEST_END();
}

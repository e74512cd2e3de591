/*
 * gen: the benchmark's seeded synthetic data, standard fvecs files.
 *
 *   gen DIR --n ROWS --dim D [--queries Q]
 *
 * Writes DIR/base.fvecs (ROWS vectors) and DIR/queries.fvecs (Q, default
 * 1,000): 1,000 Gaussian centres, each point = a random centre + N(0,
 * 0.35^2) noise per component, normalized. Seed fixed (12345): the same
 * files on every machine. Row attributes are not stored: `teavec bench`
 * and bench/lancedb_driver.mjs derive them from the row number.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t rng = 12345;

static double urand(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return ((rng >> 11) + 0.5) / 9007199254740992.0;
}

static float gauss(void) { return (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand())); }

static int put(FILE *f, const float *v, size_t d)
{
	int32_t dd = (int32_t)d;
	return fwrite(&dd, 4, 1, f) == 1 && fwrite(v, 4, d, f) == d ? 0 : -1;
}

int main(int argc, char **argv)
{
	size_t n = 0, d = 0, nq = 1000;
	char path[4096];
	float *c, *v;
	FILE *fb, *fq;
	int bad = 0;
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--n"))
			n = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--dim"))
			d = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--queries"))
			nq = strtoul(argv[i + 1], NULL, 10);
		else
			bad = 1;
	}
	if (argc < 2 || argc % 2 || bad || !n || !d || d > 65536) {
		fprintf(stderr, "usage: gen DIR --n ROWS --dim D [--queries Q]\n");
		return 2;
	}
	mkdir(argv[1], 0777);
	snprintf(path, sizeof path, "%s/base.fvecs", argv[1]);
	fb = fopen(path, "wb");
	snprintf(path, sizeof path, "%s/queries.fvecs", argv[1]);
	fq = fopen(path, "wb");
	c = malloc(1000 * d * sizeof *c);
	v = malloc(d * sizeof *v);
	if (!fb || !fq || !c || !v) {
		fprintf(stderr, "gen: cannot write into %s\n", argv[1]);
		return 1;
	}
	for (size_t i = 0; i < 1000 * d; i++)
		c[i] = gauss();
	for (size_t i = 0; i < n + nq && !bad; i++) {
		size_t k = (size_t)(urand() * 1000) % 1000;
		double s = 0;
		for (size_t j = 0; j < d; j++) {
			v[j] = c[k * d + j] + 0.35f * gauss();
			s += (double)v[j] * v[j];
		}
		s = s > 0 ? 1.0 / sqrt(s) : 0;
		for (size_t j = 0; j < d; j++)
			v[j] = (float)(v[j] * s);
		bad = put(i < n ? fb : fq, v, d);
	}
	if (fclose(fb) | fclose(fq) || bad) {
		fprintf(stderr, "gen: write error in %s\n", argv[1]);
		return 1;
	}
	free(c);
	free(v);
	return 0;
}

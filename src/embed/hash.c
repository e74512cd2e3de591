/*
 * The built-in `hash` embedder: lexical feature hashing, no files, no
 * network, deterministic across machines.
 *
 * Tokens are maximal runs of ASCII letters/digits (lowercased) and non-ASCII
 * UTF-8 bytes (kept as they are: no Unicode case folding). Features are the
 * unigrams and the bigrams of consecutive tokens. Each distinct feature f
 * with term frequency tf adds sign(f) * w * (1 + ln tf) to bucket
 * h(f) mod dim (w = 1 for unigrams, 0.5 for bigrams; sign from a separate
 * bit of the hash, so collisions cancel on average instead of piling up),
 * and the vector is L2-normalised. A text with no tokens embeds to the zero
 * vector, which every store treats as at cosine distance 1 from all.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "embed/embed.h"
#include "util/common.h"

#define HASH_DEFAULT_DIM 256

typedef struct feat {
	uint64_t h; /* 0 = empty slot */
	uint32_t tf;
	float w;
} feat;

#define NLOG 64

typedef struct hash_emb {
	tv_embedder base;
	feat *tab; /* per-text feature counts, reused */
	size_t cap;
	uint32_t *used; /* slots filled by the current text */
	size_t nused;
	float tfw[NLOG]; /* 1 + ln tf for the common term frequencies */
} hash_emb;

static inline uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ULL;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dULL;
	x ^= x >> 33;
	return x;
}

static int grow(hash_emb *e, size_t need)
{
	size_t cap = e->cap ? e->cap : 1024;
	feat *t;
	uint32_t *u;
	while (cap < need * 2)
		cap *= 2;
	if (cap == e->cap)
		return 0;
	if (cap > UINT32_MAX || !(t = calloc(cap, sizeof *t)))
		return TV_ENOMEM;
	if (!(u = tv_mallocarray(cap, sizeof *u))) {
		free(t);
		return TV_ENOMEM;
	}
	free(e->tab);
	free(e->used);
	e->tab = t;
	e->used = u;
	e->cap = cap;
	return 0;
}

static void count(hash_emb *e, uint64_t h, float w)
{
	size_t mask = e->cap - 1, i;
	h |= 1; /* never 0 */
	for (i = h & mask; e->tab[i].h && e->tab[i].h != h; i = (i + 1) & mask)
		;
	if (!e->tab[i].h) {
		e->tab[i].h = h;
		e->tab[i].w = w;
		e->used[e->nused++] = (uint32_t)i;
	}
	e->tab[i].tf++;
}

static int embed_one(hash_emb *e, const char *s, float *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t dim = e->base.dim, len = strlen(s);
	uint64_t prev = 0;
	double norm = 0;
	int rc;
	/* at most one unigram and one bigram per two bytes */
	if ((rc = grow(e, len + 16)))
		return rc;
	memset(out, 0, dim * sizeof *out);
	while (*p) {
		uint64_t h = 1469598103934665603ULL;
		int word = 0;
		for (;; p++) {
			unsigned c = *p;
			if (c >= 'A' && c <= 'Z')
				c += 32;
			else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80))
				break;
			h = (h ^ c) * 1099511628211ULL;
			word = 1;
		}
		if (word) {
			h = mix(h);
			count(e, h, 1.0f);
			if (prev)
				count(e, mix(prev * 0x9E3779B97F4A7C15ULL ^ h), 0.5f);
			prev = h;
		}
		if (*p)
			p++;
	}
	for (size_t k = 0; k < e->nused; k++) {
		feat *f = &e->tab[e->used[k]];
		float v = f->w * (f->tf < NLOG ? e->tfw[f->tf] : 1.0f + logf((float)f->tf));
		/* the same bucket as % dim, without a division when dim is a power of 2 */
		size_t b = (dim & (dim - 1)) ? (f->h >> 1) % dim : (f->h >> 1) & (dim - 1);
		out[b] += (f->h >> 63) ? -v : v;
		f->h = 0;
		f->tf = 0;
	}
	e->nused = 0;
	for (size_t i = 0; i < dim; i++)
		norm += (double)out[i] * out[i];
	if (norm > 0) {
		float inv = (float)(1.0 / sqrt(norm));
		for (size_t i = 0; i < dim; i++)
			out[i] *= inv;
	}
	return 0;
}

static int hash_embed(tv_embedder *base, const char *const *texts, size_t n, float *out)
{
	hash_emb *e = (hash_emb *)base;
	for (size_t i = 0; i < n; i++)
		if (embed_one(e, texts[i], out + i * base->dim))
			return TV_ENOMEM_SET(&base->err, "hash embedder table");
	return 0;
}

static void hash_free(tv_embedder *base)
{
	hash_emb *e = (hash_emb *)base;
	free(e->tab);
	free(e->used);
	free(e);
}

static const tv_embedder_methods hash_methods = {"hash", hash_embed, hash_free};

int tv_embed_hash_new(tv_embedder **out, const json_t *settings, tv_err *err)
{
	hash_emb *e;
	size_t dim;
	int rc;
	*out = NULL;
	if ((rc = tv_embed__dims(settings, HASH_DEFAULT_DIM, &dim, err)))
		return rc;
	if (!(e = calloc(1, sizeof *e)))
		return TV_ENOMEM_SET(err, "hash embedder");
	e->base.m = &hash_methods;
	e->base.dim = dim;
	for (uint32_t t = 1; t < NLOG; t++) /* exactly the float computed for each feature before */
		e->tfw[t] = 1.0f + logf((float)t);
	e->base.dims_given = dim;
	snprintf(e->base.id, sizeof e->base.id, "hash:v1:%zu", dim);
	*out = &e->base;
	return 0;
}

/*
 * The `static` embedder: pre-trained word vectors (GloVe or word2vec TEXT
 * format), the offline semantic option. No network.
 *
 * Model files. settings.rag.embedding_model_path (or, when that key is
 * absent, embedding_model: the CLI's --model) names a text file of lines
 * "word v1 v2 ... vD". A word2vec file starts with a header line "N D";
 * a GloVe file has none and D is taken from its first line. Blank lines
 * are skipped. When a line has more than D + 1 fields (GloVe 840B has a
 * few words with spaces) the word is everything before the last D fields.
 * Any other line, a number that does not parse or is not finite, or a
 * word count that differs from the header is TV_ECORRUPT naming
 * "file:line".
 *
 * Conversion, once. The text is converted to the binary form below,
 * written next to the model as "<model>.tvwv" or, if that directory is not
 * writable, to $XDG_CACHE_HOME/teavec/ (default ~/.cache/teavec/) as
 * "<basename>-<hash of the real path>.tvwv"; written to a temp file and
 * renamed, so readers never see half a file. Later opens memory-map it:
 * no parsing, pages load on demand. The header records the size and mtime
 * of the text it came from: a changed text is converted again. A path
 * ending in ".tvwv" is mapped directly (no text needed).
 *
 * Words are keyed lower-cased (ASCII A-Z only, as the tokenizer below);
 * when two words of the model fold to one key the first (most frequent)
 * wins. Words that can never be a token (they contain punctuation or
 * blanks: "don't", "e-mail", ",") are not stored, but keep their rank.
 *
 * The .tvwv layout (native byte order, which must be little-endian; the
 * endian field tells a foreign file, which is then converted again):
 *
 *   offset  size        field
 *   0       8           magic "TVWV\0\0\0\1" (format version 1)
 *   8       4           endian tag 0x01020304
 *   12      4           D, dimensions (1..65536)
 *   16      8           n, words stored
 *   24      8           N, words in the text (ranks are 0..N-1)
 *   32      8           size of the text it came from (bytes)
 *   40      8           mtime of the text (ns since the epoch)
 *   48      8           ranks_off: u32[n], each word's line rank, increasing
 *   56      8           offs_off: u64[n + 1], word i = pool[offs[i], offs[i+1])
 *   64      8           pool_off: the words' bytes, not NUL-terminated
 *   72      8           pool_len
 *   80      8           tab_off: u32[nslots] open-addressing hash table,
 *                       0 = empty, else word index + 1; slot of a word =
 *                       FNV-1a-64(word) & (nslots - 1), linear probing
 *   88      8           nslots (a power of two > n)
 *   96      8           file size
 *   104     16          zero
 *   120     8           FNV-1a-64 of bytes 0..120 (the header checksum)
 *   128     4 * n * D   the vectors, float32, row i = word i
 *
 * Every field is checked against the file size on open (overflow-checked),
 * offs and ranks are checked whole, a table entry when used, and a vector
 * value when used (finite); a failed check is TV_ECORRUPT naming the .tvwv
 * file (delete it to convert again).
 *
 * Embedding. Tokens as in hash.c: maximal runs of ASCII letters/digits
 * (lower-cased) and non-ASCII bytes. Each token found in the model adds
 * w * v(token), repeated tokens once per occurrence (SIF, Arora et al.
 * 2017, without the common-component removal, which needs a corpus):
 * w = a / (a + p(word)), a = 1e-3. Text models carry no counts, but are
 * sorted by frequency, so p comes from Zipf's law on the rank r (1-based):
 * p = 1 / (r * H_N), H_N = 1 + 1/2 + ... + 1/N. The sum is L2-normalised.
 * Unknown tokens are skipped; a text with no known token embeds to the
 * zero vector (at cosine distance 1 from everything).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embed/embed.h"
#include "util/common.h"

#define WV_MAGIC "TVWV\0\0\0\1"
#define WV_ENDIAN 0x01020304u
#define WV_HDR 128
#define SIF_A 1e-3

typedef struct wv_header {
	char magic[8];
	uint32_t endian, dim;
	uint64_t n, nlines, src_size;
	int64_t src_mtime;
	uint64_t ranks_off, offs_off, pool_off, pool_len, tab_off, nslots, file_size;
	uint64_t zero[2], check;
} wv_header;

_Static_assert(sizeof(wv_header) == WV_HDR, "the .tvwv header is 128 bytes");

typedef struct static_emb {
	tv_embedder base;
	char *bin; /* the mapped file */
	const uint8_t *map;
	size_t size;
	const float *vecs;
	const uint32_t *ranks, *tab;
	const uint64_t *offs;
	const char *pool;
	uint64_t n, nslots;
	double hn; /* H_N */
	double *acc;
} static_emb;

static uint64_t fnv(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ULL;
	return h;
}

static inline int tok_byte(unsigned c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

/* ---- conversion -------------------------------------------------------- */

/* The state of one conversion. */
typedef struct conv {
	const char *src, *tmp;
	FILE *out;
	tv_buf pool;
	uint64_t *offs;
	uint32_t *ranks, *tab;
	size_t n, cap, nslots;
	float *vec;
	tv_err *err;
} conv;

/* The word index of key, or -1; *slot gets where it is or would go. */
static long conv_find(const conv *c, const char *w, size_t len, size_t *slot)
{
	size_t mask = c->nslots - 1, i;
	for (i = fnv(w, len) & mask; c->tab[i]; i = (i + 1) & mask) {
		uint32_t k = c->tab[i] - 1;
		if (c->offs[k + 1] - c->offs[k] == len && !memcmp(c->pool.data + c->offs[k], w, len))
			return (long)k;
	}
	*slot = i;
	return -1;
}

static int conv_grow(conv *c)
{
	size_t ns = c->nslots ? c->nslots * 2 : 1024, cap = c->cap ? c->cap * 2 : 512;
	uint32_t *t = calloc(ns, sizeof *t), *r;
	uint64_t *o;
	if (!t || ns > UINT32_MAX)
		goto nomem;
	if (!(o = tv_reallocarray(c->offs, cap + 1, sizeof *o)))
		goto nomem;
	c->offs = o;
	if (!(r = tv_reallocarray(c->ranks, cap, sizeof *r)))
		goto nomem;
	c->ranks = r;
	c->cap = cap;
	for (size_t k = 0; k < c->n; k++) {
		size_t i = fnv(c->pool.data + c->offs[k], c->offs[k + 1] - c->offs[k]) & (ns - 1);
		while (t[i])
			i = (i + 1) & (ns - 1);
		t[i] = (uint32_t)(k + 1);
	}
	free(c->tab);
	c->tab = t;
	c->nslots = ns;
	return 0;
nomem:
	free(t);
	return TV_ENOMEM_SET(c->err, "the word table of a static model");
}

static int conv_write(conv *c, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, c->out) != n)
		return tv_err_set(c->err, TV_EIO, "writing %s: %s", c->tmp, strerror(errno));
	return 0;
}

/* Pads the output to a multiple of a; *off gets the new offset. */
static int conv_align(conv *c, uint64_t *off, unsigned a)
{
	static const char zeros[8];
	unsigned pad = (unsigned)((a - *off % a) % a);
	*off += pad;
	return conv_write(c, zeros, pad);
}

static int is_count(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return n > 0 && n < 11;
}

/* Adds the word of one parsed line (already lower-cased in place). */
static int conv_add(conv *c, char *w, size_t len, uint32_t rank, size_t dim)
{
	size_t slot;
	int rc;
	for (size_t i = 0; i < len; i++) {
		if (w[i] >= 'A' && w[i] <= 'Z')
			w[i] = (char)(w[i] + 32);
		if (!tok_byte((unsigned char)w[i]))
			return 0; /* never a token */
	}
	if ((c->n + 1) * 2 > c->nslots && (rc = conv_grow(c)))
		return rc;
	if (conv_find(c, w, len, &slot) >= 0)
		return 0; /* folds to an earlier word */
	if (c->n == 0)
		c->offs[0] = 0;
	if (tv_buf_append(&c->pool, w, len))
		return TV_ENOMEM_SET(c->err, "the words of a static model");
	c->offs[c->n + 1] = c->pool.len;
	c->ranks[c->n] = rank;
	c->tab[slot] = (uint32_t)(++c->n);
	return conv_write(c, c->vec, dim * sizeof(float));
}

#define MAX_FIELDS_EXTRA 64

/* Parses the text model into c->out after the header; fills *dim, *nlines.
 * Long because it is one pass over lines with per-line checks. */
static int conv_parse(conv *c, FILE *in, uint32_t *dim_out, uint64_t *nlines)
{
	char *line = NULL;
	size_t lcap = 0, lineno = 0, dim = 0, *fs = NULL, fcap = 0;
	uint64_t header_n = 0, seen = 0;
	int have_header = 0, rc = 0;
	ssize_t len;
	while ((len = getline(&line, &lcap, in)) >= 0) {
		size_t nf = 0, i = 0, first;
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
		                   line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = 0;
		/* field starts; a field ends at a blank or the end */
		while (i < (size_t)len) {
			while (i < (size_t)len && (line[i] == ' ' || line[i] == '\t'))
				i++;
			if (i == (size_t)len)
				break;
			if (nf == fcap) {
				size_t *f = tv_reallocarray(fs, fcap ? fcap * 2 : 512, sizeof *f);
				if (!f) {
					rc = TV_ENOMEM_SET(c->err, "a line of a static model");
					goto done;
				}
				fs = f;
				fcap = fcap ? fcap * 2 : 512;
			}
			fs[nf++] = i;
			while (i < (size_t)len && line[i] != ' ' && line[i] != '\t')
				i++;
		}
		if (nf == 0)
			continue;
		if (seen == 0 && !have_header && !dim && nf == 2 &&
		    is_count(line + fs[0], strcspn(line + fs[0], " \t")) &&
		    is_count(line + fs[1], strlen(line + fs[1]))) {
			header_n = strtoull(line + fs[0], NULL, 10);
			dim = strtoul(line + fs[1], NULL, 10);
			have_header = 1;
			if (dim < 1 || dim > 65536) {
				rc = tv_err_set(c->err, TV_ECORRUPT,
				                "%s:%zu: the header gives %zu dimensions (expected 1..65536)",
				                c->src, lineno, dim);
				goto done;
			}
			continue;
		}
		if (!dim) {
			dim = nf - 1;
			if (dim < 1 || dim > 65536) {
				rc = tv_err_set(c->err, TV_ECORRUPT,
				                "%s:%zu: expected a word and 1..65536 numbers, got %zu fields",
				                c->src, lineno, nf);
				goto done;
			}
		}
		if (nf < dim + 1) {
			rc = tv_err_set(c->err, TV_ECORRUPT,
			                "%s:%zu: expected a word and %zu numbers, got %zu fields", c->src,
			                lineno, dim, nf);
			goto done;
		}
		if (!c->vec && !(c->vec = tv_mallocarray(dim, sizeof *c->vec))) {
			rc = TV_ENOMEM_SET(c->err, "a vector of a static model");
			goto done;
		}
		first = nf - dim;
		for (size_t k = 0; k < dim; k++) {
			char *s = line + fs[first + k], *end;
			size_t fl = strcspn(s, " \t");
			float v = strtof(s, &end);
			if (end != s + fl || !isfinite(v)) {
				rc = tv_err_set(c->err, TV_ECORRUPT, "%s:%zu: '%.*s' is not a finite number",
				                c->src, lineno, (int)TV_MIN(fl, (size_t)40), s);
				goto done;
			}
			c->vec[k] = v;
		}
		if (seen >= UINT32_MAX) {
			rc = tv_err_set(c->err, TV_EUNSUPPORTED, "%s: more than 2^32 words", c->src);
			goto done;
		}
		/* the word: everything before the numbers, blanks included */
		{
			size_t wl = fs[first] - 1;
			while (wl > 0 && (line[wl - 1] == ' ' || line[wl - 1] == '\t'))
				wl--;
			if ((rc = conv_add(c, line + fs[0], wl - fs[0], (uint32_t)seen++, dim)))
				goto done;
		}
	}
	if (ferror(in)) {
		rc = tv_err_set(c->err, TV_EIO, "reading %s: %s", c->src, strerror(errno));
	} else if (have_header && header_n != seen) {
		rc = tv_err_set(c->err, TV_ECORRUPT, "%s: the header says %llu words, the file has %llu",
		                c->src, (unsigned long long)header_n, (unsigned long long)seen);
	} else if (c->n == 0) {
		rc = tv_err_set(c->err, TV_ECORRUPT, "%s: no usable word vectors (%llu lines)", c->src,
		                (unsigned long long)seen);
	}
	*dim_out = (uint32_t)dim;
	*nlines = seen;
done:
	free(line);
	free(fs);
	return rc;
}

/* Writes the sections after the vectors and the header. */
static int conv_finish(conv *c, wv_header *h)
{
	uint64_t off = WV_HDR + (uint64_t)c->n * h->dim * sizeof(float);
	int rc;
	h->ranks_off = off;
	if ((rc = conv_write(c, c->ranks, c->n * sizeof *c->ranks)))
		return rc;
	off += c->n * sizeof *c->ranks;
	if ((rc = conv_align(c, &off, 8)))
		return rc;
	h->offs_off = off;
	if ((rc = conv_write(c, c->offs, (c->n + 1) * sizeof *c->offs)))
		return rc;
	off += (c->n + 1) * sizeof *c->offs;
	h->pool_off = off;
	h->pool_len = c->pool.len;
	if ((rc = conv_write(c, c->pool.data, c->pool.len)))
		return rc;
	off += c->pool.len;
	if ((rc = conv_align(c, &off, 4)))
		return rc;
	h->tab_off = off;
	h->nslots = c->nslots;
	if ((rc = conv_write(c, c->tab, c->nslots * sizeof *c->tab)))
		return rc;
	h->file_size = off + c->nslots * sizeof *c->tab;
	memcpy(h->magic, WV_MAGIC, 8);
	h->endian = WV_ENDIAN;
	h->n = c->n;
	h->check = fnv(h, offsetof(wv_header, check));
	if (fseek(c->out, 0, SEEK_SET) || (rc = conv_write(c, h, sizeof *h)))
		return rc ? rc : tv_err_set(c->err, TV_EIO, "writing %s: %s", c->tmp, strerror(errno));
	if (fflush(c->out) || fsync(fileno(c->out)))
		return tv_err_set(c->err, TV_EIO, "writing %s: %s", c->tmp, strerror(errno));
	return 0;
}

/* Converts the text model src (stat st) into dst. *denied is set when dst
 * could not be created for lack of permission (the caller tries the cache). */
static int convert(const char *src, const struct stat *st, const char *dst, int *denied,
                   tv_err *err)
{
	conv c = {0};
	wv_header h;
	FILE *in = NULL;
	char *tmp = tv_sprintf("%s.tmp.%ld", dst, (long)getpid());
	int rc;
	*denied = 0;
	memset(&h, 0, sizeof h);
	c.src = src;
	c.tmp = tmp;
	c.err = err;
	if (!tmp)
		return TV_ENOMEM_SET(err, dst);
	if (!(in = fopen(src, "r"))) {
		rc = tv_err_set(err, TV_EINVAL, "settings.rag.embedding_model_path: cannot read %s: %s",
		                src, strerror(errno));
		goto done;
	}
	if (!(c.out = fopen(tmp, "wb"))) {
		*denied = errno == EACCES || errno == EROFS || errno == EPERM;
		rc = tv_err_set(err, TV_EIO, "creating %s: %s", tmp, strerror(errno));
		goto done;
	}
	if ((rc = conv_write(&c, &h, sizeof h)) || (rc = conv_grow(&c)) ||
	    (rc = conv_parse(&c, in, &h.dim, &h.nlines)))
		goto done;
	h.src_size = (uint64_t)st->st_size;
	h.src_mtime = mtime_ns(st);
	if ((rc = conv_finish(&c, &h)))
		goto done;
	if (fclose(c.out)) {
		c.out = NULL;
		rc = tv_err_set(err, TV_EIO, "writing %s: %s", tmp, strerror(errno));
		goto done;
	}
	c.out = NULL;
	if (rename(tmp, dst))
		rc = tv_err_set(err, TV_EIO, "renaming %s to %s: %s", tmp, dst, strerror(errno));
done:
	if (c.out)
		fclose(c.out);
	if (rc)
		unlink(tmp);
	if (in)
		fclose(in);
	free(tmp);
	free(c.offs);
	free(c.ranks);
	free(c.tab);
	free(c.vec);
	tv_buf_free(&c.pool);
	return rc;
}

/* ---- the mapped file ---------------------------------------------------- */

static int corrupt(const char *path, const char *what, tv_err *err)
{
	return tv_err_set(err, TV_ECORRUPT,
	                  "%s: damaged static model (%s); delete it to convert the model again",
	                  path, what);
}

/* [off, off + len) within size, with len = count * unit. */
static int in_file(uint64_t off, uint64_t count, uint64_t unit, uint64_t size)
{
	uint64_t len;
	return !__builtin_mul_overflow(count, unit, &len) && off <= size && len <= size - off;
}

/* Checks the header h of a file of size bytes; 0 or a message. */
static const char *check_header(const wv_header *h, uint64_t size)
{
	if (h->file_size != size)
		return "its size differs from the header's";
	if (h->dim < 1 || h->dim > 65536 || h->n < 1 || h->n > h->nlines || h->nlines > UINT32_MAX)
		return "bad counts";
	if (!in_file(WV_HDR, h->n, (uint64_t)h->dim * sizeof(float), size) ||
	    h->ranks_off != WV_HDR + h->n * h->dim * sizeof(float))
		return "bad vector section";
	if (!in_file(h->ranks_off, h->n, 4, size) || h->offs_off % 8 ||
	    h->offs_off < h->ranks_off + h->n * 4)
		return "bad rank section";
	if (!in_file(h->offs_off, h->n + 1, 8, size) || h->pool_off < h->offs_off + (h->n + 1) * 8)
		return "bad word offsets";
	if (!in_file(h->pool_off, h->pool_len, 1, size) || h->tab_off < h->pool_off + h->pool_len)
		return "bad word pool";
	if (h->tab_off % 4 || h->nslots <= h->n || (h->nslots & (h->nslots - 1)) ||
	    !in_file(h->tab_off, h->nslots, 4, size) || h->tab_off + h->nslots * 4 != size)
		return "bad word table";
	return NULL;
}

/* Checks the arrays read whole: offsets increasing within the pool, ranks
 * increasing below N. */
static const char *check_arrays(const static_emb *e, uint64_t nlines, uint64_t pool_len)
{
	if (e->offs[0] != 0 || e->offs[e->n] != pool_len)
		return "bad word offsets";
	for (uint64_t i = 0; i < e->n; i++) {
		if (e->offs[i + 1] <= e->offs[i])
			return "bad word offsets";
		if (e->ranks[i] >= nlines || (i > 0 && e->ranks[i] <= e->ranks[i - 1]))
			return "bad ranks";
	}
	return NULL;
}

/* Maps path. Returns 0 when mapped, 1 when absent or stale (src given and
 * its size or mtime differ; or written on a machine of another byte
 * order), or a TV_E* code. */
static int map_bin(static_emb *e, const char *path, const struct stat *src, tv_err *err)
{
	struct stat st;
	wv_header h;
	const char *bad;
	void *m;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 1 : tv_err_set(err, TV_EIO, "opening %s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		close(fd);
		return tv_err_set(err, TV_EIO, "stat %s: %s", path, strerror(errno));
	}
	if ((uint64_t)st.st_size < WV_HDR) {
		close(fd);
		return corrupt(path, "shorter than its header", err);
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return tv_err_set(err, TV_EIO, "mapping %s: %s", path, strerror(errno));
	memcpy(&h, m, sizeof h);
	if (memcmp(h.magic, WV_MAGIC, 8))
		bad = "not a .tvwv file";
	else if (h.check != fnv(&h, offsetof(wv_header, check)))
		bad = "header checksum mismatch";
	else if (h.endian != WV_ENDIAN ||
	         (src && (h.src_size != (uint64_t)src->st_size || h.src_mtime != mtime_ns(src)))) {
		munmap(m, (size_t)st.st_size);
		return 1;
	} else
		bad = check_header(&h, (uint64_t)st.st_size);
	e->map = m;
	e->size = (size_t)st.st_size;
	if (!bad) {
		e->vecs = (const float *)(e->map + WV_HDR);
		e->ranks = (const uint32_t *)(e->map + h.ranks_off);
		e->offs = (const uint64_t *)(e->map + h.offs_off);
		e->pool = (const char *)(e->map + h.pool_off);
		e->tab = (const uint32_t *)(e->map + h.tab_off);
		e->n = h.n;
		e->nslots = h.nslots;
		e->base.dim = h.dim;
		bad = check_arrays(e, h.nlines, h.pool_len);
	}
	if (bad) {
		munmap(m, e->size);
		e->map = NULL;
		return corrupt(path, bad, err);
	}
	e->hn = 0;
	for (uint64_t k = h.nlines; k >= 1; k--)
		e->hn += 1.0 / (double)k;
	if (!(e->bin = tv_strdup(path)))
		return TV_ENOMEM_SET(err, path);
	return 0;
}

/* ---- embedding ------------------------------------------------------------ */

/* The index of the token s[0..len) (any case) in the model, or -1; TV_ECORRUPT
 * through *rc for a table entry out of range. */
static long lookup(static_emb *e, const unsigned char *s, size_t len, uint64_t h, int *rc)
{
	uint64_t mask = e->nslots - 1, i = h & mask;
	for (uint64_t probes = 0; probes < e->nslots; probes++, i = (i + 1) & mask) {
		uint32_t k = e->tab[i];
		const char *w;
		size_t j;
		if (!k)
			return -1;
		if (--k >= e->n) {
			*rc = corrupt(e->bin, "word table entry out of range", &e->base.err);
			return -1;
		}
		if (e->offs[k + 1] - e->offs[k] != len)
			continue;
		w = e->pool + e->offs[k];
		for (j = 0; j < len; j++) {
			unsigned c = s[j];
			if (c >= 'A' && c <= 'Z')
				c += 32;
			if ((unsigned char)w[j] != c)
				break;
		}
		if (j == len)
			return (long)k;
	}
	return -1;
}

static int add_word(static_emb *e, long k)
{
	size_t dim = e->base.dim;
	const float *v = e->vecs + (size_t)k * dim;
	double p = 1.0 / ((double)(e->ranks[k] + 1) * e->hn), w = SIF_A / (SIF_A + p);
	for (size_t i = 0; i < dim; i++) {
		if (!isfinite(v[i]))
			return corrupt(e->bin, "a vector value is not finite", &e->base.err);
		e->acc[i] += w * v[i];
	}
	return 0;
}

static int embed_one(static_emb *e, const char *text, float *out)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t dim = e->base.dim;
	double norm = 0;
	int rc = 0;
	memset(e->acc, 0, dim * sizeof *e->acc);
	while (*p) {
		const unsigned char *start = p;
		uint64_t h = 1469598103934665603ULL;
		for (;; p++) {
			unsigned c = *p;
			if (c >= 'A' && c <= 'Z')
				c += 32;
			else if (!c || !tok_byte(c))
				break;
			h = (h ^ c) * 1099511628211ULL;
		}
		if (p > start) {
			long k = lookup(e, start, (size_t)(p - start), h, &rc);
			if (rc || (k >= 0 && (rc = add_word(e, k))))
				return rc;
		}
		if (*p)
			p++;
	}
	for (size_t i = 0; i < dim; i++)
		norm += e->acc[i] * e->acc[i];
	norm = norm > 0 ? 1.0 / sqrt(norm) : 0;
	for (size_t i = 0; i < dim; i++)
		out[i] = (float)(e->acc[i] * norm);
	return 0;
}

static int static_embed(tv_embedder *base, const char *const *texts, size_t n, float *out)
{
	static_emb *e = (static_emb *)base;
	int rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = embed_one(e, texts[i], out + i * base->dim)))
			return rc;
	return 0;
}

static void static_free(tv_embedder *base)
{
	static_emb *e = (static_emb *)base;
	if (e->map)
		munmap((void *)e->map, e->size);
	free(e->bin);
	free(e->acc);
	free(e->base.model);
	free(e);
}

static const tv_embedder_methods static_methods = {"static", static_embed, static_free};

/* ---- open ------------------------------------------------------------------- */

/* The cache path of src: $XDG_CACHE_HOME/teavec/<base>-<hash>.tvwv (the
 * directories are created). NULL when there is no cache directory. */
static char *cache_path(const char *src, const char *base)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *real = realpath(src, NULL), *dir, *p = NULL;
	uint64_t h = fnv(real ? real : src, strlen(real ? real : src));
	free(real);
	if (x && *x)
		dir = tv_sprintf("%s/teavec", x);
	else if (home && *home)
		dir = tv_sprintf("%s/.cache/teavec", home);
	else
		return NULL;
	if (dir) {
		char *slash = strrchr(dir, '/');
		*slash = 0;
		mkdir(dir, 0777); /* best effort: ~/.cache */
		*slash = '/';
		mkdir(dir, 0777);
		p = tv_sprintf("%s/%s-%016llx.tvwv", dir, base, (unsigned long long)h);
	}
	free(dir);
	return p;
}

/* Maps the binary of the text model src: next to it or in the cache,
 * converting first when neither is there and current. */
static int load(static_emb *e, const char *src, const char *base, tv_err *err)
{
	struct stat st;
	char *beside = NULL, *cache = NULL;
	int rc, denied = 0;
	size_t sl = strlen(src);
	if (sl > 5 && !strcmp(src + sl - 5, ".tvwv")) {
		rc = map_bin(e, src, NULL, err);
		return rc == 1 ? tv_err_set(err, TV_EINVAL,
		                            "settings.rag.embedding_model_path: cannot read %s: %s", src,
		                            "no such file or written on another byte order")
		               : rc;
	}
	if (stat(src, &st) || (S_ISREG(st.st_mode) && access(src, R_OK)))
		return tv_err_set(err, TV_EINVAL, "settings.rag.embedding_model_path: cannot read %s: %s",
		                  src, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return tv_err_set(err, TV_EINVAL,
		                  "settings.rag.embedding_model_path: %s is not a regular file", src);
	if (!(beside = tv_sprintf("%s.tvwv", src)))
		return TV_ENOMEM_SET(err, src);
	if ((rc = map_bin(e, beside, &st, err)) <= 0)
		goto done;
	cache = cache_path(src, base);
	if (cache && (rc = map_bin(e, cache, &st, err)) <= 0)
		goto done;
	rc = convert(src, &st, beside, &denied, err);
	if (!rc)
		rc = map_bin(e, beside, &st, err);
	else if (denied && cache && !(rc = convert(src, &st, cache, &denied, err)))
		rc = map_bin(e, cache, &st, err);
	if (rc == 1) /* changed while converted */
		rc = tv_err_set(err, TV_EIO, "%s changed while it was converted; try again", src);
done:
	free(beside);
	free(cache);
	return rc;
}

int tv_embed_static_new(tv_embedder **out, const json_t *settings, tv_err *err)
{
	const char *path = json_string_value(json_object_get(settings, "embedding_model_path"));
	const char *base;
	static_emb *e;
	size_t want;
	int rc;
	*out = NULL;
	if (!path)
		path = json_string_value(json_object_get(settings, "embedding_model"));
	if (!path || !*path)
		return tv_err_set(err, TV_EINVAL,
		                  "settings.rag.embedding_model_path: required by the static embedder "
		                  "(a GloVe or word2vec text file; the CLI's --model)");
	if ((rc = tv_embed__dims(settings, 0, &want, err)))
		return rc;
	base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if (!(e = calloc(1, sizeof *e)))
		return TV_ENOMEM_SET(err, "static embedder");
	e->base.m = &static_methods;
	if ((rc = load(e, path, base, err)))
		goto fail;
	if (want && want != e->base.dim) {
		rc = tv_err_set(err, TV_EINVAL,
		                "settings.rag.embedding_dimensions: %zu, but the static model %s has %zu",
		                want, path, e->base.dim);
		goto fail;
	}
	/* the model, as a path that reopens it from any directory */
	if (!(e->base.model = realpath(path, NULL)))
		e->base.model = tv_strdup(path);
	if (!e->base.model || !(e->acc = calloc(e->base.dim, sizeof *e->acc))) {
		rc = TV_ENOMEM_SET(err, "static embedder");
		goto fail;
	}
	snprintf(e->base.id, sizeof e->base.id, "static:v1:%s:%zu", base, e->base.dim);
	*out = &e->base;
	return 0;
fail:
	static_free(&e->base);
	return rc;
}

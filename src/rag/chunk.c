/* Binary detection, UTF-8 repair and chunking of text files. */
#include <stdlib.h>
#include <string.h>

#include "rag/chunk.h"
#include "teavec.h"
#include "util/common.h"

static const char *const by_names[] = {"line", "paragraph", "document"};

int tv_chunk_by_parse(const char *name, tv_chunk_by *out)
{
	for (int i = 0; i < 3; i++)
		if (name && !strcmp(name, by_names[i])) {
			*out = (tv_chunk_by)i;
			return 0;
		}
	return -1;
}

const char *tv_chunk_by_name(tv_chunk_by by) { return by_names[by]; }

bool tv_text_is_binary(const char *buf, size_t n)
{
	size_t sample = TV_MIN(n, 8192), ctl = 0;
	for (size_t i = 0; i < sample; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == 0)
			return true;
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' &&
		    c != '\b' && c != 0x1b)
			ctl++;
		else if (c == 0x7f)
			ctl++;
	}
	return ctl * 10 > sample;
}

int tv_utf8_repair(const char *buf, size_t n, char **out, size_t *outn, size_t *nbad)
{
	static const char fffd[3] = {(char)0xEF, (char)0xBF, (char)0xBD};
	tv_buf b = {0};
	size_t at = 0, bad;
	*out = NULL;
	*outn = 0;
	*nbad = 0;
	while (!tv_utf8_valid(buf + at, n - at, &bad)) {
		size_t skip = 1;
		/* a truncated but otherwise valid prefix of a sequence is one error */
		unsigned char c = (unsigned char)buf[at + bad];
		size_t want = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 1;
		while (skip < want && at + bad + skip < n &&
		       ((unsigned char)buf[at + bad + skip] & 0xC0) == 0x80)
			skip++;
		/* a truncated sequence is replaced as a whole; a complete-looking
		 * but invalid one (overlong, surrogate) byte by byte */
		if (skip == want)
			skip = 1;
		if (tv_buf_append(&b, buf + at, bad) || tv_buf_append(&b, fffd, 3)) {
			tv_buf_free(&b);
			return TV_ENOMEM;
		}
		(*nbad)++;
		at += bad + skip;
	}
	if (*nbad == 0)
		return 0;
	if (tv_buf_append(&b, buf + at, n - at) || tv_buf_append(&b, "", 1)) {
		tv_buf_free(&b);
		return TV_ENOMEM;
	}
	*out = b.data;
	*outn = b.len - 1;
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

typedef struct builder {
	const char *t;
	size_t max;
	tv_chunk *v;
	size_t n, cap;
} builder;

static int push(builder *b, size_t off, size_t len, uint32_t sl, uint32_t el)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		tv_chunk *v = tv_reallocarray(b->v, cap, sizeof *v);
		if (!v)
			return TV_ENOMEM;
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n].off = off;
	b->v[b->n].len = len;
	b->v[b->n].start_line = sl;
	b->v[b->n].end_line = el;
	b->n++;
	return 0;
}

/* Bytes [off, end) starting at line sl: trimmed, split under max. */
static int add(builder *b, size_t off, size_t end, uint32_t sl, size_t max)
{
	const char *t = b->t;
	while (off < end && is_space(t[off])) {
		if (t[off] == '\n')
			sl++;
		off++;
	}
	while (end > off && is_space(t[end - 1]))
		end--;
	while (off < end) {
		size_t cut = end, nl = 0;
		int rc;
		if (max && end - off > max) {
			cut = off + max;
			while (cut > off + 1 && ((unsigned char)t[cut] & 0xC0) == 0x80)
				cut--; /* never inside a UTF-8 character */
		}
		for (size_t i = off; i < cut; i++)
			nl += t[i] == '\n';
		if ((rc = push(b, off, cut - off, sl, sl + (uint32_t)nl)))
			return rc;
		sl += (uint32_t)nl;
		off = cut;
		while (off < end && is_space(t[off])) {
			if (t[off] == '\n')
				sl++;
			off++;
		}
	}
	return 0;
}

int tv_chunk_text(const char *t, size_t n, tv_chunk_by by, size_t max_len, tv_chunk **out,
                  size_t *nout)
{
	builder b = {t, max_len, NULL, 0, 0};
	size_t ls = 0, pstart = 0, pend = 0;
	uint32_t line = 1, psl = 0;
	bool inpara = false;
	int rc = 0;
	*out = NULL;
	*nout = 0;
	if (by == TV_CHUNK_DOCUMENT) {
		rc = add(&b, 0, n, 1, 0);
		goto done;
	}
	while (ls < n && !rc) {
		const char *nlp = memchr(t + ls, '\n', n - ls);
		size_t le = nlp ? (size_t)(nlp - t) : n, i = ls;
		bool blank;
		while (i < le && is_space(t[i]))
			i++;
		blank = i == le;
		if (by == TV_CHUNK_LINE) {
			if (!blank)
				rc = add(&b, ls, le, line, max_len);
		} else if (blank) {
			if (inpara)
				rc = add(&b, pstart, pend, psl, max_len);
			inpara = false;
		} else {
			if (inpara && max_len && le - pstart > max_len) {
				rc = add(&b, pstart, pend, psl, max_len); /* full: start another */
				inpara = false;
			}
			if (!inpara) {
				inpara = true;
				pstart = ls;
				psl = line;
			}
			pend = le;
		}
		ls = le + 1;
		line++;
	}
	if (!rc && inpara)
		rc = add(&b, pstart, pend, psl, max_len);
done:
	if (rc) {
		free(b.v);
		return rc;
	}
	*out = b.v;
	*nout = b.n;
	return 0;
}

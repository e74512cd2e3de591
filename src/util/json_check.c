/* tv_json_object_certain: a recursive-descent recogniser of the plain
 * subset of JSON; every "false" sends the caller to jansson. */
#include <string.h>

#include "util/common.h"
#include "util/json_check.h"

#define MAX_DEPTH 32
#define MAX_KEYS 32 /* per object: duplicates are found by comparing pairs */

typedef struct scan {
	const unsigned char *p, *end;
	int depth;
} scan;

static void ws(scan *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static bool lit(scan *c, const char *w, size_t n)
{
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n))
		return false;
	c->p += n;
	return true;
}

static int hexval(unsigned ch)
{
	if (ch >= '0' && ch <= '9')
		return (int)(ch - '0');
	ch |= 0x20;
	return ch >= 'a' && ch <= 'f' ? (int)(ch - 'a' + 10) : -1;
}

/* A string; [*b, *b + *len) are its raw bytes, *plain that it has no
 * escape (so the raw bytes are the decoded ones). */
static bool str(scan *c, const unsigned char **b, size_t *len, bool *plain)
{
	if (c->p >= c->end || *c->p != '"')
		return false;
	*b = ++c->p;
	*plain = true;
	while (c->p < c->end) {
		unsigned ch = *c->p;
		if (ch == '"') {
			*len = (size_t)(c->p++ - *b);
			return true;
		}
		if (ch < 0x20)
			return false;
		c->p++;
		if (ch != '\\')
			continue; /* UTF-8 was checked before */
		*plain = false;
		if (c->p >= c->end)
			return false;
		ch = *c->p++;
		if (ch == 'u') {
			unsigned v = 0;
			if (c->end - c->p < 4)
				return false;
			for (int i = 0; i < 4; i++) {
				int h = hexval(*c->p++);
				if (h < 0)
					return false;
				v = v << 4 | (unsigned)h;
			}
			if (v == 0 || (v >= 0xD800 && v <= 0xDFFF))
				return false; /* NUL, surrogates: jansson's call */
		} else if (!memchr("\"\\/bfnrt", (int)ch, 8)) {
			return false;
		}
	}
	return false;
}

static bool digits(scan *c, size_t *n)
{
	const unsigned char *s = c->p;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	*n = (size_t)(c->p - s);
	return *n > 0;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? with an integer part that
 * fits a long long and at most 2 exponent digits: no overflow in strtoll
 * or strtod. */
static bool number(scan *c)
{
	const unsigned char *d;
	bool neg = c->p < c->end && *c->p == '-';
	size_t n;
	c->p += neg;
	d = c->p;
	if (c->p < c->end && *c->p == '0') {
		c->p++;
		if (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			return false;
	} else if (!digits(c, &n) || n > 19 ||
	           (n == 19 && memcmp(d, neg ? "9223372036854775808" : "9223372036854775807", 19) > 0)) {
		return false;
	}
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (!digits(c, &n))
			return false;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (!digits(c, &n) || n > 2)
			return false;
	}
	return true;
}

static bool value(scan *c);

static bool object(scan *c)
{
	const unsigned char *kb[MAX_KEYS];
	size_t kl[MAX_KEYS], nk = 0;
	c->p++; /* '{' */
	ws(c);
	if (c->p < c->end && *c->p == '}') {
		c->p++;
		return true;
	}
	for (;;) {
		bool plain;
		if (nk == MAX_KEYS || !str(c, &kb[nk], &kl[nk], &plain) || !plain)
			return false;
		for (size_t i = 0; i < nk; i++)
			if (kl[i] == kl[nk] && !memcmp(kb[i], kb[nk], kl[nk]))
				return false; /* jansson rejects it: let it say so */
		nk++;
		ws(c);
		if (c->p >= c->end || *c->p++ != ':')
			return false;
		ws(c);
		if (!value(c))
			return false;
		ws(c);
		if (c->p >= c->end)
			return false;
		if (*c->p == '}') {
			c->p++;
			return true;
		}
		if (*c->p++ != ',')
			return false;
		ws(c);
	}
}

static bool array(scan *c)
{
	c->p++; /* '[' */
	ws(c);
	if (c->p < c->end && *c->p == ']') {
		c->p++;
		return true;
	}
	for (;;) {
		if (!value(c))
			return false;
		ws(c);
		if (c->p >= c->end)
			return false;
		if (*c->p == ']') {
			c->p++;
			return true;
		}
		if (*c->p++ != ',')
			return false;
		ws(c);
	}
}

static bool value(scan *c)
{
	const unsigned char *b;
	size_t len;
	bool plain, ok;
	if (c->p >= c->end)
		return false;
	switch (*c->p) {
	case '{':
	case '[':
		if (++c->depth > MAX_DEPTH)
			return false;
		ok = *c->p == '{' ? object(c) : array(c);
		c->depth--;
		return ok;
	case '"': return str(c, &b, &len, &plain);
	case 't': return lit(c, "true", 4);
	case 'f': return lit(c, "false", 5);
	case 'n': return lit(c, "null", 4);
	default: return number(c);
	}
}

bool tv_json_object_certain(const char *s, size_t n)
{
	scan c = {(const unsigned char *)s, (const unsigned char *)s + n, 0};
	if (!tv_utf8_valid(s, n, NULL))
		return false;
	ws(&c);
	if (c.p >= c.end || *c.p != '{' || !value(&c))
		return false;
	ws(&c);
	return c.p == c.end;
}

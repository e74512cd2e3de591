/*
 * Filter evaluation, SQL three-valued logic over one row.
 *
 * Metadata values are read straight from the row's JSON text by a small
 * bounds-checked scanner that walks to the wanted key and decodes only that
 * value, so a scan never builds a JSON tree per row. Text that is not valid
 * JSON reads as "every key missing" (NULL), never as an error or a crash.
 *
 * Semantics (documented in filter.h):
 *  - NULL (missing key, JSON null, NULL path) compared with anything is
 *    unknown; unknown rows do not match.
 *  - numbers compare numerically (integers exactly), strings bytewise,
 *    booleans false < true; any other pairing (a string with a number, an
 *    object with anything) is unknown.
 *  - a JSON array matches `= v` when it contains v, `!= v` when it does
 *    not, `IN (...)` when it contains one of the items; other comparisons
 *    with an array are unknown.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "query/filter_int.h"
#include "util/common.h"

typedef enum { F = 0, T = 1, U = 2 } tri;

typedef struct ectx {
	const tv_row_view *row;
	tv_buf scratch[4];
} ectx;

/* ---- raw JSON scanning ---------------------------------------------- */

static const char *ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p at '"'; returns the position after the closing quote, or NULL. */
static const char *skip_string(const char *p, const char *e, bool *esc)
{
	*esc = false;
	for (p++; p < e; p++) {
		if (*p == '"')
			return p + 1;
		if (*p == '\\') {
			*esc = true;
			if (++p >= e)
				return NULL;
		} else if ((unsigned char)*p < 0x20) {
			return NULL;
		}
	}
	return NULL;
}

/* JSON nesting a value may have; jansson's own limit, so that both
 * readings of a row (this scanner, a parsed object) agree on every
 * document jansson accepts. */
#define MAX_NEST 2048

/* p at a value; returns the position after it, or NULL when it is not one.
 * Iterative (one bit per open container), so no document can exhaust the
 * stack. */
static const char *skip_value(const char *p, const char *e)
{
	unsigned char obj[MAX_NEST / 8]; /* bit d: container d is an object */
	size_t depth = 0;
	bool esc;
	for (;;) {
		bool in_obj;
		/* a value */
		p = ws(p, e);
		if (p >= e)
			return NULL;
		if (*p == '"') {
			if (!(p = skip_string(p, e, &esc)))
				return NULL;
		} else if (*p == '{' || *p == '[') {
			bool o = *p == '{';
			if (depth == MAX_NEST)
				return NULL;
			obj[depth / 8] = (unsigned char)((obj[depth / 8] & ~(1u << depth % 8)) |
			                                 ((unsigned)o << depth % 8));
			depth++;
			p = ws(p + 1, e);
			if (p < e && *p == (o ? '}' : ']')) {
				depth--;
				p++;
			} else if (o) { /* the first key */
				if (p >= e || *p != '"' || !(p = skip_string(p, e, &esc)))
					return NULL;
				p = ws(p, e);
				if (p >= e || *p != ':')
					return NULL;
				p++;
				continue;
			} else {
				continue;
			}
		} else {
			const char *s = p;
			while (p < e && (*p == '-' || *p == '+' || *p == '.' || (*p >= '0' && *p <= '9') ||
			                 (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
				p++;
			if (p == s)
				return NULL;
		}
		/* after a value: close containers, or go on to the next member */
		for (;;) {
			if (depth == 0)
				return p;
			in_obj = (obj[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1u;
			p = ws(p, e);
			if (p >= e)
				return NULL;
			if (*p == (in_obj ? '}' : ']')) {
				p++;
				depth--;
				continue;
			}
			if (*p != ',')
				return NULL;
			p = ws(p + 1, e);
			if (in_obj) {
				if (p >= e || *p != '"' || !(p = skip_string(p, e, &esc)))
					return NULL;
				p = ws(p, e);
				if (p >= e || *p != ':')
					return NULL;
				p++;
			}
			break;
		}
	}
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
	     : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int read_u4(const char *p, const char *e, uint32_t *cp)
{
	*cp = 0;
	if (e - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);
		if (h < 0)
			return -1;
		*cp = *cp << 4 | (uint32_t)h;
	}
	return 0;
}

static void put_utf8(tv_buf *b, uint32_t cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | cp >> 18);
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	tv_buf_append(b, u, n);
}

/* Decodes the string body [p, q) (between the quotes) into b. */
static int unescape(const char *p, const char *q, tv_buf *b)
{
	b->len = 0;
	if (tv_buf_reserve(b, (size_t)(q - p)))
		return -1;
	while (p < q) {
		uint32_t cp, lo;
		if (*p != '\\') {
			const char *s = p;
			while (p < q && *p != '\\')
				p++;
			tv_buf_append(b, s, (size_t)(p - s));
			continue;
		}
		if (++p >= q)
			return -1;
		switch (*p++) {
		case '"': tv_buf_append(b, "\"", 1); break;
		case '\\': tv_buf_append(b, "\\", 1); break;
		case '/': tv_buf_append(b, "/", 1); break;
		case 'b': tv_buf_append(b, "\b", 1); break;
		case 'f': tv_buf_append(b, "\f", 1); break;
		case 'n': tv_buf_append(b, "\n", 1); break;
		case 'r': tv_buf_append(b, "\r", 1); break;
		case 't': tv_buf_append(b, "\t", 1); break;
		case 'u':
			if (read_u4(p, q, &cp))
				return -1;
			p += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (q - p < 6 || p[0] != '\\' || p[1] != 'u' || read_u4(p + 2, q, &lo) ||
				    lo < 0xDC00 || lo > 0xDFFF)
					return -1;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				p += 6;
			} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
				return -1;
			}
			put_utf8(b, cp);
			break;
		default:
			return -1;
		}
	}
	return 0;
}

/* Decodes the scalar or container at p into v. */
static void decode(const char *p, const char *e, tv_val *v, tv_buf *scratch)
{
	const char *q;
	bool esc;
	memset(v, 0, sizeof *v);
	p = ws(p, e);
	if (p >= e)
		return;
	switch (*p) {
	case '"':
		if (!(q = skip_string(p, e, &esc)))
			return;
		if (!esc) {
			v->s = p + 1;
			v->len = (size_t)(q - p - 2);
		} else {
			if (unescape(p + 1, q - 1, scratch))
				return;
			v->s = scratch->data;
			v->len = scratch->len;
		}
		v->type = TV_V_STR;
		return;
	case '[':
		if ((q = skip_value(p, e))) {
			v->type = TV_V_ARRAY;
			v->s = p;
			v->len = (size_t)(q - p);
		}
		return;
	case '{':
		v->type = TV_V_OBJECT;
		return;
	case 't':
		if (e - p >= 4 && !memcmp(p, "true", 4)) {
			v->type = TV_V_BOOL;
			v->b = true;
		}
		return;
	case 'f':
		if (e - p >= 5 && !memcmp(p, "false", 5))
			v->type = TV_V_BOOL;
		return;
	default: {
		char small[64], *num = small, *end;
		size_t n;
		bool real = false;
		q = p;
		while (q < e && (*q == '-' || *q == '+' || *q == '.' || *q == 'e' || *q == 'E' ||
		                 (*q >= '0' && *q <= '9'))) {
			real |= (*q == '.' || *q == 'e' || *q == 'E');
			q++;
		}
		n = (size_t)(q - p);
		if (n == 0)
			return;
		/* JSON does not bound a number's digits (jansson reads them all) */
		if (n >= sizeof small && !(num = malloc(n + 1)))
			return;
		memcpy(num, p, n);
		num[n] = 0;
		if (!real) {
			long long i;
			errno = 0;
			i = strtoll(num, &end, 10);
			if (*end == 0 && errno != ERANGE) {
				v->type = TV_V_INT;
				v->i = i;
			} /* beyond 64 bits: a real, as jansson would not even read it */
		}
		if (v->type != TV_V_INT) {
			v->r = strtod(num, &end);
			if (*end == 0 && isfinite(v->r))
				v->type = TV_V_REAL;
		}
		if (num != small)
			free(num);
		return;
	}
	}
}

/* The value of key in the object at p (first occurrence), or NULL. */
static const char *find_key(const char *p, const char *e, const char *key, tv_buf *tmp)
{
	size_t klen = strlen(key);
	p = ws(p, e);
	if (p >= e || *p != '{')
		return NULL;
	p = ws(p + 1, e);
	if (p < e && *p == '}')
		return NULL;
	for (;;) {
		const char *ks, *kq;
		bool esc, hit;
		if (p >= e || *p != '"' || !(kq = skip_string(p, e, &esc)))
			return NULL;
		ks = p + 1;
		if (!esc)
			hit = (size_t)(kq - 1 - ks) == klen && !memcmp(ks, key, klen);
		else
			hit = !unescape(ks, kq - 1, tmp) && tmp->len == klen && !memcmp(tmp->data, key, klen);
		p = ws(kq, e);
		if (p >= e || *p != ':')
			return NULL;
		p = ws(p + 1, e);
		if (hit)
			return p;
		if (!(p = skip_value(p, e)))
			return NULL;
		p = ws(p, e);
		if (p >= e || *p != ',')
			return NULL;
		p = ws(p + 1, e);
	}
}

/* ---- operands ------------------------------------------------------- */

static void from_json(const json_t *j, tv_val *v)
{
	memset(v, 0, sizeof *v);
	switch (json_typeof(j)) {
	case JSON_STRING:
		v->type = TV_V_STR;
		v->s = json_string_value(j);
		v->len = json_string_length(j);
		break;
	case JSON_INTEGER: v->type = TV_V_INT; v->i = json_integer_value(j); break;
	case JSON_REAL: v->type = TV_V_REAL; v->r = json_real_value(j); break;
	case JSON_TRUE: v->type = TV_V_BOOL; v->b = true; break;
	case JSON_FALSE: v->type = TV_V_BOOL; break;
	case JSON_ARRAY: v->type = TV_V_ARRAY; v->arr = j; break;
	case JSON_OBJECT: v->type = TV_V_OBJECT; break;
	default: break;
	}
}

static void meta_value(ectx *c, const tv_opnd *o, tv_val *v, int slot)
{
	const tv_row_view *r = c->row;
	memset(v, 0, sizeof *v);
	if (r->metadata_obj) {
		const json_t *j = r->metadata_obj;
		for (size_t i = 0; j && i < o->nkeys; i++)
			j = json_object_get(j, o->keys[i]);
		if (j)
			from_json(j, v);
		return;
	}
	if (r->metadata) {
		const char *p = r->metadata, *e = r->metadata + r->metadata_len;
		for (size_t i = 0; p && i < o->nkeys; i++)
			p = find_key(p, e, o->keys[i], &c->scratch[3]);
		if (p)
			decode(p, e, v, &c->scratch[slot]);
	}
}

static void operand(ectx *c, const tv_opnd *o, tv_val *v, int slot)
{
	const tv_row_view *r = c->row;
	memset(v, 0, sizeof *v);
	switch (o->kind) {
	case TV_O_LIT: *v = o->lit; return;
	case TV_O_ID:
		if (r->id) {
			v->type = TV_V_STR;
			v->s = r->id;
			v->len = r->id_len;
		}
		return;
	case TV_O_TEXT:
		if (r->text) {
			v->type = TV_V_STR;
			v->s = r->text;
			v->len = r->text_len;
		}
		return;
	case TV_O_PATH:
		if (r->path) {
			v->type = TV_V_STR;
			v->s = r->path;
			v->len = r->path_len;
		}
		return;
	case TV_O_META: meta_value(c, o, v, slot); return;
	}
}

/* ---- comparisons ---------------------------------------------------- */

/* An integer against a real, exactly (converting the integer to a double
 * would make 2^53 + 1 equal 2^53). */
static int cmp_int_real(int64_t i, double r)
{
	double t;
	int64_t ti;
	if (isnan(r))
		return 2;
	if (r >= 9223372036854775808.0)
		return -1;
	if (r < -9223372036854775808.0)
		return 1;
	t = trunc(r); /* in [-2^63, 2^63): an int64 exactly */
	ti = (int64_t)t;
	if (i != ti)
		return i < ti ? -1 : 1;
	return r > t ? -1 : r < t ? 1 : 0;
}

/* -1/0/1, or 2 when the pair is not comparable. */
static int cmp_scalar(const tv_val *a, const tv_val *b)
{
	if (a->type == TV_V_INT && b->type == TV_V_INT)
		return a->i < b->i ? -1 : a->i > b->i;
	if (a->type == TV_V_INT && b->type == TV_V_REAL)
		return cmp_int_real(a->i, b->r);
	if (a->type == TV_V_REAL && b->type == TV_V_INT) {
		int c = cmp_int_real(b->i, a->r);
		return c == 2 ? 2 : -c;
	}
	if (a->type == TV_V_REAL && b->type == TV_V_REAL)
		return a->r < b->r ? -1 : a->r > b->r ? 1 : a->r == b->r ? 0 : 2;
	if (a->type == TV_V_STR && b->type == TV_V_STR) {
		int c = memcmp(a->s, b->s, TV_MIN(a->len, b->len));
		if (c)
			return c < 0 ? -1 : 1;
		return a->len < b->len ? -1 : a->len > b->len;
	}
	if (a->type == TV_V_BOOL && b->type == TV_V_BOOL)
		return (int)a->b - (int)b->b;
	return 2;
}

/* Does the array value arr contain an element equal to x? T/F (U if x is
 * NULL). */
static tri array_contains(ectx *c, const tv_val *arr, const tv_val *x)
{
	tv_val el;
	if (x->type == TV_V_NULL)
		return U;
	if (arr->arr) {
		size_t i;
		json_t *j;
		json_array_foreach(arr->arr, i, j) {
			from_json(j, &el);
			if (cmp_scalar(&el, x) == 0)
				return T;
		}
		return F;
	}
	{
		const char *p = arr->s + 1, *e = arr->s + arr->len;
		p = ws(p, e);
		if (p < e && *p == ']')
			return F;
		while (p && p < e) {
			decode(p, e, &el, &c->scratch[2]);
			if (cmp_scalar(&el, x) == 0)
				return T;
			if (!(p = skip_value(p, e)))
				break;
			p = ws(p, e);
			if (p >= e || *p != ',')
				break;
			p++;
		}
	}
	return F;
}

static tri compare(ectx *c, const tv_val *a, const tv_val *b, tv_cmp op)
{
	int r;
	if (a->type == TV_V_NULL || b->type == TV_V_NULL)
		return U;
	if (a->type == TV_V_ARRAY || b->type == TV_V_ARRAY) {
		const tv_val *arr = a->type == TV_V_ARRAY ? a : b, *x = arr == a ? b : a;
		tri t;
		if (x->type == TV_V_ARRAY || x->type == TV_V_OBJECT || (op != TV_EQ && op != TV_NE))
			return U;
		t = array_contains(c, arr, x);
		return op == TV_EQ ? t : t == U ? U : (tri)!t;
	}
	if ((r = cmp_scalar(a, b)) == 2)
		return U;
	switch (op) {
	case TV_EQ: return r == 0;
	case TV_NE: return r != 0;
	case TV_LT: return r < 0;
	case TV_LE: return r <= 0;
	case TV_GT: return r > 0;
	default: return r >= 0;
	}
}

/* Length in bytes of the UTF-8 sequence starting at s (1 for bad bytes). */
static size_t u8len(unsigned char c)
{
	return c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
}

/* Whether the pattern character at pi is escaped: then the character
 * after it is literal. esc is an ASCII escape character or one of
 * TV_LIKE_ESC_DEFAULT (a backslash before % or _, as LanceDB reads LIKE:
 * any other backslash is itself) and TV_LIKE_ESC_NONE. */
static bool like_escaped(const char *p, size_t pn, size_t pi, uint32_t esc)
{
	if (esc == TV_LIKE_ESC_NONE || pi + 1 >= pn)
		return false;
	if (esc == TV_LIKE_ESC_DEFAULT)
		return p[pi] == '\\' && (p[pi + 1] == '%' || p[pi + 1] == '_');
	return (unsigned char)p[pi] == esc;
}

/* SQL LIKE: '%' any sequence, '_' one code point, an escaped character
 * itself. Iterative with one backtrack point per '%'. */
static bool like(const char *s, size_t sn, const char *p, size_t pn, uint32_t esc)
{
	size_t si = 0, pi = 0, star_p = (size_t)-1, star_s = 0;
	while (si < sn) {
		if (pi < pn && p[pi] == '%') {
			star_p = ++pi;
			star_s = si;
			continue;
		}
		if (pi < pn) {
			size_t pl, sl = TV_MIN(u8len((unsigned char)s[si]), sn - si);
			bool lit = like_escaped(p, pn, pi, esc);
			size_t at = lit ? pi + 1 : pi;
			pl = TV_MIN(u8len((unsigned char)p[at]), pn - at);
			if (!lit && p[pi] == '_') {
				si += sl;
				pi++;
				continue;
			}
			if (pl == sl && !memcmp(p + at, s + si, sl)) {
				si += sl;
				pi = at + pl;
				continue;
			}
		}
		if (star_p == (size_t)-1)
			return false;
		pi = star_p;
		star_s += TV_MIN(u8len((unsigned char)s[star_s]), sn - star_s);
		si = star_s;
	}
	while (pi < pn && p[pi] == '%')
		pi++;
	return pi == pn;
}

static tri not3(tri t) { return t == U ? U : (tri)!t; }

static tri eval(ectx *c, const tv_node *n);

static tri eval_in(ectx *c, const tv_node *n)
{
	tv_val a, x;
	tri res = F;
	operand(c, &n->a, &a, 0);
	if (a.type == TV_V_NULL)
		return U;
	for (size_t i = 0; i < n->nlist && res != T; i++) {
		tri t;
		operand(c, &n->list[i], &x, 1);
		t = compare(c, &a, &x, TV_EQ);
		if (t == T)
			res = T;
		else if (t == U)
			res = U;
	}
	return n->negated ? not3(res) : res;
}

static tri eval_pred(ectx *c, const tv_node *n)
{
	tv_val a, b, hi;
	tri t;
	switch (n->kind) {
	case TV_N_CMP:
		operand(c, &n->a, &a, 0);
		operand(c, &n->b, &b, 1);
		return compare(c, &a, &b, n->op);
	case TV_N_IN:
		return eval_in(c, n);
	case TV_N_LIKE:
		operand(c, &n->a, &a, 0);
		operand(c, &n->b, &b, 1);
		if (a.type != TV_V_STR || b.type != TV_V_STR)
			return U;
		t = like(a.s, a.len, b.s, b.len, n->escape);
		return n->negated ? not3(t) : t;
	case TV_N_ISNULL:
		operand(c, &n->a, &a, 0);
		return (a.type == TV_V_NULL) != n->negated;
	case TV_N_BETWEEN: {
		tri lo, up;
		operand(c, &n->a, &a, 0);
		operand(c, &n->b, &b, 1);
		lo = compare(c, &a, &b, TV_GE);
		operand(c, &n->c, &hi, 1);
		up = compare(c, &a, &hi, TV_LE);
		t = lo == F || up == F ? F : lo == U || up == U ? U : T;
		return n->negated ? not3(t) : t;
	}
	case TV_N_TRUTH:
		operand(c, &n->a, &a, 0);
		return a.type == TV_V_BOOL ? (tri)a.b : U;
	default:
		return eval(c, n);
	}
}

static tri eval(ectx *c, const tv_node *n)
{
	tri l, r;
	switch (n->kind) {
	case TV_N_AND:
		if ((l = eval(c, n->l)) == F)
			return F;
		r = eval(c, n->r);
		return r == F ? F : (l == U || r == U) ? U : T;
	case TV_N_OR:
		if ((l = eval(c, n->l)) == T)
			return T;
		r = eval(c, n->r);
		return r == T ? T : (l == U || r == U) ? U : F;
	case TV_N_NOT:
		return not3(eval(c, n->l));
	default:
		return eval_pred(c, n);
	}
}

bool tv_filter_matches(const tv_filter *f, const tv_row_view *row)
{
	ectx c;
	tri t;
	if (!f || !f->root)
		return true;
	memset(&c, 0, sizeof c);
	c.row = row;
	t = eval(&c, f->root);
	for (size_t i = 0; i < TV_ARRAY_LEN(c.scratch); i++)
		tv_buf_free(&c.scratch[i]);
	return t == T;
}

/* ---- planner helpers -------------------------------------------------- */

static unsigned opnd_columns(const tv_opnd *o)
{
	switch (o->kind) {
	case TV_O_ID: return TV_FILTER_COL_ID;
	case TV_O_TEXT: return TV_FILTER_COL_TEXT;
	case TV_O_PATH: return TV_FILTER_COL_PATH;
	case TV_O_META: return TV_FILTER_COL_META;
	default: return 0;
	}
}

static unsigned node_columns(const tv_node *n)
{
	unsigned m = 0;
	if (!n)
		return 0;
	m |= opnd_columns(&n->a) | opnd_columns(&n->b) | opnd_columns(&n->c);
	for (size_t i = 0; i < n->nlist; i++)
		m |= opnd_columns(&n->list[i]);
	return m | node_columns(n->l) | node_columns(n->r);
}

unsigned tv_filter_columns(const tv_filter *f) { return f ? node_columns(f->root) : 0; }

int tv_filter_json_string(const char *json, size_t len, const char *key, const char **val,
                          size_t *vlen, tv_buf *scratch)
{
	const char *p = json ? find_key(json, json + len, key, scratch) : NULL;
	tv_val v;
	if (!p)
		return 0;
	decode(p, json + len, &v, scratch);
	if (v.type == TV_V_NULL)
		return 0;
	if (v.type != TV_V_STR)
		return -1;
	*val = v.s;
	*vlen = v.len;
	return 1;
}

static bool eq_operand(const tv_opnd *o, tv_filter_eq *out)
{
	if (o->kind == TV_O_PATH)
		out->column = TV_EQ_PATH;
	else if (o->kind == TV_O_ID)
		out->column = TV_EQ_ID;
	else if (o->kind == TV_O_META && o->nkeys == 1) {
		out->column = TV_EQ_META;
		out->key = o->keys[0];
	} else
		return false;
	return true;
}

static bool eq_node(const tv_node *n, tv_filter_eq *out)
{
	if (n->kind == TV_N_AND)
		return eq_node(n->l, out) || eq_node(n->r, out);
	if (n->kind == TV_N_CMP && n->op == TV_EQ) {
		const tv_opnd *col = n->a.kind == TV_O_LIT ? &n->b : &n->a;
		const tv_opnd *lit = n->a.kind == TV_O_LIT ? &n->a : &n->b;
		if (lit->kind != TV_O_LIT || lit->lit.type != TV_V_STR || !eq_operand(col, out))
			return false;
		out->n = 1;
		out->vals[0] = lit->lit.s;
		out->lens[0] = lit->lit.len;
		return true;
	}
	if (n->kind == TV_N_IN && !n->negated && n->nlist <= TV_FILTER_EQ_MAX &&
	    eq_operand(&n->a, out)) {
		for (size_t i = 0; i < n->nlist; i++)
			if (n->list[i].kind != TV_O_LIT || n->list[i].lit.type != TV_V_STR)
				return false;
		out->n = n->nlist;
		for (size_t i = 0; i < n->nlist; i++) {
			out->vals[i] = n->list[i].lit.s;
			out->lens[i] = n->list[i].lit.len;
		}
		return true;
	}
	return false;
}

bool tv_filter_equality(const tv_filter *f, tv_filter_eq *out)
{
	memset(out, 0, sizeof *out);
	if (!f || !f->root || !eq_node(f->root, out))
		return false;
	out->whole = f->root->kind != TV_N_AND;
	return true;
}

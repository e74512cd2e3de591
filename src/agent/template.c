/* Template expressions: a recursive-descent parser that evaluates as it
 * parses (see template.h for the language). */
#include "agent/template.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"

typedef struct tp {
	const char *s;
	size_t pos, len;
	const json_t *ctx; /* NULL: syntax check only */
	tv_err *err;
	int depth;
} tp;

static json_t *p_or(tp *p);

static void skip_ws(tp *p)
{
	while (p->pos < p->len && isspace((unsigned char)p->s[p->pos]))
		p->pos++;
}

static json_t *fail(tp *p, const char *what)
{
	tv_err_set(p->err, TV_EINVAL, "template: %s at column %zu of '%.*s'", what, p->pos + 1,
	           (int)TV_MIN(p->len, 200), p->s);
	return NULL;
}

static bool accept(tp *p, const char *tok)
{
	size_t n = strlen(tok);
	skip_ws(p);
	if (p->len - p->pos < n || memcmp(p->s + p->pos, tok, n))
		return false;
	/* a keyword must not run into an identifier */
	if (isalpha((unsigned char)tok[0]) && p->pos + n < p->len &&
	    (isalnum((unsigned char)p->s[p->pos + n]) || p->s[p->pos + n] == '_'))
		return false;
	p->pos += n;
	return true;
}

static size_t ident(tp *p, const char **start)
{
	size_t b;
	skip_ws(p);
	b = p->pos;
	if (b < p->len && (isalpha((unsigned char)p->s[b]) || p->s[b] == '_')) {
		while (p->pos < p->len && (isalnum((unsigned char)p->s[p->pos]) || p->s[p->pos] == '_'))
			p->pos++;
	}
	*start = p->s + b;
	return p->pos - b;
}

static json_t *string_lit(tp *p)
{
	char q = p->s[p->pos++];
	tv_buf b = {0};
	json_t *r;
	while (p->pos < p->len && p->s[p->pos] != q) {
		char c = p->s[p->pos++];
		if (c == '\\' && p->pos < p->len) {
			c = p->s[p->pos++];
			c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
		}
		if (tv_buf_append(&b, &c, 1)) {
			tv_buf_free(&b);
			return fail(p, "out of memory");
		}
	}
	if (p->pos >= p->len) {
		tv_buf_free(&b);
		return fail(p, "unterminated string");
	}
	p->pos++;
	r = json_stringn(b.data ? b.data : "", b.len);
	tv_buf_free(&b);
	return r ? r : fail(p, "string is not valid UTF-8");
}

static json_t *number_lit(tp *p)
{
	char buf[64], *end;
	size_t b = p->pos, n;
	if (p->s[p->pos] == '-')
		p->pos++;
	while (p->pos < p->len && (isdigit((unsigned char)p->s[p->pos]) || p->s[p->pos] == '.' ||
	                           p->s[p->pos] == 'e' || p->s[p->pos] == 'E'))
		p->pos++;
	n = p->pos - b;
	if (n == 0 || n >= sizeof buf)
		return fail(p, "bad number");
	memcpy(buf, p->s + b, n);
	buf[n] = 0;
	if (!strpbrk(buf, ".eE")) {
		long long v = strtoll(buf, &end, 10);
		if (*end == 0)
			return json_integer(v);
	} else {
		double d = strtod(buf, &end);
		if (*end == 0)
			return json_real(d);
	}
	return fail(p, "bad number");
}

/* Steps into v by key (object) or index (list); missing -> NULL. */
static const json_t *step(const json_t *v, const json_t *key)
{
	if (!v)
		return NULL;
	if (json_is_string(key))
		return json_object_get(v, json_string_value(key));
	if (json_is_integer(key) && json_is_array(v)) {
		json_int_t i = json_integer_value(key);
		if (i < 0)
			i += (json_int_t)json_array_size(v);
		return i >= 0 ? json_array_get(v, (size_t)i) : NULL;
	}
	return NULL;
}

static json_t *path(tp *p, const char *name, size_t n)
{
	json_t *key = json_stringn(name, n);
	const json_t *cur = p->ctx ? step(p->ctx, key) : NULL;
	json_decref(key);
	for (;;) {
		if (accept(p, ".")) {
			const char *f;
			size_t fn = ident(p, &f);
			if (!fn)
				return fail(p, "expected a name after '.'");
			key = json_stringn(f, fn);
		} else if (accept(p, "[")) {
			skip_ws(p);
			if (p->pos < p->len && (p->s[p->pos] == '\'' || p->s[p->pos] == '"'))
				key = string_lit(p);
			else
				key = number_lit(p);
			if (!key)
				return NULL;
			if (!accept(p, "]")) {
				json_decref(key);
				return fail(p, "expected ']'");
			}
		} else {
			break;
		}
		cur = step(cur, key);
		json_decref(key);
	}
	return cur ? json_incref((json_t *)cur) : json_null();
}

static json_t *primary_inner(tp *p)
{
	const char *name;
	size_t n;
	if (p->s[p->pos] == '\'' || p->s[p->pos] == '"')
		return string_lit(p);
	if (isdigit((unsigned char)p->s[p->pos]) || p->s[p->pos] == '-')
		return number_lit(p);
	if (accept(p, "(")) {
		json_t *v = p_or(p);
		if (v && !accept(p, ")")) {
			json_decref(v);
			return fail(p, "expected ')'");
		}
		return v;
	}
	if (accept(p, "true") || accept(p, "True"))
		return json_true();
	if (accept(p, "false") || accept(p, "False"))
		return json_false();
	if (accept(p, "null") || accept(p, "None") || accept(p, "none"))
		return json_null();
	if (!(n = ident(p, &name)))
		return fail(p, "expected a value");
	return path(p, name, n);
}

static json_t *primary(tp *p)
{
	json_t *v;
	skip_ws(p);
	if (p->pos >= p->len)
		return fail(p, "expected a value");
	if (p->depth >= 64)
		return fail(p, "expression nests too deeply");
	p->depth++;
	v = primary_inner(p);
	p->depth--;
	return v;
}

static json_t *text_of(const json_t *v)
{
	char *s;
	json_t *r;
	if (json_is_string(v))
		return json_incref((json_t *)v);
	if (json_is_null(v))
		return json_string("");
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	r = json_string(s ? s : "");
	free(s);
	return r;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static json_t *apply_filter(tp *p, json_t *v, const char *f, size_t fn, json_t *arg)
{
	json_t *r = NULL;
#define IS(name) (fn == strlen(name) && !memcmp(f, name, fn))
	if (IS("default")) {
		r = json_is_null(v) ? json_incref(arg) : json_incref(v);
	} else if (IS("tojson")) {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		r = json_string(s ? s : "null");
		free(s);
	} else if (IS("length") || IS("count")) {
		size_t n = json_is_array(v) ? json_array_size(v)
		         : json_is_object(v) ? json_object_size(v)
		         : json_is_string(v) ? utf8_chars(json_string_value(v)) : 0;
		r = json_integer((json_int_t)n);
	} else if (IS("lower") || IS("upper")) {
		char *s = tv_strdup(json_string_value(v) ? json_string_value(v) : "");
		for (char *c = s; c && *c; c++)
			*c = (char)(IS("lower") ? tolower((unsigned char)*c) : toupper((unsigned char)*c));
		r = json_string(s ? s : "");
		free(s);
	} else if (IS("join")) {
		tv_buf b = {0};
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item) {
			json_t *t = text_of(item);
			if (i)
				tv_buf_printf(&b, "%s", json_string_value(arg) ? json_string_value(arg) : "");
			tv_buf_printf(&b, "%s", json_string_value(t));
			json_decref(t);
		}
		r = json_string(b.data ? b.data : "");
		tv_buf_free(&b);
	} else if (IS("string")) {
		r = text_of(v);
	} else {
		json_decref(v);
		json_decref(arg);
		return fail(p, "unknown filter");
	}
#undef IS
	json_decref(v);
	json_decref(arg);
	return r;
}

static json_t *filtered(tp *p)
{
	json_t *v = primary(p);
	while (v && accept(p, "|")) {
		const char *f;
		size_t fn = ident(p, &f);
		json_t *arg = json_null();
		if (!fn) {
			json_decref(v);
			return fail(p, "expected a filter name after '|'");
		}
		if (accept(p, "(")) {
			json_decref(arg);
			if (accept(p, ")")) {
				arg = json_null();
			} else if (!(arg = p_or(p)) || !accept(p, ")")) {
				json_decref(arg);
				json_decref(v);
				return arg ? fail(p, "expected ')' after filter argument") : NULL;
			}
		}
		v = apply_filter(p, v, f, fn, arg);
	}
	return v;
}

static int compare(const json_t *a, const json_t *b, bool *ok)
{
	*ok = true;
	if (json_is_number(a) && json_is_number(b)) {
		double x = json_number_value(a), y = json_number_value(b);
		return x < y ? -1 : x > y;
	}
	if (json_is_string(a) && json_is_string(b))
		return strcmp(json_string_value(a), json_string_value(b));
	*ok = false;
	return 0;
}

static json_t *comparison(tp *p)
{
	static const char *ops[] = {"==", "!=", "<=", ">=", "<", ">"};
	json_t *a = filtered(p), *b;
	size_t op;
	bool ok, res;
	int c;
	if (!a)
		return NULL;
	for (op = 0; op < TV_ARRAY_LEN(ops) && !accept(p, ops[op]); op++)
		;
	if (op == TV_ARRAY_LEN(ops))
		return a;
	if (!(b = filtered(p))) {
		json_decref(a);
		return NULL;
	}
	c = compare(a, b, &ok);
	switch (op) {
	case 0: res = ok ? c == 0 : json_equal(a, b); break;
	case 1: res = ok ? c != 0 : !json_equal(a, b); break;
	case 2: res = ok && c <= 0; break;
	case 3: res = ok && c >= 0; break;
	case 4: res = ok && c < 0; break;
	default: res = ok && c > 0; break;
	}
	json_decref(a);
	json_decref(b);
	return json_boolean(res);
}

static json_t *p_not(tp *p)
{
	if (accept(p, "not")) {
		json_t *v = p_not(p);
		bool t;
		if (!v)
			return NULL;
		t = tv_tpl_truthy(v);
		json_decref(v);
		return json_boolean(!t);
	}
	return comparison(p);
}

static json_t *p_and(tp *p)
{
	json_t *v = p_not(p);
	while (v && accept(p, "and")) {
		json_t *w = p_not(p);
		bool t = tv_tpl_truthy(v);
		if (!w) {
			json_decref(v);
			return NULL;
		}
		json_decref(t ? v : w);
		v = t ? w : v;
	}
	return v;
}

static json_t *p_or(tp *p)
{
	json_t *v = p_and(p);
	while (v && accept(p, "or")) {
		json_t *w = p_and(p);
		bool t = tv_tpl_truthy(v);
		if (!w) {
			json_decref(v);
			return NULL;
		}
		json_decref(t ? w : v);
		v = t ? v : w;
	}
	return v;
}

static int eval_n(json_t **out, const char *expr, size_t len, const json_t *ctx, tv_err *err)
{
	tp p = {expr, 0, len, ctx, err, 0};
	json_t *v;
	*out = NULL;
	if (!(v = p_or(&p)))
		return err && err->code ? err->code : TV_EINVAL;
	skip_ws(&p);
	if (p.pos != p.len) {
		json_decref(v);
		fail(&p, "unexpected text");
		return TV_EINVAL;
	}
	*out = v;
	return 0;
}

int tv_tpl_eval(json_t **out, const char *expr, const json_t *ctx, tv_err *err)
{
	json_t *empty = ctx ? NULL : json_object();
	int rc = eval_n(out, expr, strlen(expr), ctx ? ctx : empty, err);
	json_decref(empty);
	return rc;
}

int tv_tpl_check(const char *expr, tv_err *err)
{
	json_t *v;
	int rc = tv_tpl_eval(&v, expr, NULL, err);
	json_decref(v);
	return rc;
}

bool tv_tpl_truthy(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_NULL: case JSON_FALSE: return false;
	case JSON_TRUE: return true;
	case JSON_INTEGER: return json_integer_value(v) != 0;
	case JSON_REAL: return json_real_value(v) != 0.0;
	case JSON_STRING: return json_string_length(v) > 0;
	case JSON_ARRAY: return json_array_size(v) > 0;
	case JSON_OBJECT: return json_object_size(v) > 0;
	}
	return false;
}

/* Renders one string: a lone {{ expr }} keeps its type. */
static int render_string(json_t **out, const char *s, const json_t *ctx, tv_err *err)
{
	const char *open = strstr(s, "{{"), *close;
	tv_buf b = {0};
	int rc = 0;
	if (!open) {
		*out = json_string(s);
		return 0;
	}
	{
		const char *a = s, *z = s + strlen(s);
		while (isspace((unsigned char)*a))
			a++;
		while (z > a && isspace((unsigned char)z[-1]))
			z--;
		close = strstr(a + 2, "}}");
		if (a == open && close && close + 2 == z && !strstr(open + 2, "{{"))
			return eval_n(out, open + 2, (size_t)(close - open - 2), ctx, err);
	}
	while ((open = strstr(s, "{{"))) {
		json_t *v, *t;
		if (!(close = strstr(open + 2, "}}"))) {
			rc = tv_err_set(err, TV_EINVAL, "template: '{{' without '}}' in '%.200s'", s);
			goto done;
		}
		tv_buf_append(&b, s, (size_t)(open - s));
		if ((rc = eval_n(&v, open + 2, (size_t)(close - open - 2), ctx, err)))
			goto done;
		t = text_of(v);
		tv_buf_printf(&b, "%s", json_string_value(t));
		json_decref(t);
		json_decref(v);
		s = close + 2;
	}
	tv_buf_printf(&b, "%s", s);
	*out = json_string(b.data ? b.data : "");
done:
	tv_buf_free(&b);
	return rc;
}

int tv_tpl_render(json_t **out, const json_t *value, const json_t *ctx, tv_err *err)
{
	const char *key;
	json_t *v, *r;
	size_t i;
	int rc;
	*out = NULL;
	switch (json_typeof(value)) {
	case JSON_STRING:
		return render_string(out, json_string_value(value), ctx, err);
	case JSON_ARRAY:
		r = json_array();
		json_array_foreach(value, i, v) {
			json_t *x;
			if ((rc = tv_tpl_render(&x, v, ctx, err))) {
				json_decref(r);
				return rc;
			}
			json_array_append_new(r, x);
		}
		*out = r;
		return 0;
	case JSON_OBJECT:
		r = json_object();
		json_object_foreach((json_t *)value, key, v) {
			json_t *x;
			if ((rc = tv_tpl_render(&x, v, ctx, err))) {
				json_decref(r);
				return rc;
			}
			json_object_set_new(r, key, x);
		}
		*out = r;
		return 0;
	default:
		*out = json_incref((json_t *)value);
		return 0;
	}
}

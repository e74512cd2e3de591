/*
 * The SQL WHERE front end: a tokenizer and a recursive-descent parser
 * producing the filter AST. Grammar (keywords case-insensitive):
 *
 *   expr      := and_expr (OR and_expr)*
 *   and_expr  := not_expr (AND not_expr)*
 *   not_expr  := NOT not_expr | predicate
 *   predicate := '(' expr ')'
 *              | operand [ cmp operand
 *                        | [NOT] IN '(' operand (',' operand)* ')'
 *                        | [NOT] LIKE operand [ESCAPE string]
 *                        | IS [NOT] NULL
 *                        | [NOT] BETWEEN operand AND operand ]
 *   operand   := literal | column | metadata_ref | json_extract(metadata, '$.a.b')
 *   column    := id | text | path
 *   metadata_ref := metadata ('.' name | '[' string ']')+  |  name ('.' name)*
 *   name      := identifier | "quoted" | `quoted`
 *
 * A name that is not a column is a metadata key. LIKE without ESCAPE reads
 * \% and \_ as a literal % and _ (LanceDB's, i.e. Arrow's, rule: a
 * backslash before anything else is itself); ESCAPE 'c' makes c quote the
 * character after it; ESCAPE '' turns escaping off. Errors name the 1-based
 * column (in characters) and what was expected.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "query/filter_int.h"
#include "util/common.h"

#define MAX_DEPTH 256

typedef enum tok_kind {
	T_END, T_NAME, T_QNAME, T_STR, T_INT, T_REAL, T_OP, T_LP, T_RP, T_COMMA, T_DOT, T_LB, T_RB
} tok_kind;

typedef struct tok {
	tok_kind kind;
	size_t pos, len; /* in the source */
	char *text;      /* T_STR, T_QNAME: decoded; T_NAME: copy */
	int64_t i;
	double r;
	char op[3];
} tok;

typedef struct parser {
	const char *src;
	size_t len, pos;
	tok t; /* current token */
	int depth;
	tv_err *err;
	int failed;
} parser;

/* The 1-based column of byte offset pos, in characters (the text is valid
 * UTF-8: every byte but a continuation byte starts one). */
static size_t column(const parser *p, size_t pos)
{
	size_t col = 1;
	for (size_t i = 0; i < pos && i < p->len; i++)
		col += ((unsigned char)p->src[i] & 0xC0) != 0x80;
	return col;
}

static int perr(parser *p, size_t pos, const char *fmt, const char *what)
{
	if (!p->failed)
		tv_err_set(p->err, TV_EINVAL, "filter: %s%s at column %zu", fmt, what ? what : "",
		           column(p, pos));
	p->failed = 1;
	return TV_EINVAL;
}

static void tok_clear(tok *t)
{
	free(t->text);
	memset(t, 0, sizeof *t);
}

/* Reads a quoted string or name: '...' (a string, '' inside for one '),
 * "..." or `...` (a name, as LanceDB quotes column names; the quote
 * doubled inside stands for itself). */
static int lex_quoted(parser *p, char q, tok *t)
{
	tv_buf b = {0};
	size_t start = p->pos++;
	for (;;) {
		if (p->pos >= p->len) {
			tv_buf_free(&b);
			return perr(p, start, q == '\'' ? "unterminated string starting" :
			                                  "unterminated quoted name starting", NULL);
		}
		if (p->src[p->pos] == q) {
			if (p->pos + 1 < p->len && p->src[p->pos + 1] == q) {
				tv_buf_append(&b, &q, 1);
				p->pos += 2;
				continue;
			}
			p->pos++;
			break;
		}
		if (tv_buf_append(&b, p->src + p->pos, 1)) {
			tv_buf_free(&b);
			return perr(p, start, "out of memory", NULL);
		}
		p->pos++;
	}
	t->kind = q == '\'' ? T_STR : T_QNAME;
	t->text = b.data ? b.data : tv_strdup("");
	t->len = b.len;
	return 0;
}

/* A number starting at byte s (a '-' there is its sign; p->pos is at its
 * first digit or '.'). Integers that fit 64 bits are integers, the rest
 * reals; a real too large for a double is an error. */
static int lex_number(parser *p, tok *t, size_t s)
{
	char buf[64], *end;
	bool real = false;
	while (p->pos < p->len && (isdigit((unsigned char)p->src[p->pos]) || p->src[p->pos] == '.' ||
	                           p->src[p->pos] == 'e' || p->src[p->pos] == 'E' ||
	                           ((p->src[p->pos] == '-' || p->src[p->pos] == '+') &&
	                            (p->src[p->pos - 1] == 'e' || p->src[p->pos - 1] == 'E')))) {
		real |= !isdigit((unsigned char)p->src[p->pos]);
		p->pos++;
	}
	t->pos = s;
	if (p->pos - s >= sizeof buf)
		return perr(p, s, "number too long", NULL);
	memcpy(buf, p->src + s, p->pos - s);
	buf[p->pos - s] = 0;
	if (!real) {
		errno = 0;
		t->i = strtoll(buf, &end, 10);
		t->kind = T_INT;
		if (errno == 0 && *end == 0)
			return 0;
	}
	errno = 0;
	t->r = strtod(buf, &end);
	t->kind = T_REAL;
	if (*end != 0 || isinf(t->r))
		return perr(p, s, "malformed number", NULL);
	return 0;
}

static int next(parser *p)
{
	tok *t = &p->t;
	char c;
	tok_clear(t);
	while (p->pos < p->len && isspace((unsigned char)p->src[p->pos]))
		p->pos++;
	t->pos = p->pos;
	if (p->pos >= p->len) {
		t->kind = T_END;
		return 0;
	}
	c = p->src[p->pos];
	if (c == '\'' || c == '"' || c == '`')
		return lex_quoted(p, c, t);
	if (isdigit((unsigned char)c) ||
	    (c == '.' && p->pos + 1 < p->len && isdigit((unsigned char)p->src[p->pos + 1])))
		return lex_number(p, t, p->pos);
	if (isalpha((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80) {
		size_t s = p->pos;
		while (p->pos < p->len && (isalnum((unsigned char)p->src[p->pos]) ||
		                           p->src[p->pos] == '_' || (unsigned char)p->src[p->pos] >= 0x80))
			p->pos++;
		t->kind = T_NAME;
		t->text = tv_strndup(p->src + s, p->pos - s);
		t->len = p->pos - s;
		return t->text ? 0 : perr(p, s, "out of memory", NULL);
	}
	p->pos++;
	switch (c) {
	case '(': t->kind = T_LP; return 0;
	case ')': t->kind = T_RP; return 0;
	case ',': t->kind = T_COMMA; return 0;
	case '.': t->kind = T_DOT; return 0;
	case '[': t->kind = T_LB; return 0;
	case ']': t->kind = T_RB; return 0;
	case '-':
		if (p->pos < p->len && (isdigit((unsigned char)p->src[p->pos]) || p->src[p->pos] == '.'))
			return lex_number(p, t, p->pos - 1);
		break;
	case '=':
		strcpy(t->op, "=");
		t->kind = T_OP;
		return 0;
	case '!':
	case '<':
	case '>':
		t->kind = T_OP;
		t->op[0] = c;
		if (p->pos < p->len && (p->src[p->pos] == '=' || (c == '<' && p->src[p->pos] == '>')))
			t->op[1] = p->src[p->pos++];
		if (!strcmp(t->op, "!"))
			break;
		return 0;
	default:
		break;
	}
	return perr(p, t->pos, "unexpected character", NULL);
}

static bool is_kw(const parser *p, const char *kw)
{
	return p->t.kind == T_NAME && !strcasecmp(p->t.text, kw);
}

static int expect(parser *p, tok_kind k, const char *what)
{
	if (p->t.kind != k)
		return perr(p, p->t.pos, "expected ", what);
	return next(p);
}

static int parse_expr(parser *p, tv_node **out);

/* ---- operands ------------------------------------------------------- */

static int meta_push(tv_opnd *o, const char *key, size_t len)
{
	char **k = tv_reallocarray(o->keys, o->nkeys + 1, sizeof *k);
	if (!k)
		return TV_ENOMEM;
	o->keys = k;
	if (!(o->keys[o->nkeys] = tv_strndup(key, len)))
		return TV_ENOMEM;
	o->nkeys++;
	return 0;
}

/* '$.a.b' or '$["a b"].c' into key segments. */
static int json_path(parser *p, size_t at, const char *s, tv_opnd *o)
{
	size_t i = 0, n = strlen(s);
	if (n == 0 || s[0] != '$')
		return perr(p, at, "json path must start with '$'", NULL);
	for (i = 1; i < n;) {
		size_t b;
		if (s[i] == '.') {
			b = ++i;
			while (i < n && s[i] != '.' && s[i] != '[')
				i++;
			if (i == b || meta_push(o, s + b, i - b))
				return perr(p, at, "bad json path", NULL);
		} else if (s[i] == '[' && i + 1 < n && (s[i + 1] == '"' || s[i + 1] == '\'')) {
			char q = s[i + 1];
			b = i + 2;
			for (i = b; i < n && s[i] != q; i++)
				;
			if (i + 1 >= n || s[i + 1] != ']' || meta_push(o, s + b, i - b))
				return perr(p, at, "bad json path", NULL);
			i += 2;
		} else {
			return perr(p, at, "bad json path (use $.key or $[\"key\"])", NULL);
		}
	}
	if (o->nkeys == 0)
		return perr(p, at, "json path names no key", NULL);
	return 0;
}

static int parse_json_extract(parser *p, tv_opnd *o)
{
	size_t at;
	int rc;
	if ((rc = next(p)) || (rc = expect(p, T_LP, "'(' after json_extract")))
		return rc;
	if (!is_kw(p, "metadata"))
		return perr(p, p->t.pos, "expected metadata as json_extract's first argument", NULL);
	if ((rc = next(p)) || (rc = expect(p, T_COMMA, "','")))
		return rc;
	if (p->t.kind != T_STR)
		return perr(p, p->t.pos, "expected a json path string like '$.key'", NULL);
	at = p->t.pos;
	o->kind = TV_O_META;
	if ((rc = json_path(p, at, p->t.text, o)) || (rc = next(p)))
		return rc;
	return expect(p, T_RP, "')'");
}

/* metadata.a['b'].c  or  name.sub  after the first name was consumed. */
static int parse_meta_tail(parser *p, tv_opnd *o)
{
	int rc;
	for (;;) {
		bool bracket = p->t.kind == T_LB;
		if (p->t.kind == T_DOT) {
			if ((rc = next(p)))
				return rc;
			if (p->t.kind != T_NAME && p->t.kind != T_QNAME)
				return perr(p, p->t.pos, "expected a key name after '.'", NULL);
		} else if (bracket) {
			if ((rc = next(p)))
				return rc;
			if (p->t.kind != T_STR && p->t.kind != T_QNAME)
				return perr(p, p->t.pos, "expected a quoted key inside [ ]", NULL);
		} else {
			return 0;
		}
		if (meta_push(o, p->t.text, p->t.len))
			return perr(p, p->t.pos, "out of memory", NULL);
		if ((rc = next(p)))
			return rc;
		if (bracket && (rc = expect(p, T_RB, "']'")))
			return rc;
	}
}

/* name(...) for any name but json_extract: an error naming the function
 * (dotted names as written). */
static int unknown_function(parser *p, size_t at, const tv_opnd *o)
{
	tv_buf b = {0};
	for (size_t i = 0; i < o->nkeys; i++)
		if ((i && tv_buf_append(&b, ".", 1)) || tv_buf_append(&b, o->keys[i], strlen(o->keys[i])))
			break;
	if (!p->failed)
		tv_err_set(p->err, TV_EINVAL,
		           "filter: unknown function %s at column %zu (the only function is "
		           "json_extract)",
		           b.data ? b.data : "", column(p, at));
	p->failed = 1;
	tv_buf_free(&b);
	return TV_EINVAL;
}

static int parse_name_operand(parser *p, tv_opnd *o)
{
	const char *n = p->t.text;
	bool quoted = p->t.kind == T_QNAME;
	size_t at = p->t.pos;
	int rc;
	if (!quoted && !strcasecmp(n, "json_extract"))
		return parse_json_extract(p, o);
	if (!quoted && (!strcasecmp(n, "true") || !strcasecmp(n, "false"))) {
		o->kind = TV_O_LIT;
		o->lit.type = TV_V_BOOL;
		o->lit.b = !strcasecmp(n, "true");
		return next(p);
	}
	if (!quoted && !strcasecmp(n, "null")) {
		o->kind = TV_O_LIT;
		o->lit.type = TV_V_NULL;
		return next(p);
	}
	if (!strcmp(n, "id") || !strcmp(n, "text") || !strcmp(n, "path")) {
		o->kind = !strcmp(n, "id") ? TV_O_ID : !strcmp(n, "text") ? TV_O_TEXT : TV_O_PATH;
		return next(p);
	}
	o->kind = TV_O_META;
	if (!quoted && !strcmp(n, "metadata")) {
		if ((rc = next(p)))
			return rc;
		if (p->t.kind != T_DOT && p->t.kind != T_LB)
			return perr(p, at, "metadata needs a key: metadata.key or metadata['key']", NULL);
		if ((rc = parse_meta_tail(p, o)))
			return rc;
		return p->t.kind == T_LP ? unknown_function(p, at, o) : 0;
	}
	if (meta_push(o, n, p->t.len))
		return perr(p, at, "out of memory", NULL);
	if ((rc = next(p)) || (rc = parse_meta_tail(p, o)))
		return rc;
	if (p->t.kind == T_LP) /* a call: never a silent match-nothing */
		return unknown_function(p, at, o);
	return 0;
}

static int parse_operand(parser *p, tv_opnd *o)
{
	memset(o, 0, sizeof *o);
	switch (p->t.kind) {
	case T_STR:
		o->kind = TV_O_LIT;
		o->lit.type = TV_V_STR;
		o->lit.s = p->t.text;
		o->lit.len = p->t.len;
		p->t.text = NULL; /* ownership moves to the literal */
		return next(p);
	case T_INT:
		o->kind = TV_O_LIT;
		o->lit.type = TV_V_INT;
		o->lit.i = p->t.i;
		return next(p);
	case T_REAL:
		o->kind = TV_O_LIT;
		o->lit.type = TV_V_REAL;
		o->lit.r = p->t.r;
		return next(p);
	case T_NAME:
	case T_QNAME:
		if (p->t.kind == T_NAME && (is_kw(p, "and") || is_kw(p, "or") || is_kw(p, "not") ||
		                            is_kw(p, "in") || is_kw(p, "like") || is_kw(p, "is") ||
		                            is_kw(p, "between")))
			return perr(p, p->t.pos, "expected a value or a column, not ", p->t.text);
		return parse_name_operand(p, o);
	default:
		return perr(p, p->t.pos, "expected a value or a column", NULL);
	}
}

/* ---- predicates ----------------------------------------------------- */

static int parse_in(parser *p, tv_node *n)
{
	int rc;
	if ((rc = next(p)) || (rc = expect(p, T_LP, "'(' after IN")))
		return rc;
	for (;;) {
		tv_opnd *l = tv_reallocarray(n->list, n->nlist + 1, sizeof *l);
		if (!l)
			return perr(p, p->t.pos, "out of memory", NULL);
		n->list = l;
		if ((rc = parse_operand(p, &n->list[n->nlist]))) {
			/* not counted in nlist: free what it holds (a key path) here */
			tv_filter__opnd_free(&n->list[n->nlist]);
			return rc;
		}
		n->nlist++;
		if (p->t.kind == T_RP)
			return next(p);
		if ((rc = expect(p, T_COMMA, "',' or ')'")))
			return rc;
	}
}

static int parse_like(parser *p, tv_node *n)
{
	int rc;
	if ((rc = next(p)) || (rc = parse_operand(p, &n->b)))
		return rc;
	n->escape = TV_LIKE_ESC_DEFAULT; /* \% and \_ as in LanceDB */
	if (is_kw(p, "escape")) {
		if ((rc = next(p)))
			return rc;
		if (p->t.kind != T_STR || p->t.len > 4)
			return perr(p, p->t.pos, "expected one escape character in quotes", NULL);
		if (p->t.len == 0) { /* ESCAPE '': no escape character */
			n->escape = TV_LIKE_ESC_NONE;
			return next(p);
		}
		n->escape = (unsigned char)p->t.text[0];
		if (p->t.len > 1 || n->escape >= 0x80)
			return perr(p, p->t.pos, "escape must be one ASCII character", NULL);
		return next(p);
	}
	return 0;
}

static int parse_tail(parser *p, tv_node *n)
{
	static const struct { const char *s; tv_cmp op; } ops[] = {
		{"=", TV_EQ}, {"!=", TV_NE}, {"<>", TV_NE}, {"<", TV_LT},
		{"<=", TV_LE}, {">", TV_GT}, {">=", TV_GE}};
	int rc;
	if (p->t.kind == T_OP) {
		for (size_t i = 0; i < TV_ARRAY_LEN(ops); i++)
			if (!strcmp(p->t.op, ops[i].s))
				n->op = ops[i].op;
		n->kind = TV_N_CMP;
		if ((rc = next(p)))
			return rc;
		return parse_operand(p, &n->b);
	}
	if (is_kw(p, "is")) {
		n->kind = TV_N_ISNULL;
		if ((rc = next(p)))
			return rc;
		if (is_kw(p, "not")) {
			n->negated = true;
			if ((rc = next(p)))
				return rc;
		}
		if (!is_kw(p, "null"))
			return perr(p, p->t.pos, "expected NULL after IS", NULL);
		return next(p);
	}
	if (is_kw(p, "not")) {
		n->negated = true;
		if ((rc = next(p)))
			return rc;
		if (!is_kw(p, "in") && !is_kw(p, "like") && !is_kw(p, "between"))
			return perr(p, p->t.pos, "expected IN, LIKE or BETWEEN after NOT", NULL);
	}
	if (is_kw(p, "in")) {
		n->kind = TV_N_IN;
		if ((rc = parse_in(p, n)))
			return rc;
		tv_filter__dedupe_in(n);
		return 0;
	}
	if (is_kw(p, "like")) {
		n->kind = TV_N_LIKE;
		return parse_like(p, n);
	}
	if (is_kw(p, "between")) {
		n->kind = TV_N_BETWEEN;
		if ((rc = next(p)) || (rc = parse_operand(p, &n->b)))
			return rc;
		if (!is_kw(p, "and"))
			return perr(p, p->t.pos, "expected AND in BETWEEN", NULL);
		if ((rc = next(p)))
			return rc;
		return parse_operand(p, &n->c);
	}
	if (n->negated)
		return perr(p, p->t.pos, "expected IN, LIKE or BETWEEN after NOT", NULL);
	n->kind = TV_N_TRUTH;
	return 0;
}

static int parse_predicate(parser *p, tv_node **out)
{
	tv_node *n;
	int rc;
	*out = NULL;
	if (p->t.kind == T_LP) {
		size_t at = p->t.pos;
		if ((rc = next(p)) || (rc = parse_expr(p, out)))
			return rc;
		if (p->t.kind != T_RP) {
			if (!p->failed)
				tv_err_set(p->err, TV_EINVAL,
				           "filter: expected ')' at column %zu (to close the '(' at column %zu)",
				           column(p, p->t.pos), column(p, at));
			p->failed = 1;
			return TV_EINVAL;
		}
		return next(p);
	}
	if (!(n = *out = tv_filter__node(TV_N_TRUTH)))
		return perr(p, p->t.pos, "out of memory", NULL);
	if ((rc = parse_operand(p, &n->a)))
		return rc;
	return parse_tail(p, n);
}

static int parse_not(parser *p, tv_node **out)
{
	int rc;
	if (++p->depth > MAX_DEPTH)
		return perr(p, p->t.pos, "expression nests too deeply", NULL);
	if (is_kw(p, "not")) {
		tv_node *n = *out = tv_filter__node(TV_N_NOT);
		if (!n)
			return perr(p, p->t.pos, "out of memory", NULL);
		if ((rc = next(p)))
			return rc;
		rc = parse_not(p, &n->l);
	} else {
		rc = parse_predicate(p, out);
	}
	p->depth--;
	return rc;
}

static int parse_binary(parser *p, tv_node **out, const char *kw, tv_node_kind kind,
                        int (*sub)(parser *, tv_node **))
{
	int rc = sub(p, out);
	while (!rc && is_kw(p, kw)) {
		tv_node *n = tv_filter__node(kind);
		if (!n)
			return perr(p, p->t.pos, "out of memory", NULL);
		n->l = *out;
		*out = n;
		if ((rc = next(p)))
			return rc;
		rc = sub(p, &n->r);
	}
	return rc;
}

static int parse_and(parser *p, tv_node **out)
{
	return parse_binary(p, out, "and", TV_N_AND, parse_not);
}

static int parse_expr(parser *p, tv_node **out)
{
	int rc;
	if (++p->depth > MAX_DEPTH)
		return perr(p, p->t.pos, "expression nests too deeply", NULL);
	rc = parse_binary(p, out, "or", TV_N_OR, parse_and);
	p->depth--;
	return rc;
}

int tv_filter_parse_sql(tv_filter **out, const char *sql, tv_err *err)
{
	parser p = {sql, sql ? strlen(sql) : 0, 0, {0}, 0, err, 0};
	tv_filter *f;
	tv_node *root = NULL;
	int rc;
	*out = NULL;
	if (!sql || !tv_utf8_valid(sql, p.len, NULL))
		return tv_err_set(err, TV_EINVAL, "filter: not valid UTF-8 text");
	if (!(rc = next(&p))) {
		if (p.t.kind == T_END)
			rc = perr(&p, 0, "empty filter", NULL);
		else if (!(rc = parse_expr(&p, &root)) && p.t.kind != T_END)
			rc = perr(&p, p.t.pos, "expected AND, OR or the end of the filter", NULL);
	}
	tok_clear(&p.t);
	if (rc || p.failed) {
		tv_filter__node_free(root);
		return rc ? rc : TV_EINVAL;
	}
	if (!(f = calloc(1, sizeof *f))) {
		tv_filter__node_free(root);
		return TV_ENOMEM_SET(err, "filter");
	}
	f->root = root;
	*out = f;
	return 0;
}

/*
 * The filter AST's lifetime, combination, and the TEA dict front end:
 *   {"lang": "en", "year_gte": 2020, "tag_in": ["a", "b"], "x_ne": 3}
 * Each key is a condition, all ANDed. A key ending in _gt, _gte, _lt, _lte,
 * _ne or _in takes that operator on the key without the suffix (the suffix
 * wins, as in TEA: a metadata key that really ends in "_in" cannot be
 * matched by equality through a dict; use SQL). Keys id, text and path mean
 * the columns, any other key a top-level metadata key. A null value means
 * IS NULL (with _ne: IS NOT NULL). An object value, or a list anywhere but
 * with _in, is an error naming the key.
 *
 * These are TEA's suffixes and their meaning (TEA's Python stores: the
 * in-memory one and the LanceDB one, which turns them into SQL). Where
 * the two disagree teavec takes SQL's three-valued logic, as LanceDB
 * does: a key that is missing (or null) passes no comparison, _ne
 * included, so {"x_ne": 1} keeps only rows that have an x other than 1.
 * The dict compiles to exactly the AST of the equivalent SQL (tested).
 */
#include <stdlib.h>
#include <string.h>

#include "query/filter_int.h"
#include "util/common.h"

tv_node *tv_filter__node(tv_node_kind kind)
{
	tv_node *n = calloc(1, sizeof *n);
	if (n)
		n->kind = kind;
	return n;
}

void tv_filter__opnd_free(tv_opnd *o)
{
	if (o->kind == TV_O_LIT && o->lit.type == TV_V_STR)
		free((char *)o->lit.s);
	for (size_t i = 0; i < o->nkeys; i++)
		free(o->keys[i]);
	free(o->keys);
	memset(o, 0, sizeof *o);
}

void tv_filter__node_free(tv_node *n)
{
	if (!n)
		return;
	tv_filter__node_free(n->l);
	tv_filter__node_free(n->r);
	tv_filter__opnd_free(&n->a);
	tv_filter__opnd_free(&n->b);
	tv_filter__opnd_free(&n->c);
	for (size_t i = 0; i < n->nlist; i++)
		tv_filter__opnd_free(&n->list[i]);
	free(n->list);
	free(n);
}

void tv_filter_free(tv_filter *f)
{
	if (f) {
		tv_filter__node_free(f->root);
		free(f);
	}
}

tv_filter *tv_filter_and(tv_filter *a, tv_filter *b)
{
	tv_node *n;
	if (!a || !a->root) {
		tv_filter_free(a);
		return b;
	}
	if (!b || !b->root) {
		tv_filter_free(b);
		return a;
	}
	if (!(n = tv_filter__node(TV_N_AND))) {
		tv_filter_free(b);
		return a; /* cannot happen in practice; keeps the stricter half */
	}
	n->l = a->root;
	n->r = b->root;
	a->root = n;
	b->root = NULL;
	tv_filter_free(b);
	return a;
}

/* Orders pointers into one IN list by the string literal they point at
 * (length, then bytes, then position); anything but a string literal sorts
 * first and is never merged. */
static int cmp_lit(const void *a, const void *b)
{
	const tv_opnd *x = *(const tv_opnd *const *)a, *y = *(const tv_opnd *const *)b;
	bool xs = x->kind == TV_O_LIT && x->lit.type == TV_V_STR;
	bool ys = y->kind == TV_O_LIT && y->lit.type == TV_V_STR;
	int c = 0;
	if (xs != ys)
		return xs ? 1 : -1;
	if (xs && x->lit.len != y->lit.len)
		return x->lit.len < y->lit.len ? -1 : 1;
	if (xs && x->lit.len)
		c = memcmp(x->lit.s, y->lit.s, x->lit.len);
	return c ? c : x < y ? -1 : x > y;
}

static bool same_str(const tv_opnd *x, const tv_opnd *y)
{
	return x->kind == TV_O_LIT && x->lit.type == TV_V_STR && y->kind == TV_O_LIT &&
	       y->lit.type == TV_V_STR && x->lit.len == y->lit.len &&
	       (!x->lit.len || !memcmp(x->lit.s, y->lit.s, x->lit.len));
}

void tv_filter__dedupe_in(tv_node *n)
{
	const tv_opnd **ord;
	size_t w = 0;
	bool *drop;
	if (n->nlist < 2)
		return;
	ord = malloc(n->nlist * sizeof *ord);
	drop = calloc(n->nlist, sizeof *drop);
	if (!ord || !drop) { /* duplicates are only slower: keep them */
		free(ord);
		free(drop);
		return;
	}
	for (size_t i = 0; i < n->nlist; i++)
		ord[i] = &n->list[i];
	qsort(ord, n->nlist, sizeof *ord, cmp_lit);
	/* equal strings are adjacent, the first occurrence first: drop the rest */
	for (size_t i = 1; i < n->nlist; i++)
		if (same_str(ord[i - 1], ord[i]))
			drop[ord[i] - n->list] = true;
	for (size_t i = 0; i < n->nlist; i++) {
		if (drop[i])
			tv_filter__opnd_free(&n->list[i]);
		else
			n->list[w++] = n->list[i];
	}
	n->nlist = w;
	free(ord);
	free(drop);
}

/* ---- dict front end ------------------------------------------------- */

static int lit_from_json(tv_opnd *o, const json_t *v, const char *key, tv_err *err)
{
	memset(o, 0, sizeof *o);
	o->kind = TV_O_LIT;
	switch (json_typeof(v)) {
	case JSON_STRING:
		o->lit.type = TV_V_STR;
		o->lit.len = json_string_length(v);
		if (!(o->lit.s = tv_strndup(json_string_value(v), o->lit.len)))
			return TV_ENOMEM_SET(err, "filter");
		return 0;
	case JSON_INTEGER: o->lit.type = TV_V_INT; o->lit.i = json_integer_value(v); return 0;
	case JSON_REAL: o->lit.type = TV_V_REAL; o->lit.r = json_real_value(v); return 0;
	case JSON_TRUE: o->lit.type = TV_V_BOOL; o->lit.b = true; return 0;
	case JSON_FALSE: o->lit.type = TV_V_BOOL; return 0;
	case JSON_NULL: return 0;
	default:
		return tv_err_set(err, TV_EINVAL,
		                  "filter: key '%s': expected a string, number, boolean or null%s", key,
		                  json_is_array(v) ? " (lists go with the _in suffix)" : "");
	}
}

static int column_or_meta(tv_opnd *o, const char *name, size_t len, tv_err *err)
{
	memset(o, 0, sizeof *o);
	if (len == 2 && !memcmp(name, "id", 2))
		o->kind = TV_O_ID;
	else if (len == 4 && !memcmp(name, "text", 4))
		o->kind = TV_O_TEXT;
	else if (len == 4 && !memcmp(name, "path", 4))
		o->kind = TV_O_PATH;
	else {
		o->kind = TV_O_META;
		o->keys = malloc(sizeof *o->keys);
		if (!o->keys || !(o->keys[0] = tv_strndup(name, len))) {
			free(o->keys);
			o->keys = NULL;
			return TV_ENOMEM_SET(err, "filter");
		}
		o->nkeys = 1;
	}
	return 0;
}

static int dict_in(tv_node *n, const json_t *v, const char *key, tv_err *err)
{
	size_t i;
	json_t *x;
	int rc;
	if (!json_is_array(v))
		return tv_err_set(err, TV_EINVAL, "filter: key '%s': _in needs a list of values", key);
	n->kind = TV_N_IN;
	n->list = calloc(json_array_size(v) ? json_array_size(v) : 1, sizeof *n->list);
	if (!n->list)
		return TV_ENOMEM_SET(err, "filter");
	json_array_foreach(v, i, x) {
		if ((rc = lit_from_json(&n->list[i], x, key, err)))
			return rc;
		n->nlist++;
	}
	tv_filter__dedupe_in(n);
	return 0;
}

static int dict_cond(tv_node **out, const char *key, const json_t *v, tv_err *err)
{
	static const struct { const char *suffix; tv_cmp op; int in; } sfx[] = {
		{"_gte", TV_GE, 0}, {"_lte", TV_LE, 0}, {"_gt", TV_GT, 0},
		{"_lt", TV_LT, 0},  {"_ne", TV_NE, 0},  {"_in", TV_EQ, 1}};
	size_t klen = strlen(key), blen = klen;
	tv_node *n = tv_filter__node(TV_N_CMP);
	int in = 0, rc;
	*out = n;
	if (!n)
		return TV_ENOMEM_SET(err, "filter");
	n->op = TV_EQ;
	for (size_t i = 0; i < TV_ARRAY_LEN(sfx); i++) {
		size_t sl = strlen(sfx[i].suffix);
		if (klen > sl && !strcmp(key + klen - sl, sfx[i].suffix)) {
			n->op = sfx[i].op;
			in = sfx[i].in;
			blen = klen - sl;
			break;
		}
	}
	if (blen == 0)
		return tv_err_set(err, TV_EINVAL, "filter: empty key");
	if ((rc = column_or_meta(&n->a, key, blen, err)))
		return rc;
	if (in)
		return dict_in(n, v, key, err);
	if (json_is_null(v)) {
		if (n->op != TV_EQ && n->op != TV_NE)
			return tv_err_set(err, TV_EINVAL, "filter: key '%s': null only with = or _ne", key);
		n->kind = TV_N_ISNULL;
		n->negated = n->op == TV_NE;
		n->op = TV_EQ; /* as the SQL parser leaves it: the same AST */
		return 0;
	}
	return lit_from_json(&n->b, v, key, err);
}

int tv_filter_from_dict(tv_filter **out, const json_t *dict, tv_err *err)
{
	tv_filter *f;
	const char *key;
	json_t *v;
	int rc;
	*out = NULL;
	if (!json_is_object(dict))
		return tv_err_set(err, TV_EINVAL, "filter: a dict filter must be a JSON object");
	if (!(f = calloc(1, sizeof *f)))
		return TV_ENOMEM_SET(err, "filter");
	json_object_foreach((json_t *)dict, key, v) {
		tv_node *n = NULL, *and;
		if ((rc = dict_cond(&n, key, v, err))) {
			tv_filter__node_free(n);
			tv_filter_free(f);
			return rc;
		}
		if (!f->root) {
			f->root = n;
			continue;
		}
		if (!(and = tv_filter__node(TV_N_AND))) {
			tv_filter__node_free(n);
			tv_filter_free(f);
			return TV_ENOMEM_SET(err, "filter");
		}
		and->l = f->root;
		and->r = n;
		f->root = and;
	}
	*out = f;
	return 0;
}

int tv_filter_from_dict_json(tv_filter **out, const char *json, tv_err *err)
{
	json_error_t je;
	json_t *d = json_loads(json, JSON_REJECT_DUPLICATES, &je);
	int rc;
	*out = NULL;
	if (!d)
		return tv_err_set(err, TV_EINVAL, "filter: invalid JSON at column %d: %s", je.column,
		                  je.text);
	rc = tv_filter_from_dict(out, d, err);
	json_decref(d);
	return rc;
}

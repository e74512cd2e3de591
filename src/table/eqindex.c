/*
 * Equality indexes of a fragment, for selective filters: the rows of a
 * fragment grouped by the string value of `path`, `id` or one metadata key,
 * built in one pass the first time a filter like `path = 'x'` or
 * {"lang": "en"} meets the fragment (fragments are immutable, so it stays
 * valid until the handle drops the fragment). A search then visits only
 * the matching rows instead of scanning the fragment: exact results at the
 * cost of the matches.
 */
#include <stdlib.h>
#include <string.h>

#include "table/table_int.h"

static const char *group_key(const void *ctx, size_t g, size_t *len)
{
	const tv_eqidx *x = ctx;
	*len = x->glen[g];
	return x->arena.data + x->goff[g];
}

void tv_eqidx_free(tv_eqidx *x)
{
	if (!x)
		return;
	tv_strmap_free(&x->map);
	tv_buf_free(&x->arena);
	free(x->key);
	free(x->goff);
	free(x->glen);
	free(x->gstart);
	free(x->rows);
	free(x);
}

/* The value of row r for the index, or 0 (no value) / -1 (not a string). */
static int value_of(const tv_frag *f, const tv_eqidx *x, uint64_t r, const char **v, size_t *n,
                    tv_buf *scratch)
{
	int c = x->column == TV_EQ_PATH ? TV_COL_PATH : x->column == TV_EQ_ID ? TV_COL_ID : TV_COL_META;
	const tv_strcol *s = &f->str[c];
	const char *p;
	size_t len;
	if (!f->loaded[c] || (s->valid && !s->valid[r]))
		return 0;
	p = s->data + s->offsets[r];
	len = (size_t)(s->offsets[r + 1] - s->offsets[r]);
	if (x->column != TV_EQ_META) {
		*v = p;
		*n = len;
		return 1;
	}
	return tv_filter_json_string(p, len, x->key, v, n, scratch);
}

static int build(tv_frag *f, tv_eqidx *x)
{
	uint32_t *grp = tv_mallocarray(f->rows ? f->rows : 1, sizeof *grp);
	size_t cap = 0;
	tv_buf scratch = {0};
	int rc = TV_ENOMEM;
	tv_strmap_init(&x->map, group_key, x);
	if (!grp || !(x->rows = tv_mallocarray(f->rows ? f->rows : 1, sizeof *x->rows)))
		goto done;
	for (uint64_t r = 0; r < f->rows; r++) {
		const char *v;
		size_t n, g;
		int k = value_of(f, x, r, &v, &n, &scratch);
		grp[r] = UINT32_MAX;
		if (k < 0) {
			x->unusable = true;
			rc = 0;
			goto done;
		}
		if (k == 0)
			continue;
		if ((g = tv_strmap_get(&x->map, v, n)) == TV_STRMAP_NONE) {
			if (x->ngroups == cap) {
				cap = cap ? cap * 2 : 64;
				if (!(x->goff = tv_reallocarray(x->goff, cap, sizeof *x->goff)) ||
				    !(x->glen = tv_reallocarray(x->glen, cap, sizeof *x->glen)))
					goto done;
			}
			g = x->ngroups++;
			x->goff[g] = x->arena.len;
			x->glen[g] = (uint32_t)n;
			if (tv_buf_append(&x->arena, v, n) || tv_strmap_put(&x->map, v, n, g))
				goto done;
		}
		grp[r] = (uint32_t)g;
	}
	/* counting sort of the rows by group */
	if (!(x->gstart = calloc(x->ngroups + 1, sizeof *x->gstart)))
		goto done;
	for (uint64_t r = 0; r < f->rows; r++)
		if (grp[r] != UINT32_MAX)
			x->gstart[grp[r] + 1]++;
	for (size_t g = 0; g < x->ngroups; g++)
		x->gstart[g + 1] += x->gstart[g];
	{
		uint32_t *pos = tv_mallocarray(x->ngroups ? x->ngroups : 1, sizeof *pos);
		if (!pos)
			goto done;
		memcpy(pos, x->gstart, x->ngroups * sizeof *pos);
		for (uint64_t r = 0; r < f->rows; r++)
			if (grp[r] != UINT32_MAX)
				x->rows[pos[grp[r]]++] = (uint32_t)r;
		free(pos);
	}
	rc = 0;
done:
	free(grp);
	tv_buf_free(&scratch);
	return rc;
}

int tv_eqidx_get(tv_frag *f, const tv_filter_eq *eq, tv_eqidx **out)
{
	tv_eqidx *v;
	int rc;
	*out = NULL;
	tv_eqidx **arr;
	for (size_t i = 0; i < f->neq; i++)
		if (f->eq[i]->column == (int)eq->column &&
		    (eq->column != TV_EQ_META || !strcmp(f->eq[i]->key, eq->key))) {
			*out = f->eq[i]->unusable ? NULL : f->eq[i];
			return 0;
		}
	/* each index is its own allocation: its strmap points at it */
	if (!(arr = tv_reallocarray(f->eq, f->neq + 1, sizeof *arr)))
		return TV_ENOMEM;
	f->eq = arr;
	if (!(v = calloc(1, sizeof *v)))
		return TV_ENOMEM;
	f->eq[f->neq++] = v;
	v->column = eq->column;
	if ((eq->column == TV_EQ_META && !(v->key = tv_strdup(eq->key))) || (rc = build(f, v))) {
		v->unusable = true; /* never trust a half-built index; the key may be NULL */
		v->column = -1;
		return TV_ENOMEM;
	}
	*out = v->unusable ? NULL : v;
	return 0;
}

size_t tv_eqidx_rows(const tv_eqidx *x, const tv_filter_eq *eq, const uint32_t **lists,
                     size_t *counts)
{
	size_t total = 0;
	for (size_t i = 0; i < eq->n; i++) {
		size_t g = tv_strmap_get(&x->map, eq->vals[i], eq->lens[i]);
		if (g == TV_STRMAP_NONE) {
			counts[i] = 0;
			lists[i] = NULL;
			continue;
		}
		lists[i] = x->rows + x->gstart[g];
		counts[i] = x->gstart[g + 1] - x->gstart[g];
		total += counts[i];
	}
	return total;
}

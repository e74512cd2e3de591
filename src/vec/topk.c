/* Top-k selection: a max-heap of the k nearest seen so far; the root is the
 * current worst, so most candidates are rejected with one comparison. */
#include <stdlib.h>

#include "util/common.h"
#include "vec/vec.h"

int tv_topk_init(tv_topk *t, size_t k)
{
	t->k = k;
	t->n = 0;
	t->dist = tv_mallocarray(k ? k : 1, sizeof *t->dist);
	t->id = tv_mallocarray(k ? k : 1, sizeof *t->id);
	if (!t->dist || !t->id) {
		tv_topk_free(t);
		return TV_ENOMEM;
	}
	return 0;
}

void tv_topk_free(tv_topk *t)
{
	free(t->dist);
	free(t->id);
	t->dist = NULL;
	t->id = NULL;
	t->n = t->k = 0;
}

/* a is "worse" than b: larger distance, or equal distance and larger id. */
static inline int worse(float da, uint64_t ia, float db, uint64_t ib)
{
	return da > db || (da == db && ia > ib);
}

static void sift_down(tv_topk *t, size_t i)
{
	float d = t->dist[i];
	uint64_t id = t->id[i];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = l;
		if (l >= t->n)
			break;
		if (r < t->n && worse(t->dist[r], t->id[r], t->dist[l], t->id[l]))
			m = r;
		if (!worse(t->dist[m], t->id[m], d, id))
			break;
		t->dist[i] = t->dist[m];
		t->id[i] = t->id[m];
		i = m;
	}
	t->dist[i] = d;
	t->id[i] = id;
}

void tv_topk_push(tv_topk *t, float dist, uint64_t id)
{
	if (t->k == 0)
		return;
	if (t->n < t->k) {
		size_t i = t->n++;
		while (i > 0) {
			size_t p = (i - 1) / 2;
			if (!worse(dist, id, t->dist[p], t->id[p]))
				break;
			t->dist[i] = t->dist[p];
			t->id[i] = t->id[p];
			i = p;
		}
		t->dist[i] = dist;
		t->id[i] = id;
		return;
	}
	if (!worse(t->dist[0], t->id[0], dist, id))
		return;
	t->dist[0] = dist;
	t->id[0] = id;
	sift_down(t, 0);
}

void tv_topk_push_array(tv_topk *t, const float *dists, size_t n, uint64_t id_base)
{
	size_t i = 0;
	for (; i < n && t->n < t->k; i++)
		tv_topk_push(t, dists[i], id_base + i);
	if (t->k == 0)
		return;
	for (; i < n; i++) {
		if (dists[i] <= t->dist[0])
			tv_topk_push(t, dists[i], id_base + i);
	}
}

void tv_topk_sort(tv_topk *t)
{
	/* heap sort: repeatedly move the worst to the end */
	size_t n = t->n;
	while (t->n > 1) {
		size_t last = t->n - 1;
		float d = t->dist[0];
		uint64_t id = t->id[0];
		t->dist[0] = t->dist[last];
		t->id[0] = t->id[last];
		t->dist[last] = d;
		t->id[last] = id;
		t->n--;
		sift_down(t, 0);
	}
	t->n = n;
}

/* tv_parallel_for: one pthread per extra range, joined before returning. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/common.h"
#include "util/parallel.h"

#define TV_MAX_THREADS 64

unsigned tv_ncpu(void)
{
	const char *e = getenv("TEAVEC_THREADS");
	long n;
	if (e && *e) {
		n = strtol(e, NULL, 10);
		if (n >= 1 && n <= TV_MAX_THREADS)
			return (unsigned)n;
	}
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1u : n > TV_MAX_THREADS ? TV_MAX_THREADS : (unsigned)n;
}

typedef struct range {
	void (*fn)(void *ctx, size_t b, size_t e);
	void *ctx;
	size_t b, e;
} range;

static void *run_range(void *p)
{
	range *r = p;
	r->fn(r->ctx, r->b, r->e);
	return NULL;
}

void tv_parallel_for(size_t n, size_t min_chunk, void (*fn)(void *ctx, size_t begin, size_t end),
                     void *ctx)
{
	range r[TV_MAX_THREADS];
	pthread_t th[TV_MAX_THREADS];
	bool started[TV_MAX_THREADS] = {false};
	size_t nt = tv_ncpu(), step;
	if (n == 0)
		return;
	if (min_chunk < 1)
		min_chunk = 1;
	if (nt > n / min_chunk)
		nt = TV_MAX(1, n / min_chunk);
	if (nt <= 1) {
		fn(ctx, 0, n);
		return;
	}
	step = (n + nt - 1) / nt;
	for (size_t i = 0; i < nt; i++) {
		r[i].fn = fn;
		r[i].ctx = ctx;
		r[i].b = TV_MIN(n, i * step);
		r[i].e = TV_MIN(n, r[i].b + step);
	}
	for (size_t i = 1; i < nt; i++)
		started[i] = pthread_create(&th[i], NULL, run_range, &r[i]) == 0;
	run_range(&r[0]);
	for (size_t i = 1; i < nt; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			run_range(&r[i]);
	}
}

/*
 * A parallel for over [0, n): the work is cut into contiguous ranges run on
 * up to tv_ncpu() threads, the caller's thread taking one of them. Used by
 * index training and encoding ("use both cores") and the checks of a big
 * batch (store/store.c). Two other places run a thread of their own when
 * tv_ncpu() > 1: a big upsert's data file (table/commit.c) and the producer
 * of vector.index_files (rag/index_files.c); each call still returns only
 * when its threads are done (docs/ARCHITECTURE.md, "Threads").
 */
#ifndef TV_UTIL_PARALLEL_H
#define TV_UTIL_PARALLEL_H

#include <stddef.h>

/* Threads to use: the online CPUs, or TEAVEC_THREADS (1..64) if set. */
unsigned tv_ncpu(void);

/* Calls fn(ctx, begin, end) on disjoint ranges covering [0, n), each at
 * least min_chunk long (except the last), concurrently. Returns when all
 * are done. If a thread cannot be created its range runs on the caller. */
void tv_parallel_for(size_t n, size_t min_chunk, void (*fn)(void *ctx, size_t begin, size_t end),
                     void *ctx);

#endif

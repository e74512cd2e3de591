#include "util/hugemem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

static size_t mapped_size(size_t bytes) { return (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1); }

/* A mapping of mapped_size(bytes), aligned to HUGE_PAGE: over-map by one
 * huge page and trim both ends. */
static void *map_huge(size_t bytes)
{
	size_t len = mapped_size(bytes), head;
	uint8_t *p;
	if (len < bytes || len + HUGE_PAGE < len)
		return NULL;
	p = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	head = (HUGE_PAGE - (uintptr_t)p % HUGE_PAGE) % HUGE_PAGE;
	if (head)
		munmap(p, head);
	munmap(p + head + len, HUGE_PAGE - head);
	p += head;
#ifdef MADV_HUGEPAGE
	(void)madvise(p, len, MADV_HUGEPAGE); /* advice: without it, 4 KiB pages */
#endif
	return p;
}

void *tv_huge_calloc(size_t bytes)
{
	return bytes >= TV_HUGE_MIN ? map_huge(bytes) : calloc(1, bytes ? bytes : 1);
}

void tv_huge_free(void *p, size_t bytes)
{
	if (!p)
		return;
	if (bytes >= TV_HUGE_MIN)
		munmap(p, mapped_size(bytes));
	else
		free(p);
}

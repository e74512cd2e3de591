/* Deletion vectors of fragments: `.bin` (portable Roaring, what we write)
 * and `.arrow` (Arrow IPC, what LanceDB writes for small deletes). */
#ifndef TV_TABLE_DELETION_H
#define TV_TABLE_DELETION_H

#include <roaring/roaring.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

int tv_deletion__read_arrow(const uint8_t *d, size_t n, roaring_bitmap_t **out, const char *path,
                            tv_err *err);

#endif

/*
 * Errors: a status code plus a message that says what and where.
 *
 * Every handle embeds a tv_err; functions below the public API take a
 * tv_err * and fill it through tv_err_set, which also copies the message to
 * the thread-local slot read by tv_last_errmsg(). A NULL tv_err * is allowed
 * and then only the thread-local slot is written.
 */
#ifndef TV_UTIL_ERR_H
#define TV_UTIL_ERR_H

#include "teavec.h"

#define TV_ERRMSG_MAX 1024

typedef struct tv_err {
	int code;
	char msg[TV_ERRMSG_MAX];
} tv_err;

/* Sets code and a printf-style message; returns code, so that
 * `return tv_err_set(e, TV_EINVAL, "...")` reads naturally. */
int tv_err_set(tv_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefixes the existing message with a context ("opening t.lance: ...")
 * and returns e->code (or code if e is NULL). */
int tv_err_prefix(tv_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Clears e (code 0, empty message). */
void tv_err_clear(tv_err *e);
/* Copies src into dst (both may alias the thread slot); returns src->code. */
int tv_err_copy(tv_err *dst, const tv_err *src);

/* Out of memory, in one place: message names what was being allocated. */
#define TV_ENOMEM_SET(e, what) tv_err_set((e), TV_ENOMEM, "out of memory allocating %s", (what))

#endif

#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

static _Thread_local char tls_msg[TV_ERRMSG_MAX];

const char *tv_libversion(void) { return TV_VERSION_STRING; }
int tv_libversion_number(void) { return TV_VERSION_NUMBER; }

const char *tv_errstr(int code)
{
	switch (code) {
	case TV_OK: return "TV_OK: success";
	case TV_EINVAL: return "TV_EINVAL: invalid argument";
	case TV_ENOTFOUND: return "TV_ENOTFOUND: not found";
	case TV_ECORRUPT: return "TV_ECORRUPT: corrupt data";
	case TV_EIO: return "TV_EIO: input/output error";
	case TV_EPERM: return "TV_EPERM: permission denied";
	case TV_ECONFLICT: return "TV_ECONFLICT: concurrent commit conflict";
	case TV_ENOMEM: return "TV_ENOMEM: out of memory";
	case TV_EUNSUPPORTED: return "TV_EUNSUPPORTED: not supported";
	case TV_EEXISTS: return "TV_EEXISTS: already exists";
	default: return "unknown teavec status code";
	}
}

const char *tv_last_errmsg(void) { return tls_msg; }

int tv_err_set(tv_err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tls_msg, sizeof tls_msg, fmt, ap);
	va_end(ap);
	if (e) {
		e->code = code;
		memcpy(e->msg, tls_msg, sizeof e->msg);
	}
	return code;
}

int tv_err_prefix(tv_err *e, int code, const char *fmt, ...)
{
	char head[TV_ERRMSG_MAX], old[TV_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof head, fmt, ap);
	va_end(ap);
	memcpy(old, e ? e->msg : tls_msg, sizeof old);
	if (e && e->code)
		code = e->code;
	return tv_err_set(e, code, "%s: %s", head, old);
}

void tv_err_clear(tv_err *e)
{
	if (e) {
		e->code = 0;
		e->msg[0] = '\0';
	}
}

int tv_err_copy(tv_err *dst, const tv_err *src)
{
	if (dst != src) {
		dst->code = src->code;
		memmove(dst->msg, src->msg, sizeof dst->msg);
	}
	memcpy(tls_msg, src->msg, sizeof tls_msg);
	return src->code;
}

/* The thin tv_io_* wrappers over a backend's methods, and the choice of
 * backend by URI scheme. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "io/io.h"
#include "util/common.h"

int tv_io_open(tv_io **out, const char *uri, tv_err *err)
{
	static const char *const remote[] = {"s3://", "az://", "gs://", "abfs://"};
	*out = NULL;
#if TV_WITH_HTTP
	if (!strncmp(uri, "s3://", 5))
		return tv_io_s3_open(out, uri, err);
	if (!strncmp(uri, "az://", 5))
		return tv_io_azure_open(out, uri, err);
#endif
	for (size_t i = 0; i < TV_ARRAY_LEN(remote); i++)
		if (!strncmp(uri, remote[i], strlen(remote[i])))
			return tv_err_set(err, TV_EUNSUPPORTED,
			                  "%s: %s is not available in this build of teavec%s", uri,
			                  remote[i], TV_WITH_HTTP ? "; use s3:// or az://"
			                  : " (configure with -DTV_WITH_HTTP=ON, which needs libcurl and "
			                    "OpenSSL)");
	if (strstr(uri, "://") && strncmp(uri, "file://", 7))
		return tv_err_set(err, TV_EUNSUPPORTED, "%s: unknown URI scheme", uri);
	return tv_io_local_open(out, strncmp(uri, "file://", 7) ? uri : uri + 7, err);
}

void tv_io_free(tv_io *io)
{
	if (io)
		io->m->free(io);
}

int tv_io_open_read(tv_io *io, const char *path, tv_rfile **out, tv_err *err)
{
	return io->m->open_read(io, path, out, err);
}

int tv_rfile_read(tv_rfile *f, uint64_t off, size_t n, void *dst, tv_err *err)
{
	if (off > f->size || n > f->size - off)
		return tv_err_set(err, TV_ECORRUPT, "%s: read of %zu bytes at %llu past the end (%llu)",
		                  f->path, n, (unsigned long long)off, (unsigned long long)f->size);
	if (f->map) {
		memcpy(dst, f->map + off, n);
		return 0;
	}
	return f->m->read_at(f, off, n, dst, err);
}

void tv_rfile_close(tv_rfile *f)
{
	if (f)
		f->m->close_read(f);
}

int tv_io_read_all(tv_io *io, const char *path, uint8_t **data, size_t *n, tv_err *err)
{
	return tv_io_read_keep(io, path, data, n, NULL, err);
}

int tv_io_read_keep(tv_io *io, const char *path, uint8_t **data, size_t *n, tv_rfile **keep,
                    tv_err *err)
{
	tv_rfile *f;
	int rc;
	*data = NULL;
	*n = 0;
	if (keep)
		*keep = NULL;
	if ((rc = tv_io_open_read(io, path, &f, err)))
		return rc;
	if (f->size > SIZE_MAX - 1 || !(*data = malloc(f->size + 1)))
		rc = TV_ENOMEM_SET(err, path);
	else if ((rc = tv_rfile_read(f, 0, f->size, *data, err))) {
		free(*data);
		*data = NULL;
	} else {
		*n = f->size;
	}
	if (!rc && keep)
		*keep = f;
	else
		tv_rfile_close(f);
	return rc;
}

int tv_io_put(tv_io *io, const char *path, const void *data, size_t n, int flags, tv_err *err)
{
	return io->m->put(io, path, data, n, flags, err);
}

int tv_io_open_write(tv_io *io, const char *path, tv_wfile **out, tv_err *err)
{
	return io->m->open_write(io, path, out, err);
}

int tv_wfile_write(tv_wfile *w, const void *data, size_t n, tv_err *err)
{
	int rc = w->m->write(w, data, n, err);
	if (!rc)
		w->written += n;
	return rc;
}

int tv_wfile_commit(tv_wfile *w, int flags, tv_err *err) { return w->m->commit_write(w, flags, err); }

void tv_wfile_abort(tv_wfile *w)
{
	if (w)
		w->m->abort_write(w);
}

int tv_io_list(tv_io *io, const char *dir, tv_io_entry **out, size_t *n, tv_err *err)
{
	return io->m->list(io, dir, out, n, err);
}

void tv_io_entries_free(tv_io_entry *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++)
		free(e[i].name);
	free(e);
}

int tv_io_stat(tv_io *io, const char *path, tv_io_entry *out, tv_err *err)
{
	return io->m->stat(io, path, out, err);
}

int tv_io_remove(tv_io *io, const char *path, tv_err *err) { return io->m->remove(io, path, err); }

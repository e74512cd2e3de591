/*
 * Object storage interface: everything the table layer reads or writes goes
 * through one of these, so a table lives the same way on local disk, S3,
 * Azure Blob or GCS, and tests can inject faults.
 *
 * Like SQLite's VFS: a backend is a table of function pointers
 * (tv_io_methods) plus capability bits; callers use the thin tv_io_*
 * wrappers below, never the pointers directly.
 *
 * Paths are relative to the root the tv_io was opened on, '/'-separated,
 * never starting with '/' and never containing "." or ".." components.
 *
 * Write semantics every backend guarantees:
 *  - tv_io_put and tv_wfile_commit are atomic: a reader sees the old
 *    object (or none) or the whole new one, never a prefix.
 *  - With TV_IO_PUT_IF_ABSENT the write fails with TV_EEXISTS when the
 *    object already exists, atomically with respect to other writers
 *    (local: link(2) of a temp file; S3: If-None-Match: *; Azure:
 *    If-None-Match: *). This is the commit point of a table version.
 *  - A write that returned is durable (local: the file and its directory
 *    fsync'd), except with TV_IO_PUT_NO_SYNC: for hints no reader relies
 *    on, which may then be lost or stale after a power failure (still
 *    never seen half-written).
 */
#ifndef TV_IO_H
#define TV_IO_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct tv_io tv_io;
typedef struct tv_rfile tv_rfile;
typedef struct tv_wfile tv_wfile;

#define TV_IO_CAP_MMAP 0x1          /* tv_rfile.map is set for whole files */
#define TV_IO_CAP_PUT_IF_ABSENT 0x2 /* TV_IO_PUT_IF_ABSENT is atomic */
#define TV_IO_CAP_LOCAL 0x4         /* paths are real files (fsync, mkdir) */

#define TV_IO_PUT_IF_ABSENT 0x1
#define TV_IO_PUT_NO_SYNC 0x2

typedef struct tv_io_entry {
	char *name;     /* base name (no directory part) */
	uint64_t size;
	int64_t mtime_ns; /* last modification, ns since epoch; 0 if unknown */
	int is_dir;
	uint64_t dev, ino; /* the file itself, on local disk (0 elsewhere) */
} tv_io_entry;

/* A readable object. size is known at open; map, when not NULL, holds the
 * whole object (read-only, valid until tv_rfile_close). */
struct tv_rfile {
	const char *path; /* the full path or URI, for messages */
	uint64_t size;
	const uint8_t *map;
	/* the file opened, on local disk (0 elsewhere): while it stays open,
	 * no other file can have its inode number */
	uint64_t dev, ino;
	/* backend-private */
	const struct tv_io_methods *m;
	void *ctx;
};

typedef struct tv_io_methods {
	const char *name;
	unsigned caps;
	int (*open_read)(tv_io *io, const char *path, tv_rfile **out, tv_err *err);
	/* reads exactly n bytes at off; a short object is TV_ECORRUPT */
	int (*read_at)(tv_rfile *f, uint64_t off, size_t n, void *dst, tv_err *err);
	void (*close_read)(tv_rfile *f);
	int (*put)(tv_io *io, const char *path, const void *data, size_t n, int flags,
	           tv_err *err);
	int (*open_write)(tv_io *io, const char *path, tv_wfile **out, tv_err *err);
	int (*write)(tv_wfile *w, const void *data, size_t n, tv_err *err);
	/* makes the object visible under its name (atomically); frees w */
	int (*commit_write)(tv_wfile *w, int flags, tv_err *err);
	/* discards what was written; frees w */
	void (*abort_write)(tv_wfile *w);
	/* entries directly under dir ("" = root); a missing dir is an empty list */
	int (*list)(tv_io *io, const char *dir, tv_io_entry **out, size_t *n, tv_err *err);
	int (*stat)(tv_io *io, const char *path, tv_io_entry *out, tv_err *err);
	/* a missing object is not an error */
	int (*remove)(tv_io *io, const char *path, tv_err *err);
	void (*free)(tv_io *io);
} tv_io_methods;

struct tv_io {
	const tv_io_methods *m;
	char *root; /* the root URI or directory as given, for messages */
};

struct tv_wfile {
	const tv_io_methods *m;
	tv_io *io;
	char *path;
	uint64_t written;
};

/* Opens a root: a local directory (created on first write), or
 * s3://bucket/prefix, az://container/prefix, gs://bucket/prefix.
 * A scheme not compiled in is TV_EUNSUPPORTED saying how to build it. */
int tv_io_open(tv_io **out, const char *uri, tv_err *err);
void tv_io_free(tv_io *io);

int tv_io_open_read(tv_io *io, const char *path, tv_rfile **out, tv_err *err);
int tv_rfile_read(tv_rfile *f, uint64_t off, size_t n, void *dst, tv_err *err);
void tv_rfile_close(tv_rfile *f);
/* Reads the whole object into a fresh buffer (caller frees). */
int tv_io_read_all(tv_io *io, const char *path, uint8_t **data, size_t *n, tv_err *err);
/* The same; with keep, the object read also stays open there (NULL on
 * failure), e.g. to tell later whether a name still holds that file. */
int tv_io_read_keep(tv_io *io, const char *path, uint8_t **data, size_t *n, tv_rfile **keep,
                    tv_err *err);
int tv_io_put(tv_io *io, const char *path, const void *data, size_t n, int flags, tv_err *err);
int tv_io_open_write(tv_io *io, const char *path, tv_wfile **out, tv_err *err);
int tv_wfile_write(tv_wfile *w, const void *data, size_t n, tv_err *err);
int tv_wfile_commit(tv_wfile *w, int flags, tv_err *err);
void tv_wfile_abort(tv_wfile *w);
int tv_io_list(tv_io *io, const char *dir, tv_io_entry **out, size_t *n, tv_err *err);
void tv_io_entries_free(tv_io_entry *e, size_t n);
int tv_io_stat(tv_io *io, const char *path, tv_io_entry *out, tv_err *err);
int tv_io_remove(tv_io *io, const char *path, tv_err *err);
static inline unsigned tv_io_caps(const tv_io *io) { return io->m->caps; }

/* Backend constructors (io/local.c, io/s3.c, io/azure.c, io/fault.c). */
int tv_io_local_open(tv_io **out, const char *dir, tv_err *err);
int tv_io_s3_open(tv_io **out, const char *uri, tv_err *err);
int tv_io_azure_open(tv_io **out, const char *uri, tv_err *err);
/* A wrapper that fails the nth (1-based) mutating call of kind `what`
 * ("put", "commit", "write", "remove", or "any") with TV_EIO, for tests. */
int tv_io_fault_wrap(tv_io **out, tv_io *inner, const char *what, unsigned nth, tv_err *err);

#endif

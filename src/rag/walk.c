/* Walking local trees and object-storage prefixes for the indexer. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rag/walk.h"
#include "teavec.h"
#include "util/common.h"

#define DEFAULT_PATTERN "**/*"

/* Directories never worth indexing: version control internals. */
static const char *const skip_dirs[] = {".git", ".hg", ".svn"};

/* ---- globs ------------------------------------------------------------ */

static bool seg_eq(const char *p, size_t pn, const char *s)
{
	return strlen(s) == pn && !memcmp(p, s, pn);
}

static bool match(const char *p, const char *s)
{
	const char *pe = strchr(p, '/'), *se;
	size_t pn = pe ? (size_t)(pe - p) : strlen(p);
	char pseg[NAME_MAX + 1], sseg[NAME_MAX + 1];
	if (!*p)
		return !*s;
	if (seg_eq(p, pn, "**")) {
		const char *rest = pe ? pe + 1 : "";
		if (!*rest)
			return true;
		for (;;) {
			if (match(rest, s))
				return true;
			if (!(s = strchr(s, '/')))
				return false;
			s++;
		}
	}
	se = strchr(s, '/');
	if (!*s || pn > NAME_MAX || (se ? (size_t)(se - s) : strlen(s)) > NAME_MAX)
		return false;
	memcpy(pseg, p, pn);
	pseg[pn] = 0;
	memcpy(sseg, s, se ? (size_t)(se - s) : strlen(s));
	sseg[se ? (size_t)(se - s) : strlen(s)] = 0;
	if (fnmatch(pseg, sseg, 0))
		return false;
	if (!pe || !se)
		return !pe && !se;
	return match(pe + 1, se + 1);
}

bool tv_glob_match(const char *pattern, const char *path)
{
	if (!strchr(pattern, '/')) {
		const char *base = strrchr(path, '/');
		return match(pattern, base ? base + 1 : path);
	}
	return match(pattern, path);
}

/* ---- the list --------------------------------------------------------- */

static bool ext_ok(const tv_walk_opts *o, const char *name)
{
	const char *dot = strrchr(name, '.');
	if (o->nexts == 0)
		return true;
	if (!dot)
		return false;
	for (size_t i = 0; i < o->nexts; i++) {
		const char *e = o->exts[i][0] == '.' ? o->exts[i] + 1 : o->exts[i];
		if (!strcasecmp(dot + 1, e))
			return true;
	}
	return false;
}

static int add_file(tv_walk *w, char *path, uint64_t size, int64_t mtime, int io, char *rel,
                    tv_err *err)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;
		tv_walk_file *v = tv_reallocarray(w->files, cap, sizeof *v);
		if (!v) {
			free(path);
			free(rel);
			return TV_ENOMEM_SET(err, "file list");
		}
		w->files = v;
		w->cap = cap;
	}
	w->files[w->n].path = path;
	w->files[w->n].size = size;
	w->files[w->n].mtime_ns = mtime;
	w->files[w->n].io = io;
	w->files[w->n].rel = rel;
	w->n++;
	return 0;
}

static void note(tv_walk *w, const char *path, const char *what)
{
	if (!w->errors)
		w->errors = json_array();
	json_array_append_new(w->errors, json_pack("{s:s,s:s}", "path", path, "error", what));
}

static int64_t mtime_of(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* ---- local trees ------------------------------------------------------ */

typedef struct dirid {
	dev_t dev;
	ino_t ino;
} dirid;

typedef struct local_walk {
	tv_walk *w;
	const tv_walk_opts *o;
	const char *pattern;
	size_t root_len; /* length of the root prefix of every path */
	dirid *stack;    /* the directories being walked, for loops */
	size_t depth, cap;
	dirid *seen; /* every directory walked, so a tree reached twice is walked once */
	size_t nseen, capseen;
} local_walk;

static int push_id(dirid **v, size_t *n, size_t *cap, const struct stat *st)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 32;
		dirid *nv = tv_reallocarray(*v, c, sizeof *nv);
		if (!nv)
			return TV_ENOMEM;
		*v = nv;
		*cap = c;
	}
	(*v)[*n].dev = st->st_dev;
	(*v)[*n].ino = st->st_ino;
	(*n)++;
	return 0;
}

static bool has_id(const dirid *v, size_t n, const struct stat *st)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].dev == st->st_dev && v[i].ino == st->st_ino)
			return true;
	return false;
}

static int walk_dir(local_walk *lw, char *path, size_t len, const struct stat *dst, tv_err *err)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;
	if (has_id(lw->stack, lw->depth, dst)) {
		note(lw->w, path, "symbolic link loop: directory already being walked; skipped");
		return 0;
	}
	if (has_id(lw->seen, lw->nseen, dst))
		return 0;
	if (push_id(&lw->seen, &lw->nseen, &lw->capseen, dst) ||
	    push_id(&lw->stack, &lw->depth, &lw->cap, dst))
		return TV_ENOMEM_SET(err, "directory walk");
	if (!(d = opendir(path))) {
		note(lw->w, path, strerror(errno));
		lw->depth--;
		return 0;
	}
	while (!rc && (de = readdir(d))) {
		struct stat st;
		size_t nl = strlen(de->d_name);
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (len + 1 + nl >= PATH_MAX) {
			note(lw->w, path, "a name under this directory makes a path longer than PATH_MAX");
			continue;
		}
		path[len] = '/';
		memcpy(path + len + 1, de->d_name, nl + 1);
		if (stat(path, &st)) { /* follows symlinks; a dangling one is noted */
			if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
				note(lw->w, path, "dangling symbolic link");
			else
				note(lw->w, path, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			bool skip = false;
			for (size_t i = 0; i < TV_ARRAY_LEN(skip_dirs); i++)
				skip |= !strcmp(de->d_name, skip_dirs[i]);
			if (!skip && lw->o->recursive)
				rc = walk_dir(lw, path, len + 1 + nl, &st, err);
		} else if (S_ISREG(st.st_mode)) {
			const char *rel = path + lw->root_len + 1;
			if (tv_glob_match(lw->pattern, rel) && ext_ok(lw->o, de->d_name)) {
				char *p = tv_strdup(path);
				rc = p ? add_file(lw->w, p, (uint64_t)st.st_size, mtime_of(&st), -1, NULL, err)
				       : TV_ENOMEM_SET(err, "file list");
			}
		}
		path[len] = 0;
	}
	closedir(d);
	lw->depth--;
	return rc;
}

/* An absolute, lexically normalised form of p (no ".", "..", "//"). */
static char *absolute(const char *p)
{
	char cwd[PATH_MAX], *buf, *out;
	size_t o = 0;
	if (p[0] == '/')
		buf = tv_strdup(p);
	else if (getcwd(cwd, sizeof cwd))
		buf = tv_sprintf("%s/%s", cwd, p);
	else
		return NULL;
	if (!buf || !(out = malloc(strlen(buf) + 2))) {
		free(buf);
		return NULL;
	}
	for (char *s = buf, *e; *s; s = e) {
		size_t n;
		while (*s == '/')
			s++;
		e = s + strcspn(s, "/");
		n = (size_t)(e - s);
		if (n == 0 || (n == 1 && s[0] == '.'))
			continue;
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		out[o++] = '/';
		memcpy(out + o, s, n);
		o += n;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = 0;
	free(buf);
	return out;
}

static int add_local(tv_walk *w, const char *root, const tv_walk_opts *o, tv_err *err)
{
	struct stat st;
	char *abs = absolute(root), *path;
	local_walk lw;
	int rc;
	if (!abs)
		return TV_ENOMEM_SET(err, "path");
	if (stat(abs, &st)) {
		note(w, root, strerror(errno));
		free(abs);
		return 0;
	}
	if (S_ISREG(st.st_mode))
		return add_file(w, abs, (uint64_t)st.st_size, mtime_of(&st), -1, NULL, err);
	if (!S_ISDIR(st.st_mode)) {
		note(w, root, "not a regular file or a directory");
		free(abs);
		return 0;
	}
	if (!(path = malloc(PATH_MAX))) {
		free(abs);
		return TV_ENOMEM_SET(err, "path");
	}
	memset(&lw, 0, sizeof lw);
	lw.w = w;
	lw.o = o;
	lw.pattern = o->pattern && *o->pattern ? o->pattern : DEFAULT_PATTERN;
	lw.root_len = strcmp(abs, "/") ? strlen(abs) : 0;
	snprintf(path, PATH_MAX, "%s", lw.root_len ? abs : "");
	rc = walk_dir(&lw, path, lw.root_len, &st, err);
	free(lw.stack);
	free(lw.seen);
	free(path);
	free(abs);
	return rc;
}

/* ---- object storage --------------------------------------------------- */

static int walk_prefix(tv_walk *w, int io, const char *uri, const char *dir,
                       const tv_walk_opts *o, const char *pattern, unsigned depth, tv_err *err)
{
	tv_io_entry *e = NULL;
	size_t ne = 0;
	int rc;
	if (depth > 64) {
		note(w, uri, "more than 64 levels of prefixes; not descending further");
		return 0;
	}
	if ((rc = tv_io_list(w->ios[io], dir, &e, &ne, err))) {
		note(w, uri, err->msg);
		tv_err_clear(err);
		return 0;
	}
	for (size_t i = 0; !rc && i < ne; i++) {
		char *rel = *dir ? tv_sprintf("%s/%s", dir, e[i].name) : tv_strdup(e[i].name), *full;
		if (!rel) {
			rc = TV_ENOMEM_SET(err, "file list");
			break;
		}
		if (e[i].is_dir) {
			if (o->recursive)
				rc = walk_prefix(w, io, uri, rel, o, pattern, depth + 1, err);
			free(rel);
		} else if (tv_glob_match(pattern, rel) && ext_ok(o, e[i].name)) {
			if (!(full = tv_sprintf("%s/%s", uri, rel))) {
				free(rel);
				rc = TV_ENOMEM_SET(err, "file list");
			} else {
				rc = add_file(w, full, e[i].size, e[i].mtime_ns, io, rel, err);
			}
		} else {
			free(rel);
		}
	}
	tv_io_entries_free(e, ne);
	return rc;
}

static int add_remote(tv_walk *w, const char *root, const tv_walk_opts *o, tv_err *err)
{
	tv_io *io, **v;
	char *uri = tv_strdup(root);
	size_t len;
	int rc;
	if (!uri)
		return TV_ENOMEM_SET(err, "path");
	len = strlen(uri);
	while (len > 0 && uri[len - 1] == '/')
		uri[--len] = 0;
	if ((rc = tv_io_open(&io, uri, err))) {
		free(uri);
		return rc; /* a scheme we cannot open is the caller's error */
	}
	if (!(v = tv_reallocarray(w->ios, w->nios + 1, sizeof *v))) {
		tv_io_free(io);
		free(uri);
		return TV_ENOMEM_SET(err, "file list");
	}
	w->ios = v;
	w->ios[w->nios++] = io;
	rc = walk_prefix(w, (int)w->nios - 1, uri, "", o,
	                 o->pattern && *o->pattern ? o->pattern : DEFAULT_PATTERN, 0, err);
	free(uri);
	return rc;
}

int tv_walk_add(tv_walk *w, const char *root, const tv_walk_opts *o, tv_err *err)
{
	const char *sep = strstr(root, "://");
	if (sep && strncmp(root, "file://", 7))
		return add_remote(w, root, o, err);
	return add_local(w, sep ? root + 7 : root, o, err);
}

char *tv_walk_root_form(const char *root)
{
	if (strstr(root, "://") && strncmp(root, "file://", 7)) {
		char *u = tv_strdup(root);
		size_t n = u ? strlen(u) : 0;
		while (n > 0 && u[n - 1] == '/')
			u[--n] = 0;
		return u;
	}
	return absolute(strncmp(root, "file://", 7) ? root : root + 7);
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const tv_walk_file *)a)->path, ((const tv_walk_file *)b)->path);
}

void tv_walk_finish(tv_walk *w)
{
	size_t k = 0;
	qsort(w->files, w->n, sizeof *w->files, cmp_file);
	for (size_t i = 0; i < w->n; i++) {
		if (k > 0 && !strcmp(w->files[k - 1].path, w->files[i].path)) {
			free(w->files[i].path);
			free(w->files[i].rel);
			continue;
		}
		w->files[k++] = w->files[i];
	}
	w->n = k;
}

void tv_walk_free(tv_walk *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->files[i].path);
		free(w->files[i].rel);
	}
	free(w->files);
	for (size_t i = 0; i < w->nios; i++)
		tv_io_free(w->ios[i]);
	free(w->ios);
	json_decref(w->errors);
	memset(w, 0, sizeof *w);
}

int tv_walk_read(const tv_walk *w, const tv_walk_file *f, char **data, size_t *n, tv_err *err)
{
	uint8_t *d;
	int fd, rc = 0;
	struct stat st;
	size_t got = 0;
	*data = NULL;
	*n = 0;
	if (f->io >= 0) {
		size_t len;
		uint8_t *tmp;
		if ((rc = tv_io_read_all(w->ios[f->io], f->rel, &d, &len, err)))
			return rc;
		if (!(tmp = realloc(d, len + 1))) {
			free(d);
			return TV_ENOMEM_SET(err, f->path);
		}
		tmp[len] = 0;
		*data = (char *)tmp;
		*n = len;
		return 0;
	}
	if ((fd = open(f->path, O_RDONLY | O_CLOEXEC)) < 0)
		return tv_err_set(err, errno == EACCES ? TV_EPERM : errno == ENOENT ? TV_ENOTFOUND : TV_EIO,
		                  "%s: %s", f->path, strerror(errno));
	if (fstat(fd, &st) || !(d = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return tv_err_set(err, TV_EIO, "%s: %s", f->path, strerror(errno ? errno : ENOMEM));
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, d + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0)
				rc = tv_err_set(err, TV_EIO, "%s: %s", f->path, strerror(errno));
			break; /* shrank while we read: index what is there */
		}
		got += (size_t)r;
	}
	close(fd);
	if (rc) {
		free(d);
		return rc;
	}
	d[got] = 0;
	*data = (char *)d;
	*n = got;
	return 0;
}

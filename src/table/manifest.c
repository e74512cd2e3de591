/* Lance manifest files: codec and version listing (see manifest.h). */
#include "table/manifest.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/common.h"

void tv_manifest_free(tv_manifest *mf)
{
	if (mf->m)
		lance__table__manifest__free_unpacked(mf->m, NULL);
	if (mf->txn)
		lance__table__transaction__free_unpacked(mf->txn, NULL);
	free(mf->index_section);
	memset(mf, 0, sizeof *mf);
}

static int bad(tv_err *err, const char *path, const char *what)
{
	return tv_err_set(err, TV_ECORRUPT, "%s: corrupt manifest: %s", path, what);
}

/* The section whose u32 length prefix sits at off: [*p, *p + *len). */
static int section(const uint8_t *d, size_t n, uint64_t off, size_t end, const uint8_t **p,
                   size_t *len)
{
	uint32_t l;
	if (off > n || n - off < 4 || off + 4 > end)
		return -1;
	memcpy(&l, d + off, 4);
	if (l > end - off - 4)
		return -1;
	*p = d + off + 4;
	*len = l;
	return 0;
}

int tv_manifest_read(tv_io *io, const char *path, tv_manifest *out, tv_rfile **keep,
                     tv_err *err)
{
	uint8_t *d = NULL;
	const uint8_t *p;
	size_t n, len;
	int64_t pos;
	int rc;
	memset(out, 0, sizeof *out);
	if ((rc = tv_io_read_keep(io, path, &d, &n, keep, err)))
		return rc;
	rc = TV_ECORRUPT;
	if (n < 20 || memcmp(d + n - 4, "LANC", 4)) {
		bad(err, path, "no LANC trailer");
		goto done;
	}
	memcpy(&pos, d + n - 16, 8);
	if (pos < 0 || section(d, n, (uint64_t)pos, n - 16, &p, &len) ||
	    (size_t)pos + 4 + len != n - 16) {
		bad(err, path, "manifest position or length does not match the file");
		goto done;
	}
	if (!(out->m = lance__table__manifest__unpack(NULL, len, p))) {
		bad(err, path, "manifest does not decode");
		goto done;
	}
	if (out->m->has_transaction_section) {
		if (section(d, n, out->m->transaction_section, (size_t)pos, &p, &len) ||
		    !(out->txn = lance__table__transaction__unpack(NULL, len, p))) {
			bad(err, path, "inline transaction");
			goto done;
		}
	}
	if (out->m->has_index_section) {
		if (section(d, n, out->m->index_section, (size_t)pos, &p, &len)) {
			bad(err, path, "index section outside the file");
			goto done;
		}
		if (!(out->index_section = malloc(len ? len : 1))) {
			rc = TV_ENOMEM_SET(err, path);
			goto done;
		}
		memcpy(out->index_section, p, len);
		out->index_len = len;
	}
	rc = 0;
done:
	if (rc) {
		tv_manifest_free(out);
		if (keep) {
			tv_rfile_close(*keep);
			*keep = NULL;
		}
	}
	free(d);
	return rc;
}

static int add_section(tv_buf *b, const uint8_t *p, size_t len, uint64_t *pos)
{
	uint32_t l = (uint32_t)len;
	*pos = b->len;
	if (len > UINT32_MAX)
		return TV_EINVAL;
	return tv_buf_append(b, &l, 4) || tv_buf_append(b, p, len) ? TV_ENOMEM : 0;
}

int tv_manifest_encode(Lance__Table__Manifest *m, Lance__Table__Transaction *txn,
                       const uint8_t *index_section, size_t index_len, tv_buf *b)
{
	uint8_t *tmp = NULL;
	uint64_t pos;
	int64_t mpos;
	int rc = TV_ENOMEM;
	m->has_index_section = m->has_transaction_section = 0;
	if (index_section) {
		if ((rc = add_section(b, index_section, index_len, &m->index_section)))
			goto done;
		m->has_index_section = 1;
	}
	if (txn) {
		size_t tl = lance__table__transaction__get_packed_size(txn);
		rc = TV_ENOMEM;
		if (!(tmp = malloc(tl ? tl : 1)))
			goto done;
		lance__table__transaction__pack(txn, tmp);
		if ((rc = add_section(b, tmp, tl, &m->transaction_section)))
			goto done;
		m->has_transaction_section = 1;
		free(tmp);
		tmp = NULL;
	}
	{
		size_t ml = lance__table__manifest__get_packed_size(m);
		rc = TV_ENOMEM;
		if (!(tmp = malloc(ml ? ml : 1)))
			goto done;
		lance__table__manifest__pack(m, tmp);
		if ((rc = add_section(b, tmp, ml, &pos)))
			goto done;
	}
	mpos = (int64_t)pos;
	rc = tv_buf_append(b, &mpos, 8) || tv_buf_append(b, "\x00\x00\x02\x00LANC", 8) ? TV_ENOMEM : 0;
done:
	free(tmp);
	return rc;
}

char *tv_manifest_path(const char *table, tv_naming naming, uint64_t v)
{
	if (naming == TV_NAMING_V1)
		return tv_sprintf("%s/_versions/%" PRIu64 ".manifest", table, v);
	return tv_sprintf("%s/_versions/%020" PRIu64 ".manifest", table, UINT64_MAX - v);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Parses a manifest file name; 0 = not a (main-branch) manifest. */
static int parse_name(const char *name, tv_naming *scheme, uint64_t *v)
{
	size_t n = strlen(name);
	char *end;
	unsigned long long x;
	if (n <= 9 || strcmp(name + n - 9, ".manifest") || name[0] == 'd' || name[0] < '0' ||
	    name[0] > '9')
		return 0;
	x = strtoull(name, &end, 10);
	if (end != name + n - 9)
		return 0;
	*scheme = n == 29 ? TV_NAMING_V2 : TV_NAMING_V1;
	*v = *scheme == TV_NAMING_V2 ? UINT64_MAX - (uint64_t)x : (uint64_t)x;
	return 1;
}

int tv_manifest_versions(tv_io *io, const char *table, uint64_t **versions, size_t *n,
                         tv_naming *naming, tv_err *err)
{
	char *dir = tv_sprintf("%s/_versions", table);
	tv_io_entry *e = NULL;
	size_t ne = 0, k = 0;
	int rc, seen = 0;
	*versions = NULL;
	*n = 0;
	*naming = TV_NAMING_V2;
	if (!dir)
		return TV_ENOMEM_SET(err, table);
	rc = tv_io_list(io, dir, &e, &ne, err);
	free(dir);
	if (rc)
		return rc;
	if (!(*versions = tv_mallocarray(ne ? ne : 1, sizeof **versions))) {
		tv_io_entries_free(e, ne);
		return TV_ENOMEM_SET(err, table);
	}
	for (size_t i = 0; i < ne; i++) {
		tv_naming s;
		uint64_t v;
		if (!parse_name(e[i].name, &s, &v))
			continue;
		if (seen && s != *naming) {
			tv_io_entries_free(e, ne);
			free(*versions);
			*versions = NULL;
			return tv_err_set(err, TV_ECORRUPT,
			                  "%s: both V1 and V2 manifest names in _versions/", table);
		}
		seen = 1;
		*naming = s;
		(*versions)[k++] = v;
	}
	tv_io_entries_free(e, ne);
	qsort(*versions, k, sizeof **versions, cmp_u64);
	*n = k;
	return 0;
}

/*
 * Lance data files, format version 2.0 (footer 0.3): writer and reader.
 *
 * Layout and encodings: LANCE-FORMAT.md section 4 and docs/FORMAT.md.
 * The writer produces exactly what LanceDB 0.39's 2.0 writer produces for
 * our column kinds (utf8 via Binary encoding, fixed_size_list<float32>,
 * nullable forms chosen per page from the data), with every data buffer
 * 64-byte aligned, so vector pages of a memory-mapped file can be scanned
 * in place. The reader also decodes what LanceDB may emit for 2.0 files:
 * dictionary-encoded strings, several pages per column, nullable pages of
 * every form, other primitive columns (read or skipped by field id).
 *
 * Every offset and length read from a file is bounds-checked; a file that
 * fails a check is TV_ECORRUPT with a message naming the file.
 */
#ifndef TV_TABLE_DATAFILE_H
#define TV_TABLE_DATAFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/io.h"
#include "util/err.h"

/* One field of a Lance schema (the lance.file.Field message, flattened). */
typedef struct tv_lance_field {
	int32_t id;
	int32_t parent_id;   /* -1 for top level */
	char *name;
	char *logical_type;  /* "string", "large_string", "fixed_size_list:float:384", ... */
	bool nullable;
	int32_t encoding;    /* legacy Field.encoding: 1 PLAIN, 2 VAR_BINARY, 0 none */
} tv_lance_field;

typedef struct tv_lance_schema {
	tv_lance_field *fields; /* pre-order, parents first */
	size_t n;
} tv_lance_schema;

void tv_lance_schema_free(tv_lance_schema *s);
int tv_lance_schema_copy(tv_lance_schema *dst, const tv_lance_schema *src);
/* Index in s->fields of the top-level field named name, or -1. */
int tv_lance_schema_find(const tv_lance_schema *s, const char *name);
/* For "fixed_size_list:float:N" returns N, else 0. */
uint32_t tv_lance_fsl_float_dim(const char *logical_type);

/* ---- Writer ---------------------------------------------------------- */

typedef enum tv_col_kind {
	TV_COL_UTF8 = 1,    /* utf8 / large_utf8 strings, nullable */
	TV_COL_F32_VEC = 2  /* fixed_size_list<float32>[dim], non-null */
} tv_col_kind;

/* One column to write: rows [0, nrows) of the batch. */
typedef struct tv_col_in {
	tv_col_kind kind;
	/* TV_COL_UTF8: str[i] / len[i]; str[i] == NULL is a null */
	const char *const *str;
	const size_t *len;
	/* TV_COL_F32_VEC: nrows * dim floats, row-major */
	const float *vec;
	uint32_t dim;
} tv_col_in;

/* Writes one 2.0 data file of nrows rows to w (not committed: the caller
 * commits or aborts w). schema lists the fields in file order and cols[i]
 * holds the data of schema->fields[i] (only top-level leaf fields: one
 * column each). *size_out receives the file size. Pages are split so that
 * no page exceeds about 8 MiB, like LanceDB. */
int tv_datafile_write(tv_wfile *w, const tv_lance_schema *schema, const tv_col_in *cols,
                      uint64_t nrows, uint64_t *size_out, tv_err *err);

/* ---- Reader ---------------------------------------------------------- */

typedef struct tv_datafile tv_datafile;

/* Opens a data file: reads and checks the footer, the FileDescriptor (its
 * schema and row count) and every column's page list. Keeps f (borrowed:
 * must outlive the tv_datafile). */
int tv_datafile_open(tv_datafile **out, tv_rfile *f, tv_err *err);
void tv_datafile_close(tv_datafile *df);
uint64_t tv_datafile_rows(const tv_datafile *df);
size_t tv_datafile_columns(const tv_datafile *df);
/* The schema stored in the file (fields it holds). */
const tv_lance_schema *tv_datafile_schema(const tv_datafile *df);

/* Strings of rows [row, row + n) of column col: offsets[i]..offsets[i+1]
 * in data is row i; valid[i] == 0 means null (valid is NULL when no row is
 * null). All arrays are owned by *out; free with tv_strcol_free. */
typedef struct tv_strcol {
	size_t n;
	uint64_t *offsets; /* n + 1 entries, offsets[0] == 0 */
	char *data;
	uint8_t *valid;
} tv_strcol;
int tv_datafile_read_strings(tv_datafile *df, uint32_t col, uint64_t row, uint64_t n,
                             tv_strcol *out, tv_err *err);
/* Calls fn(ctx, row, s, len) for rows [row, row + n) of a string column, in
 * order, s pointing at the row's bytes (not NUL-terminated; NULL for a
 * null) only during the call; a non-zero return stops it and is returned.
 * One page decoded at a time into reused buffers: a scan of a big column
 * without holding it. */
int tv_datafile_each_string(tv_datafile *df, uint32_t col, uint64_t row, uint64_t n,
                            int (*fn)(void *ctx, uint64_t row, const char *s, size_t len),
                            void *ctx, tv_err *err);
void tv_strcol_free(tv_strcol *s);

/* Float vectors of rows [row, row + n) of a fixed_size_list<float32>
 * column. When the rows lie in one no-null page of a memory-mapped file
 * *vec points into the map and *owned is NULL (zero copy); otherwise the
 * rows are copied into *owned (caller frees) and *vec == *owned. A null
 * row reads as zeros and valid[i] = 0 (valid, when not NULL, is caller
 * provided with n entries). */
int tv_datafile_read_vectors(tv_datafile *df, uint32_t col, uint64_t row, uint64_t n,
                             uint32_t dim, const float **vec, float **owned,
                             uint8_t *valid, tv_err *err);

#endif

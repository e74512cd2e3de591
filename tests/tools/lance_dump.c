/* lance_dump FILE.lance: prints every row of a Lance 2.0 data file as one
 * JSON object per line ({"field": value}), string columns as strings or
 * null, float vector columns as arrays (%.9g). Used by the interop tests
 * to compare what teavec reads with what LanceDB reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "table/datafile.h"

static void json_str(const char *s, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

int main(int argc, char **argv)
{
	tv_io *io = NULL;
	tv_rfile *f = NULL;
	tv_datafile *df = NULL;
	tv_err err = {0};
	const tv_lance_schema *s;
	tv_strcol *sc;
	const float **vec;
	float **own;
	uint32_t *dims;
	uint64_t n;
	if (argc != 2) {
		fprintf(stderr, "usage: lance_dump FILE.lance\n");
		return 2;
	}
	if (tv_io_local_open(&io, argv[1][0] == '/' ? "/" : ".", &err) ||
	    tv_io_open_read(io, argv[1][0] == '/' ? argv[1] + 1 : argv[1], &f, &err) ||
	    tv_datafile_open(&df, f, &err)) {
		fprintf(stderr, "lance_dump: %s\n", err.msg);
		return 1;
	}
	s = tv_datafile_schema(df);
	n = tv_datafile_rows(df);
	sc = calloc(s->n, sizeof *sc);
	vec = calloc(s->n, sizeof *vec);
	own = calloc(s->n, sizeof *own);
	dims = calloc(s->n, sizeof *dims);
	for (size_t c = 0; c < s->n; c++) {
		int rc;
		dims[c] = tv_lance_fsl_float_dim(s->fields[c].logical_type);
		rc = dims[c] ? tv_datafile_read_vectors(df, (uint32_t)c, 0, n, dims[c], &vec[c], &own[c],
		                                        NULL, &err)
		             : tv_datafile_read_strings(df, (uint32_t)c, 0, n, &sc[c], &err);
		if (rc) {
			fprintf(stderr, "lance_dump: column %s: %s\n", s->fields[c].name, err.msg);
			return 1;
		}
	}
	for (uint64_t r = 0; r < n; r++) {
		putchar('{');
		for (size_t c = 0; c < s->n; c++) {
			printf("%s\"%s\":", c ? "," : "", s->fields[c].name);
			if (dims[c]) {
				putchar('[');
				for (uint32_t j = 0; j < dims[c]; j++)
					printf("%s%.9g", j ? "," : "", vec[c][r * dims[c] + j]);
				putchar(']');
			} else if (sc[c].valid && !sc[c].valid[r]) {
				printf("null");
			} else {
				json_str(sc[c].data + sc[c].offsets[r],
				         (size_t)(sc[c].offsets[r + 1] - sc[c].offsets[r]));
			}
		}
		puts("}");
	}
	for (size_t c = 0; c < s->n; c++) {
		tv_strcol_free(&sc[c]);
		free(own[c]);
	}
	free(sc);
	free(vec);
	free(own);
	free(dims);
	tv_datafile_close(df);
	tv_rfile_close(f);
	tv_io_free(io);
	return 0;
}

/*
 * Text files into chunks: recognising binary content, repairing invalid
 * UTF-8, and splitting by line, paragraph or whole document with the line
 * numbers each chunk spans. Pure functions over a buffer; no I/O.
 */
#ifndef TV_RAG_CHUNK_H
#define TV_RAG_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum tv_chunk_by { TV_CHUNK_LINE, TV_CHUNK_PARAGRAPH, TV_CHUNK_DOCUMENT } tv_chunk_by;

/* "line" / "paragraph" / "document"; -1 for anything else. */
int tv_chunk_by_parse(const char *name, tv_chunk_by *out);
const char *tv_chunk_by_name(tv_chunk_by by);

/* True for content that is not text: a NUL byte, or more than 10% control
 * characters (other than tab, newline, CR, form feed, vertical tab,
 * backspace, escape) in the first 8 KiB. */
bool tv_text_is_binary(const char *buf, size_t n);

/* Replaces each invalid UTF-8 sequence by U+FFFD. *nbad receives how many
 * were replaced; when 0, *out is NULL (buf is fine as it is), else *out is
 * a fresh buffer of *outn bytes (caller frees). TV_ENOMEM on failure. */
int tv_utf8_repair(const char *buf, size_t n, char **out, size_t *outn, size_t *nbad);

/* One chunk: bytes [off, off + len) of the buffer, lines start..end
 * (1-based, inclusive). */
typedef struct tv_chunk {
	size_t off, len;
	uint32_t start_line, end_line;
} tv_chunk;

/* Splits text into chunks (caller frees *out):
 *  - line: each line that is not blank, without its line ending;
 *  - paragraph: runs of non-blank lines separated by blank lines;
 *  - document: the whole text.
 * Chunks never start or end with whitespace; blank text has no chunks.
 * Line and paragraph chunks longer than max_len bytes are split at line
 * boundaries, and single longer lines at UTF-8 character boundaries, so
 * no chunk exceeds max_len (0 = no limit). */
int tv_chunk_text(const char *text, size_t n, tv_chunk_by by, size_t max_len, tv_chunk **out,
                  size_t *nout);

#endif

/*
 * Lance manifests: one file per table version under _versions/.
 *
 * File layout (LANCE-FORMAT.md 2.1):
 *
 *   offset   size      content
 *   0        4 + i     [optional] u32 LE length + IndexSection protobuf
 *   ...      4 + t     [optional] u32 LE length + Transaction protobuf
 *   P        4 + m     u32 LE length + Manifest protobuf
 *   end-16   8         i64 LE P (position of the manifest's length prefix)
 *   end-8    2, 2      u16 LE 0, u16 LE 2
 *   end-4    4         "LANC"
 *
 * Nothing may sit between the manifest and the trailer. Section offsets in
 * the Manifest (index_section, transaction_section) are absolute and point
 * at a section's length prefix. The index section is carried over byte for
 * byte from version to version (we never parse LanceDB's indexes).
 *
 * Naming: V1 "_versions/<N>.manifest"; V2 (LanceDB's default)
 * "_versions/<20 digits of UINT64_MAX - N>.manifest". A table keeps its
 * scheme; mixing them makes LanceDB refuse the table.
 */
#ifndef TV_TABLE_MANIFEST_H
#define TV_TABLE_MANIFEST_H

#include <stdint.h>

#include "io/io.h"
#include "util/common.h"
#include "table.pb-c.h"

typedef enum tv_naming { TV_NAMING_V1 = 1, TV_NAMING_V2 = 2 } tv_naming;

typedef struct tv_manifest {
	Lance__Table__Manifest *m;       /* decoded (protobuf-c owned) */
	Lance__Table__Transaction *txn;  /* inline transaction, or NULL */
	uint8_t *index_section;          /* raw IndexSection message, or NULL */
	size_t index_len;
} tv_manifest;

void tv_manifest_free(tv_manifest *mf);

/* Reads and checks the manifest file at path (relative to io's root).
 * With keep, the file read stays open there (NULL on failure). */
int tv_manifest_read(tv_io *io, const char *path, tv_manifest *out, tv_rfile **keep,
                     tv_err *err);

/* The bytes of a manifest file holding m (+ txn, + the raw index section)
 * into out (empty on entry); sets m's section offsets. TV_ENOMEM, or
 * TV_EINVAL for a section over 4 GiB (publish() in commit.c puts them). */
int tv_manifest_encode(Lance__Table__Manifest *m, Lance__Table__Transaction *txn,
                       const uint8_t *index_section, size_t index_len, tv_buf *out);

/* Versions present in "<table>/_versions": sorted ascending, and the
 * naming scheme in use (V2 for an empty table). TV_ECORRUPT if both
 * schemes are present. */
int tv_manifest_versions(tv_io *io, const char *table, uint64_t **versions, size_t *n,
                         tv_naming *naming, tv_err *err);

/* "<table>/_versions/<name>" for version v under naming; caller frees. */
char *tv_manifest_path(const char *table, tv_naming naming, uint64_t v);

#endif

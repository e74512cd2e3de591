/* Helpers between our structs and the protobuf-c messages of the Lance
 * format (generated from src/table/proto/). */
#ifndef TV_TABLE_PB_H
#define TV_TABLE_PB_H

#include "file.pb-c.h"
#include "table/datafile.h"

/* Fills m from f; m borrows f's strings. */
void tv_lance__field_init(Lance__File__Field *m, const tv_lance_field *f);
/* Copies the schema out of decoded Field messages (n of them). */
int tv_lance__schema_from_pb(tv_lance_schema *s, Lance__File__Field *const *f, size_t n);

#endif

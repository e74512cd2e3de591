/* The persistent `lancedb` VectorStore over Lance tables (table/).
 * Placeholder until the table engine lands: reports that clearly. */
#include "store/store.h"

int tv_store_lancedb_new(tv_store **out, const json_t *settings, tv_err *err)
{
	(void)settings;
	*out = NULL;
	return tv_err_set(err, TV_EUNSUPPORTED,
	                  "vector_store 'lancedb' is not available yet in this build");
}

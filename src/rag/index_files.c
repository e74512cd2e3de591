/* vector.index_files: walk, chunk, embed and upsert files incrementally. */
#include "rag/rag_int.h"

int tv_rag__index_files(tv_rag *r, const json_t *params, json_t **res)
{
	(void)r;
	(void)params;
	return tv_rag__fail(res, TV_EUNSUPPORTED,
	                    "vector.index_files is not implemented in this version of teavec");
}

/* azure.c - Azure Blob Storage backend (in progress). */
#include "io/io.h"

int tv_io_azure_open(tv_io **out, const char *uri, tv_err *err)
{
	*out = NULL;
	return tv_err_set(err, TV_EUNSUPPORTED, "%s: not yet", uri);
}

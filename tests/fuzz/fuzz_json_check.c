/* libFuzzer target: whatever tv_json_object_certain is certain of, jansson
 * accepts as an object with duplicate keys rejected (the store skips
 * jansson for such metadata). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* the recogniser compiled into the target, so libFuzzer sees its coverage
 * (the library is not instrumented for it) */
#include "util/json_check.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (tv_json_object_certain(s, strlen(s))) {
		json_error_t e;
		json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &e);
		if (!j || !json_is_object(j))
			abort();
		json_decref(j);
	}
	free(s);
	return 0;
}

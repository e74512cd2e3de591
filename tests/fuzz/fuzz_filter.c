/* libFuzzer target: arbitrary bytes as a SQL filter and as a dict filter,
 * evaluated on rows with odd metadata. Must never crash, leak or hit UB. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query/filter.h"

static const char *metas[] = {"{\"a\":1,\"b\":\"x\",\"c\":[1,\"y\"],\"d\":{\"e\":null}}",
                              "{\"a\":\"\\u00e9\\ud83d\\ude00\"}", "{\"a\":", "[]", ""};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	tv_filter *f = NULL;
	tv_err err;
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	for (int kind = 0; kind < 2; kind++) {
		int rc = kind ? tv_filter_from_dict_json(&f, s, &err) : tv_filter_parse_sql(&f, s, &err);
		if (rc == 0) {
			for (size_t i = 0; i < sizeof metas / sizeof metas[0]; i++) {
				tv_row_view v = {"id", 2, "text", 4, i % 2 ? NULL : "p/a.md", 6,
				                 metas[i], strlen(metas[i]), NULL};
				(void)tv_filter_matches(f, &v);
			}
		}
		tv_filter_free(f);
		f = NULL;
	}
	free(s);
	return 0;
}

/* libFuzzer target for the filter language. Must never crash, leak or hit
 * UB; and the two readings of a row's metadata (the raw-JSON scanner the
 * lancedb store uses, the parsed object the memory store uses) must agree
 * on every document jansson accepts, or it aborts.
 *
 * Input: FILTER, or FILTER '\n' METADATA. The filter is tried as SQL and as
 * a dict filter; it is evaluated on METADATA when given, else on a few
 * fixed documents, each with and without a path. The planner's view
 * (tv_filter_equality) and tv_filter_and run on every filter too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/filter.h"

static const char *metas[] = {
	"{\"a\":1,\"b\":\"x\",\"c\":[1,\"y\"],\"d\":{\"e\":null},\"f\":2.5,\"g\":true}",
	"{\"a\":\"\\u00e9\\ud83d\\ude00\",\"b\":[[1],[\"x\"]],\"lang\":\"en\",\"year\":2020}",
	"{\"a\":-9223372036854775808,\"n\":{\"a\":{\"b\":\"deep\"}},\"tags\":[\"a\",\"b\"]}",
	"{\"a\":", "[]", "", "{}"};

static void eval_both(const tv_filter *f, const char *meta, size_t len, int with_path)
{
	json_error_t je;
	/* the memory store's metadata comes from C strings: never a NUL byte
	 * (which json_loadb lets through) */
	json_t *obj = memchr(meta, 0, len) ? NULL : json_loadb(meta, len, JSON_REJECT_DUPLICATES, &je);
	tv_row_view v = {"id", 2, "text", 4, with_path ? "p/a.md" : NULL, 6, meta, len, NULL};
	bool text = tv_filter_matches(f, &v);
	if (obj && json_is_object(obj)) {
		bool parsed;
		v.metadata_obj = obj;
		parsed = tv_filter_matches(f, &v);
		if (parsed != text) {
			fprintf(stderr, "the raw and the parsed metadata disagree: text %d, parsed %d\n",
			        text, parsed);
			abort();
		}
	}
	json_decref(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t flen = nl ? (size_t)(nl - data) : size;
	char *s = malloc(flen + 1), *meta = NULL;
	tv_filter *f[2] = {NULL, NULL};
	tv_err err;
	if (!s)
		return 0;
	memcpy(s, data, flen);
	s[flen] = 0;
	if (nl && !(meta = malloc(size - flen))) {
		free(s);
		return 0;
	}
	if (meta) {
		memcpy(meta, nl + 1, size - flen - 1);
		meta[size - flen - 1] = 0;
	}
	for (int kind = 0; kind < 2; kind++) {
		tv_filter_eq eq;
		int rc = kind ? tv_filter_from_dict_json(&f[kind], s, &err)
		              : tv_filter_parse_sql(&f[kind], s, &err);
		if (rc)
			continue;
		(void)tv_filter_equality(f[kind], &eq);
		if (meta) {
			eval_both(f[kind], meta, size - flen - 1, 1);
			continue;
		}
		for (size_t i = 0; i < sizeof metas / sizeof metas[0]; i++)
			for (int p = 0; p < 2; p++)
				eval_both(f[kind], metas[i], strlen(metas[i]), p);
	}
	{ /* both filters ANDed (either may be NULL); frees them */
		tv_filter *both = tv_filter_and(f[0], f[1]);
		if (both)
			eval_both(both, metas[0], strlen(metas[0]), 1);
		tv_filter_free(both);
	}
	free(meta);
	free(s);
	return 0;
}

/* tv_json_object_certain against jansson: what it is certain of, jansson
 * accepts (as an object, duplicates rejected) - on hand-picked edge cases
 * and on many random mutations of valid objects - and the plain metadata
 * the indexer and the TEA actions write is recognised without jansson. */
#include <jansson.h>

#include "util/common.h"
#include "util/json_check.h"
#include "tv_test.h"

static bool jansson_accepts(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &e);
	bool ok = j && json_is_object(j);
	json_decref(j);
	return ok;
}

static bool certain(const char *s) { return tv_json_object_certain(s, strlen(s)); }

static void test_plain_objects_are_certain(void)
{
	static const char *yes[] = {
		"{}", " { } ", "{\"a\":1}", "{\"a\": -0, \"b\": 1.5e-3, \"c\": 12E+2}",
		"{\"file\":\"/t/a.md\",\"start_line\":1,\"end_line\":3,\"chunk_type\":\"paragraph\"}",
		("{\"size\":3012,\"mtime_ns\":1764690000123456789,\"hash\":\"00ff\",\"embedder\":"
		 "\"hash:v1:256\",\"chunk_by\":\"paragraph\",\"chunks\":7}"),
		"{\"a\":[1,[2,[3]],{\"b\":null}],\"c\":true,\"d\":false}",
		"{\"caf\xc3\xa9\":\"\xe2\x82\xac \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9\"}",
		"{\"a\":{\"a\":{\"a\":1}}}", /* the same key at different levels */
		"{\"max\":9223372036854775807,\"min\":-9223372036854775808}",
		"\t\n\r{\"x\":\"\"}\n",
	};
	for (size_t i = 0; i < TV_ARRAY_LEN(yes); i++) {
		CHECK_MSG(certain(yes[i]), "%s", yes[i]);
		CHECK_MSG(jansson_accepts(yes[i]), "%s", yes[i]);
	}
}

static void test_anything_else_is_left_to_jansson(void)
{
	static const char *no[] = {
		"", "[]", "1", "\"s\"", "null", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}",
		"{\"a\":1 \"b\":2}", "{a:1}", "{'a':1}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}",
		"{\"a\":+1}", "{\"a\":1e}", "{\"a\":-}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":NaN}",
		"{\"a\":1}x", "{\"a\":1}{}", "{\"a\":\"\x01\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
		"{\"a\":\"\\u0000\"}", "{\"a\":\"\\ud83d\\ude00\"}", "{\"a\":\"\xff\"}",
		"{\"a\":\"\xc3\"}", "{\"\xed\xa0\x80\":1}", "{\"a\":1,\"a\":2}",
		"{\"k\":{\"a\":1,\"b\":2,\"a\":3}}", "{\"\\u0061\":1,\"a\":2}",
		"{\"a\":9223372036854775808}", "{\"a\":-9223372036854775809}",
		"{\"a\":12345678901234567890}", "{\"a\":1e308}", "{\"a\":1e999}", "{\"a\":\"unterminated}",
		"{\"a\":[1,2}", "{\"a\":[1,]}",
	};
	for (size_t i = 0; i < TV_ARRAY_LEN(no); i++)
		CHECK_MSG(!certain(no[i]), "%s", no[i]);
	/* deep nesting and many keys: valid, but beyond what is checked here */
	{
		char deep[200] = "{\"a\":", keys[1024] = "{";
		size_t n = strlen(deep);
		for (int i = 0; i < 40; i++)
			deep[n++] = '[';
		for (int i = 0; i < 40; i++)
			deep[n++] = ']';
		deep[n++] = '}';
		deep[n] = 0;
		CHECK(jansson_accepts(deep) && !certain(deep));
		for (int i = 0; i < 40; i++)
			snprintf(keys + strlen(keys), sizeof keys - strlen(keys), "%s\"k%d\":%d",
			         i ? "," : "", i, i);
		strcat(keys, "}");
		CHECK(jansson_accepts(keys) && !certain(keys));
	}
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Random edits of valid objects: whatever is certain, jansson accepts. */
static void test_certain_implies_jansson_accepts(void)
{
	static const char *seeds[] = {
		"{\"file\":\"/a/b c.md\",\"start_line\":12,\"end_line\":14,\"chunk_type\":\"line\"}",
		"{\"a\":[1,-2.5e3,\"x\\n\",{\"b\":null,\"c\":[true,false]}],\"d\":{}}",
		"{\"\xc3\xa9t\xc3\xa9\":\"\\u00e9\\\"\",\"n\":0,\"m\":-0.0}",
	};
	static const char alphabet[] = "{}[],:\"\\0123456789-+.eEtrufalsn \t\nuab\x80\xc3\xa9\xff";
	size_t certain_n = 0, total = 0;
	for (int round = 0; round < 200000; round++) {
		char buf[256];
		const char *seed = seeds[round % TV_ARRAY_LEN(seeds)];
		size_t n = strlen(seed);
		memcpy(buf, seed, n + 1);
		for (int e = 0, ne = 1 + (int)(next() % 3); e < ne; e++) {
			size_t at = (size_t)(next() % (n + 1));
			char ch = alphabet[next() % (sizeof alphabet - 1)];
			switch (next() % 3) {
			case 0: /* replace */
				if (at < n)
					buf[at] = ch;
				break;
			case 1: /* insert */
				if (n + 1 < sizeof buf) {
					memmove(buf + at + 1, buf + at, n - at + 1);
					buf[at] = ch;
					n++;
				}
				break;
			default: /* delete */
				if (at < n) {
					memmove(buf + at, buf + at + 1, n - at);
					n--;
				}
			}
		}
		total++;
		if (certain(buf)) {
			certain_n++;
			if (!jansson_accepts(buf)) {
				CHECK_MSG(false, "certain but jansson rejects: %s", buf);
				break;
			}
		}
	}
	/* the mutations keep some inputs valid: the check was exercised */
	CHECK_MSG(certain_n > total / 100, "%zu of %zu certain", certain_n, total);
}

int main(void)
{
	TV_RUN(test_plain_objects_are_certain);
	TV_RUN(test_anything_else_is_left_to_jansson);
	TV_RUN(test_certain_implies_jansson_accepts);
	TV_TEST_END();
}

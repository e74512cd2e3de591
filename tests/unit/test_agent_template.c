/* Templates and the YAML loader of the agent runner. */
#include <jansson.h>

#include "agent/template.h"
#include "agent/yaml.h"
#include "tv_test.h"

static json_t *ctx(void)
{
	return json_pack("{s:{s:[s,s,s], s:{s:i}, s:s, s:n, s:i}, s:{s:s}, s:{s:f}}", "state",
	                 "docs", "a", "b", "c", "nested", "deep", 7, "name", "Ana", "none",
	                 "count", 3, "variables", "lang", "en", "result", "score", 0.5);
}

static char *render(const char *tpl, json_t *c)
{
	json_t *in = json_string(tpl), *out = NULL;
	tv_err err = {0};
	char *s;
	if (tv_tpl_render(&out, in, c, &err)) {
		json_decref(in);
		return strdup(err.msg);
	}
	s = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(in);
	json_decref(out);
	return s;
}

#define CHECK_RENDER(tpl, want)                                                        \
	do {                                                                           \
		char *_got = render(tpl, c);                                           \
		CHECK_EQ_STR(_got, want);                                              \
		free(_got);                                                            \
	} while (0)

static void test_lone_expression_keeps_its_type(void)
{
	json_t *c = ctx();
	CHECK_RENDER("{{ state.docs }}", "[\"a\",\"b\",\"c\"]");
	CHECK_RENDER("  {{state.nested.deep}} ", "7");
	CHECK_RENDER("{{ state.docs | length }}", "3");
	CHECK_RENDER("{{ state.missing }}", "null");
	CHECK_RENDER("{{ state.docs[1] }}", "\"b\"");
	CHECK_RENDER("{{ state.docs[-1] }}", "\"c\"");
	CHECK_RENDER("{{ state['name'] }}", "\"Ana\"");
	CHECK_RENDER("{{ result.score }}", "0.5");
	json_decref(c);
}

static void test_interpolation_and_filters(void)
{
	json_t *c = ctx();
	CHECK_RENDER("hi {{ state.name }}, {{ variables.lang }}!", "\"hi Ana, en!\"");
	CHECK_RENDER("n={{ state.count }} d={{ state.docs | tojson }}",
	             "\"n=3 d=[\\\"a\\\",\\\"b\\\",\\\"c\\\"]\"");
	CHECK_RENDER("{{ state.missing | default('x') }}", "\"x\"");
	CHECK_RENDER("{{ state.none | default(5) }}", "5");
	CHECK_RENDER("{{ state.name | default('x') }}", "\"Ana\"");
	CHECK_RENDER("[{{ state.missing }}]", "\"[]\"");
	CHECK_RENDER("{{ state.name | upper }}", "\"ANA\"");
	CHECK_RENDER("{{ state.docs | join(', ') }}", "\"a, b, c\"");
	CHECK_RENDER("no braces", "\"no braces\"");
	json_decref(c);
}

static void test_conditions(void)
{
	json_t *c = ctx(), *v = NULL;
	tv_err err = {0};
	CHECK_EQ_INT(tv_tpl_eval(&v, "state.count > 2 and state.name == 'Ana'", c, &err), 0);
	CHECK(v && json_is_true(v));
	json_decref(v);
	CHECK_EQ_INT(tv_tpl_eval(&v, "not (state.docs | length) >= 3 or state.missing", c, &err), 0);
	CHECK(v && !tv_tpl_truthy(v));
	json_decref(v);
	CHECK_EQ_INT(tv_tpl_eval(&v, "state.count != 3", c, &err), 0);
	CHECK(v && json_is_false(v));
	json_decref(v);
	json_decref(c);
}

static void test_template_errors_name_the_column(void)
{
	json_t *c = ctx();
	char *got = render("{{ state.docs | nosuch }}", c);
	CHECK(strstr(got, "unknown filter") != NULL);
	free(got);
	got = render("{{ state. }}", c);
	CHECK(strstr(got, "expected a name after '.' at column") != NULL);
	free(got);
	got = render("{{ state.a ", c);
	CHECK(strstr(got, "without '}}'") != NULL);
	free(got);
	got = render("{{ 'open }}", c);
	CHECK(strstr(got, "unterminated string") != NULL);
	free(got);
	json_decref(c);
}

static void test_yaml_scalars_resolve_like_yaml_core_schema(void)
{
	const char *y = "a: 1\nb: 1.5\nc: true\nd: ~\ne: '12'\nf: hello world\ng: [x, 2]\n"
	                "h:\n  - k: v\n";
	tv_yaml_doc doc;
	tv_err err = {0};
	char *s;
	REQUIRE(tv_yaml_parse(&doc, y, strlen(y), "t.yaml", &err) == 0);
	s = json_dumps(doc.root, JSON_COMPACT);
	CHECK_EQ_STR(s, "{\"a\":1,\"b\":1.5,\"c\":true,\"d\":null,\"e\":\"12\",\"f\":\"hello "
	                "world\",\"g\":[\"x\",2],\"h\":[{\"k\":\"v\"}]}");
	CHECK_EQ_INT(tv_yaml_line(&doc, json_object_get(doc.root, "h")), 9);
	CHECK_EQ_INT(tv_yaml_line(&doc, json_array_get(json_object_get(doc.root, "h"), 0)), 9);
	free(s);
	tv_yaml_doc_free(&doc);
}

static void test_yaml_errors_name_file_and_line(void)
{
	const char *bad = "a: 1\nb: [1, 2\nc: 3\n";
	const char *dup = "a: 1\nb: 2\na: 3\n";
	const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, "
	                   "*a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, "
	                   "*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, "
	                   "*d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, "
	                   "*f, *f, *f, *f, *f, *f, *f, *f]\n";
	tv_yaml_doc doc;
	tv_err err = {0};
	CHECK_EQ_INT(tv_yaml_parse(&doc, bad, strlen(bad), "bad.yaml", &err), TV_EINVAL);
	CHECK_MSG(strstr(err.msg, "bad.yaml:3:") != NULL, "%s", err.msg);
	CHECK_EQ_INT(tv_yaml_parse(&doc, dup, strlen(dup), "dup.yaml", &err), TV_EINVAL);
	CHECK_MSG(strstr(err.msg, "dup.yaml:3: duplicate key 'a'") != NULL, "%s", err.msg);
	CHECK_EQ_INT(tv_yaml_parse(&doc, bomb, strlen(bomb), "bomb.yaml", &err), TV_EINVAL);
	CHECK_MSG(strstr(err.msg, "expands too far") != NULL, "%s", err.msg);
}

int main(void)
{
	TV_RUN(test_lone_expression_keeps_its_type);
	TV_RUN(test_interpolation_and_filters);
	TV_RUN(test_conditions);
	TV_RUN(test_template_errors_name_the_column);
	TV_RUN(test_yaml_scalars_resolve_like_yaml_core_schema);
	TV_RUN(test_yaml_errors_name_file_and_line);
	TV_TEST_END();
}

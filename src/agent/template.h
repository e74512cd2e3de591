/*
 * TEA-style templates over JSON values: "{{ state.docs | length }}".
 *
 * Expressions: a path (state.a.b, variables.x, result.items[0].id,
 * state['key with space']) or a literal ('text', "text", 12, 1.5, true,
 * false, null), followed by filters:
 *   tojson        the value as compact JSON text
 *   default(v)    v when the value is missing or null
 *   length        items of a list, keys of an object, characters of a string
 *   lower, upper  of a string
 *   join(sep)     the items of a list as strings joined by sep
 * and, for conditions (tv_tpl_eval of `if:` clauses), comparisons
 * == != < <= > >= and `and`, `or`, `not` with the usual precedence.
 *
 * A string that is exactly one {{ expr }} (surrounding blanks allowed)
 * renders to the expression's value with its type kept, so a list stays a
 * list; any other string has each {{ expr }} replaced by the value's text
 * (strings as-is, null/missing as "", others as compact JSON).
 */
#ifndef TV_AGENT_TEMPLATE_H
#define TV_AGENT_TEMPLATE_H

#include <stdbool.h>

#include <jansson.h>

#include "util/err.h"

/* Renders every string inside value (recursively through lists and
 * objects) against ctx, an object whose keys are the roots (state,
 * variables, result, ...). *out is a new reference. */
int tv_tpl_render(json_t **out, const json_t *value, const json_t *ctx, tv_err *err);
/* Evaluates one expression (no braces). *out is a new reference; a missing
 * path gives JSON null. */
int tv_tpl_eval(json_t **out, const char *expr, const json_t *ctx, tv_err *err);
/* Checks an expression's syntax without evaluating it. */
int tv_tpl_check(const char *expr, tv_err *err);
/* Truthiness: null, false, 0, "", [] and {} are false. */
bool tv_tpl_truthy(const json_t *v);

#endif

/*
 * The YAML agent runner: a TEA-compatible subset (docs/YAML.md).
 *
 * Loading checks everything that can be checked before running: node
 * names unique, every node's kind supported and its action known, goto and
 * edge targets existing, template expressions well formed; an error names
 * the node and its line. Running walks the graph from __start__ (or the
 * first node), rendering each node's `with:` against {state, variables},
 * calling the action, and writing its result into the state per `output:`.
 */
#include "agent/agent.h"

#include <stdlib.h>
#include <string.h>

#include "agent/template.h"
#include "agent/yaml.h"
#include "rag/rag.h"
#include "util/common.h"

#define MAX_STEPS 10000

struct tv_agent {
	tv_yaml_doc doc;
	char *path;
	json_t *nodes;     /* borrowed from doc.root */
	json_t *edges;     /* borrowed; may be NULL */
	json_t *variables; /* borrowed; may be NULL */
	json_t *settings;  /* the settings.rag object (borrowed) or NULL */
};

static const char *const unsupported_keys[] = {
	"run", "script", "lua", "prolog", "steps", "while_loop", "parallel", "fan_in",
	"subgraph", "py", "python",
};

static int node_err(tv_agent *a, const json_t *node, tv_err *err, const char *fmt,
                    const char *name, const char *detail)
{
	return tv_err_set(err, TV_EINVAL, "%s:%d: node '%s': %s%s%s", a->path,
	                  tv_yaml_line(&a->doc, node), name ? name : "?", fmt,
	                  detail ? ": " : "", detail ? detail : "");
}

static const json_t *find_node(const tv_agent *a, const char *name)
{
	size_t i;
	json_t *n;
	json_array_foreach(a->nodes, i, n)
		if (!strcmp(json_string_value(json_object_get(n, "name")), name))
			return n;
	return NULL;
}

/* Checks every {{ expr }} inside v parses. */
static int check_templates(const json_t *v, tv_err *err)
{
	const char *key, *s, *open, *close;
	json_t *x;
	size_t i;
	int rc;
	switch (json_typeof(v)) {
	case JSON_STRING:
		for (s = json_string_value(v); (open = strstr(s, "{{")); s = close + 2) {
			char *expr;
			if (!(close = strstr(open + 2, "}}")))
				return tv_err_set(err, TV_EINVAL, "'{{' without '}}'");
			expr = tv_strndup(open + 2, (size_t)(close - open - 2));
			rc = expr ? tv_tpl_check(expr, err) : TV_ENOMEM;
			free(expr);
			if (rc)
				return rc;
		}
		return 0;
	case JSON_ARRAY:
		json_array_foreach(v, i, x)
			if ((rc = check_templates(x, err)))
				return rc;
		return 0;
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, key, x)
			if ((rc = check_templates(x, err)))
				return rc;
		return 0;
	default:
		return 0;
	}
}

static int check_target(tv_agent *a, const json_t *at, const char *from, const char *to,
                        tv_err *err)
{
	if (!to)
		return node_err(a, at, err, "goto/edge target must be a node name", from, NULL);
	if (strcmp(to, "__end__") && !find_node(a, to))
		return node_err(a, at, err, "goto/edge target does not exist", from, to);
	return 0;
}

static int check_goto(tv_agent *a, const json_t *n, const char *name, tv_err *err)
{
	const json_t *g = json_object_get(n, "goto"), *c;
	size_t i;
	int rc;
	if (!g)
		return 0;
	if (json_is_string(g))
		return check_target(a, n, name, json_string_value(g), err);
	if (!json_is_array(g))
		return node_err(a, n, err, "goto must be a node name or a list of {if, to}", name,
		                NULL);
	json_array_foreach(g, i, c) {
		const json_t *cond = json_object_get(c, "if");
		if ((rc = check_target(a, c, name, json_string_value(json_object_get(c, "to")), err)))
			return rc;
		if (cond && (!json_is_string(cond) || tv_tpl_check(json_string_value(cond), err)))
			return node_err(a, c, err, "bad goto condition", name,
			                err ? err->msg : NULL);
	}
	return 0;
}

static int check_node(tv_agent *a, const json_t *n, size_t idx, tv_err *err)
{
	const char *name = json_string_value(json_object_get(n, "name"));
	const json_t *uses = json_object_get(n, "uses");
	const json_t *out = json_object_get(n, "output");
	int rc;
	if (!json_is_object(n) || !name || !*name)
		return tv_err_set(err, TV_EINVAL, "%s:%d: nodes[%zu]: needs a 'name'", a->path,
		                  tv_yaml_line(&a->doc, n), idx);
	for (size_t i = 0; i < TV_ARRAY_LEN(unsupported_keys); i++)
		if (json_object_get(n, unsupported_keys[i]))
			return node_err(a, n, err, "unsupported node kind", name, unsupported_keys[i]);
	if (!uses)
		uses = json_object_get(n, "action");
	if (!json_is_string(uses))
		return node_err(a, n, err, "needs 'uses:' (or 'action:') naming an action", name,
		                NULL);
	if (!tv_rag_has_action(json_string_value(uses)))
		return node_err(a, n, err, "unknown action", name, json_string_value(uses));
	if (out && !json_is_string(out) && !json_is_object(out))
		return node_err(a, n, err, "'output' must be a key or a mapping of keys", name, NULL);
	if ((rc = check_templates(json_object_get(n, "with"), err)) ||
	    (out && (rc = check_templates(out, err))))
		return node_err(a, n, err, "bad template", name, err ? err->msg : NULL);
	for (size_t j = 0; j < idx; j++)
		if (!strcmp(json_string_value(json_object_get(json_array_get(a->nodes, j), "name")),
		            name))
			return node_err(a, n, err, "duplicate node name", name, NULL);
	return 0;
}

static int check_edges(tv_agent *a, tv_err *err)
{
	size_t i;
	json_t *e;
	int rc;
	if (!a->edges)
		return 0;
	if (!json_is_array(a->edges))
		return tv_err_set(err, TV_EINVAL, "%s: 'edges' must be a list", a->path);
	json_array_foreach(a->edges, i, e) {
		const char *from = json_string_value(json_object_get(e, "from"));
		const json_t *when = json_object_get(e, "when");
		if (!from || (strcmp(from, "__start__") && !find_node(a, from)))
			return tv_err_set(err, TV_EINVAL, "%s:%d: edges[%zu]: 'from' must name a node",
			                  a->path, tv_yaml_line(&a->doc, e), i);
		if ((rc = check_target(a, e, from, json_string_value(json_object_get(e, "to")), err)))
			return rc;
		if (json_object_get(e, "condition") || json_object_get(e, "parallel"))
			return tv_err_set(err, TV_EINVAL,
			                  "%s:%d: edges[%zu]: conditional/parallel edges are not "
			                  "supported; use 'when:' with an expression",
			                  a->path, tv_yaml_line(&a->doc, e), i);
		if (when && (!json_is_string(when) || tv_tpl_check(json_string_value(when), err)))
			return tv_err_set(err, TV_EINVAL, "%s:%d: edges[%zu]: bad 'when' expression",
			                  a->path, tv_yaml_line(&a->doc, e), i);
	}
	return 0;
}

static int load_checked(tv_agent *a, tv_err *err)
{
	json_t *root = a->doc.root, *settings;
	size_t i;
	json_t *n;
	int rc;
	if (!json_is_object(root))
		return tv_err_set(err, TV_EINVAL, "%s: an agent file is a mapping at top level",
		                  a->path);
	a->nodes = json_object_get(root, "nodes");
	a->edges = json_object_get(root, "edges");
	a->variables = json_object_get(root, "variables");
	if (!json_is_array(a->nodes) || json_array_size(a->nodes) == 0)
		return tv_err_set(err, TV_EINVAL, "%s: 'nodes' must be a non-empty list", a->path);
	/* settings.rag is read at the top level (the seed) or, as TEA's Python
	 * does, under variables.settings */
	settings = json_object_get(root, "settings");
	if (!json_object_get(settings, "rag"))
		settings = json_object_get(a->variables, "settings");
	a->settings = json_object_get(settings, "rag");
	if (a->settings && !json_is_object(a->settings))
		return tv_err_set(err, TV_EINVAL, "%s:%d: settings.rag must be a mapping", a->path,
		                  tv_yaml_line(&a->doc, a->settings));
	json_array_foreach(a->nodes, i, n)
		if ((rc = check_node(a, n, i, err)))
			return rc;
	json_array_foreach(a->nodes, i, n)
		if ((rc = check_goto(a, n, json_string_value(json_object_get(n, "name")), err)))
			return rc;
	return check_edges(a, err);
}

int tv_agent_load(tv_agent **out, const char *path, tv_err *err)
{
	tv_agent *a = calloc(1, sizeof *a);
	int rc;
	*out = NULL;
	if (!a || !(a->path = tv_strdup(path))) {
		free(a);
		return TV_ENOMEM_SET(err, "agent");
	}
	if ((rc = tv_yaml_load_file(&a->doc, path, err)) || (rc = load_checked(a, err))) {
		tv_agent_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void tv_agent_free(tv_agent *a)
{
	if (!a)
		return;
	tv_yaml_doc_free(&a->doc);
	free(a->path);
	free(a);
}

/* ---- running -------------------------------------------------------- */

static int write_output(json_t *state, const json_t *node, json_t *result, json_t *ctx,
                        tv_err *err)
{
	const json_t *out = json_object_get(node, "output");
	const char *key;
	json_t *tpl;
	int rc;
	if (json_is_string(out))
		return json_object_set(state, json_string_value(out), result);
	if (json_is_object(out)) {
		json_object_set(ctx, "result", result);
		json_object_foreach((json_t *)out, key, tpl) {
			json_t *v;
			if ((rc = tv_tpl_render(&v, tpl, ctx, err)))
				return rc;
			json_object_set_new(state, key, v);
		}
		json_object_del(ctx, "result");
		return 0;
	}
	if (json_is_object(result))
		json_object_update(state, result);
	return 0;
}

/* The node after `node` per goto, edges, or file order; NULL = end. */
static int next_node(tv_agent *a, const json_t *node, size_t idx, json_t *ctx,
                     const json_t **next, tv_err *err)
{
	const char *name = node ? json_string_value(json_object_get(node, "name")) : "__start__";
	const json_t *g = node ? json_object_get(node, "goto") : NULL, *c;
	const char *to = NULL;
	size_t i;
	int rc;
	*next = NULL;
	if (json_is_string(g)) {
		to = json_string_value(g);
	} else if (json_is_array(g)) {
		json_array_foreach(g, i, c) {
			const json_t *cond = json_object_get(c, "if");
			json_t *v = NULL;
			bool t = true;
			if (cond) {
				if ((rc = tv_tpl_eval(&v, json_string_value(cond), ctx, err)))
					return rc;
				t = tv_tpl_truthy(v);
				json_decref(v);
			}
			if (t) {
				to = json_string_value(json_object_get(c, "to"));
				break;
			}
		}
	}
	if (!to && a->edges) {
		json_array_foreach(a->edges, i, c) {
			const json_t *when = json_object_get(c, "when");
			json_t *v = NULL;
			bool t = true;
			if (strcmp(json_string_value(json_object_get(c, "from")), name))
				continue;
			if (when) {
				if ((rc = tv_tpl_eval(&v, json_string_value(when), ctx, err)))
					return rc;
				t = tv_tpl_truthy(v);
				json_decref(v);
			}
			if (t) {
				to = json_string_value(json_object_get(c, "to"));
				break;
			}
		}
		if (!to)
			return 0; /* no outgoing edge: end */
	}
	if (to) {
		*next = strcmp(to, "__end__") ? find_node(a, to) : NULL;
		return 0;
	}
	*next = node ? json_array_get(a->nodes, idx + 1) : json_array_get(a->nodes, 0);
	return 0;
}

static size_t node_index(const tv_agent *a, const json_t *node)
{
	size_t i;
	json_t *n;
	json_array_foreach(a->nodes, i, n)
		if (n == node)
			return i;
	return 0;
}

static int run_node(tv_agent *a, tv_rag **rag, const json_t *node, json_t *state, json_t *ctx,
                    tv_err *err)
{
	const char *name = json_string_value(json_object_get(node, "name"));
	const json_t *uses = json_object_get(node, "uses");
	json_t *params = NULL, *result = NULL;
	int rc;
	if (!uses)
		uses = json_object_get(node, "action");
	if (!*rag && (rc = tv_rag_open(rag, a->settings, err)))
		return tv_err_prefix(err, rc, "%s: settings.rag", a->path);
	if (!json_object_get(node, "with"))
		params = json_object();
	else if ((rc = tv_tpl_render(&params, json_object_get(node, "with"), ctx, err)))
		return node_err(a, node, err, "rendering 'with'", name, err ? err->msg : NULL);
	tv_rag_call(*rag, json_string_value(uses), params, &result);
	/* an action's failure is data ({success: false, error}); the agent goes on */
	rc = write_output(state, node, result, ctx, err);
	json_decref(params);
	json_decref(result);
	return rc;
}

int tv_agent_run(tv_agent *a, const json_t *input, json_t **final_state, tv_err *err)
{
	json_t *state = json_object(), *ctx = json_object();
	const json_t *init = json_object_get(a->doc.root, "initial_state"), *node = NULL;
	tv_rag *rag = NULL;
	size_t steps = 0;
	int rc = 0;
	*final_state = NULL;
	if (json_is_object(init))
		json_object_update(state, (json_t *)init);
	if (json_is_object(input))
		json_object_update(state, (json_t *)input);
	json_object_set(ctx, "state", state);
	json_object_set_new(ctx, "variables",
	                    a->variables ? json_incref(a->variables) : json_object());
	if ((rc = next_node(a, NULL, 0, ctx, &node, err)))
		goto done;
	while (node) {
		if (++steps > MAX_STEPS) {
			rc = tv_err_set(err, TV_EINVAL, "%s: more than %d steps: a goto/edge loop?",
			                a->path, MAX_STEPS);
			goto done;
		}
		if ((rc = run_node(a, &rag, node, state, ctx, err)))
			goto done;
		if ((rc = next_node(a, node, node_index(a, node), ctx, &node, err)))
			goto done;
	}
	*final_state = json_incref(state);
done:
	tv_rag_close(rag);
	json_decref(ctx);
	json_decref(state);
	return rc;
}

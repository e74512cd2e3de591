/* YAML -> JSON through libyaml's document loader; see yaml.h. */
#include "agent/yaml.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/common.h"

#define MAX_DEPTH 256

typedef struct conv {
	yaml_document_t *ydoc;
	tv_yaml_doc *doc;
	const char *name;
	size_t nodes;
	tv_err *err;
} conv;

static int note_line(tv_yaml_doc *doc, const json_t *node, int line)
{
	if (doc->nlines == doc->caplines) {
		size_t cap = doc->caplines ? doc->caplines * 2 : 64;
		void *p = tv_reallocarray(doc->lines, cap, sizeof *doc->lines);
		if (!p)
			return TV_ENOMEM;
		doc->lines = p;
		doc->caplines = cap;
	}
	doc->lines[doc->nlines].node = node;
	doc->lines[doc->nlines].line = line;
	doc->nlines++;
	return 0;
}

static bool is_plain(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* Resolves a plain scalar per the YAML 1.2 core schema. */
static json_t *plain_scalar(const char *s, size_t len)
{
	char *end;
	if (len == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	    !strcmp(s, "NULL"))
		return json_null();
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_false();
	if ((s[0] >= '0' && s[0] <= '9') || ((s[0] == '-' || s[0] == '+') && len > 1)) {
		long long v;
		double d;
		errno = 0;
		v = strtoll(s, &end, 10);
		if (*end == '\0' && errno == 0)
			return json_integer(v);
		errno = 0;
		d = strtod(s, &end);
		if (*end == '\0' && errno == 0 && isfinite(d) && strpbrk(s, "xXnN") == NULL)
			return json_real(d);
	}
	return json_stringn(s, len);
}

static json_t *convert(conv *c, yaml_node_t *n, int depth);

static json_t *convert_mapping(conv *c, yaml_node_t *n, int depth)
{
	json_t *obj = json_object();
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; obj && p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(c->ydoc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->ydoc, p->value);
		json_t *jv;
		if (!k || k->type != YAML_SCALAR_NODE) {
			tv_err_set(c->err, TV_EINVAL, "%s:%zu: mapping keys must be scalars", c->name,
			           (k ? k->start_mark.line : n->start_mark.line) + 1);
			goto fail;
		}
		if (json_object_get(obj, (const char *)k->data.scalar.value)) {
			tv_err_set(c->err, TV_EINVAL, "%s:%zu: duplicate key '%s'", c->name,
			           k->start_mark.line + 1, (const char *)k->data.scalar.value);
			goto fail;
		}
		if (!(jv = convert(c, v, depth + 1)))
			goto fail;
		if (json_object_setn_new(obj, (const char *)k->data.scalar.value,
		                         k->data.scalar.length, jv)) {
			tv_err_set(c->err, TV_EINVAL, "%s:%zu: key is not valid UTF-8", c->name,
			           k->start_mark.line + 1);
			goto fail;
		}
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

static json_t *convert(conv *c, yaml_node_t *n, int depth)
{
	json_t *j = NULL;
	if (!n) {
		tv_err_set(c->err, TV_EINVAL, "%s: malformed document", c->name);
		return NULL;
	}
	if (depth > MAX_DEPTH || ++c->nodes > TV_YAML_MAX_NODES) {
		tv_err_set(c->err, TV_EINVAL, "%s:%zu: document nests or expands too far (aliases?)",
		           c->name, n->start_mark.line + 1);
		return NULL;
	}
	switch (n->type) {
	case YAML_SCALAR_NODE: {
		const char *s = (const char *)n->data.scalar.value;
		size_t len = n->data.scalar.length;
		if (!tv_utf8_valid(s, len, NULL)) {
			tv_err_set(c->err, TV_EINVAL, "%s:%zu: invalid UTF-8", c->name,
			           n->start_mark.line + 1);
			return NULL;
		}
		j = is_plain(n) ? plain_scalar(s, len) : json_stringn(s, len);
		break;
	}
	case YAML_SEQUENCE_NODE:
		j = json_array();
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     j && it < n->data.sequence.items.top; it++) {
			json_t *jv = convert(c, yaml_document_get_node(c->ydoc, *it), depth + 1);
			if (!jv) {
				json_decref(j);
				return NULL;
			}
			json_array_append_new(j, jv);
		}
		break;
	case YAML_MAPPING_NODE:
		j = convert_mapping(c, n, depth);
		if (!j)
			return NULL;
		break;
	default:
		tv_err_set(c->err, TV_EINVAL, "%s:%zu: empty node", c->name, n->start_mark.line + 1);
		return NULL;
	}
	if (!j || note_line(c->doc, j, (int)n->start_mark.line + 1)) {
		json_decref(j);
		TV_ENOMEM_SET(c->err, "YAML document");
		return NULL;
	}
	return j;
}

int tv_yaml_parse(tv_yaml_doc *doc, const char *text, size_t len, const char *name,
                  tv_err *err)
{
	yaml_parser_t parser;
	yaml_document_t ydoc;
	conv c = {&ydoc, doc, name, 0, err};
	yaml_node_t *root;
	int rc = 0;
	memset(doc, 0, sizeof *doc);
	if (!yaml_parser_initialize(&parser))
		return TV_ENOMEM_SET(err, "YAML parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &ydoc)) {
		rc = tv_err_set(err, TV_EINVAL, "%s:%zu:%zu: %s%s%s", name,
		                parser.problem_mark.line + 1, parser.problem_mark.column + 1,
		                parser.problem ? parser.problem : "syntax error",
		                parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return rc;
	}
	root = yaml_document_get_root_node(&ydoc);
	if (!root) {
		rc = tv_err_set(err, TV_EINVAL, "%s: empty document", name);
	} else if (!(doc->root = convert(&c, root, 0))) {
		rc = err && err->code ? err->code : TV_EINVAL;
		tv_yaml_doc_free(doc);
	}
	yaml_document_delete(&ydoc);
	yaml_parser_delete(&parser);
	return rc;
}

int tv_yaml_load_file(tv_yaml_doc *doc, const char *path, tv_err *err)
{
	FILE *f = fopen(path, "rb");
	tv_buf b = {0};
	char chunk[65536];
	size_t n;
	int rc;
	memset(doc, 0, sizeof *doc);
	if (!f)
		return tv_err_set(err, errno == ENOENT ? TV_ENOTFOUND : TV_EIO, "%s: %s", path,
		                  strerror(errno));
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (tv_buf_append(&b, chunk, n)) {
			fclose(f);
			tv_buf_free(&b);
			return TV_ENOMEM_SET(err, path);
		}
	if (ferror(f)) {
		fclose(f);
		tv_buf_free(&b);
		return tv_err_set(err, TV_EIO, "%s: read error", path);
	}
	fclose(f);
	rc = tv_yaml_parse(doc, b.data ? b.data : "", b.len, path, err);
	tv_buf_free(&b);
	return rc;
}

void tv_yaml_doc_free(tv_yaml_doc *doc)
{
	json_decref(doc->root);
	free(doc->lines);
	memset(doc, 0, sizeof *doc);
}

int tv_yaml_line(const tv_yaml_doc *doc, const json_t *node)
{
	for (size_t i = 0; i < doc->nlines; i++)
		if (doc->lines[i].node == node)
			return doc->lines[i].line;
	return 0;
}

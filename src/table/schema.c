/* Lance schemas: the flattened lance.file.Field list of a table or file. */
#include <stdlib.h>
#include <string.h>

#include "table/pb.h"
#include "util/common.h"

void tv_lance_schema_free(tv_lance_schema *s)
{
	for (size_t i = 0; s && i < s->n; i++) {
		free(s->fields[i].name);
		free(s->fields[i].logical_type);
	}
	if (s) {
		free(s->fields);
		s->fields = NULL;
		s->n = 0;
	}
}

int tv_lance_schema_copy(tv_lance_schema *dst, const tv_lance_schema *src)
{
	dst->n = 0;
	dst->fields = calloc(src->n ? src->n : 1, sizeof *dst->fields);
	if (!dst->fields)
		return TV_ENOMEM;
	for (size_t i = 0; i < src->n; i++) {
		dst->fields[i] = src->fields[i];
		dst->fields[i].name = tv_strdup(src->fields[i].name);
		dst->fields[i].logical_type = tv_strdup(src->fields[i].logical_type);
		dst->n++;
		if (!dst->fields[i].name || !dst->fields[i].logical_type) {
			tv_lance_schema_free(dst);
			return TV_ENOMEM;
		}
	}
	return 0;
}

int tv_lance_schema_find(const tv_lance_schema *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->fields[i].parent_id == -1 && !strcmp(s->fields[i].name, name))
			return (int)i;
	return -1;
}

uint32_t tv_lance_fsl_float_dim(const char *lt)
{
	static const char pfx[] = "fixed_size_list:float:";
	char *end;
	unsigned long d;
	if (!lt || strncmp(lt, pfx, sizeof pfx - 1))
		return 0;
	d = strtoul(lt + sizeof pfx - 1, &end, 10);
	return *end || d == 0 || d > 65536 ? 0 : (uint32_t)d;
}

int tv_lance__schema_from_pb(tv_lance_schema *s, Lance__File__Field *const *f, size_t n)
{
	s->n = 0;
	s->fields = calloc(n ? n : 1, sizeof *s->fields);
	if (!s->fields)
		return TV_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		tv_lance_field *d = &s->fields[i];
		d->id = f[i]->id;
		d->parent_id = f[i]->parent_id;
		d->nullable = f[i]->nullable;
		d->encoding = f[i]->encoding;
		d->name = tv_strdup(f[i]->name ? f[i]->name : "");
		d->logical_type = tv_strdup(f[i]->logical_type ? f[i]->logical_type : "");
		s->n++;
		if (!d->name || !d->logical_type) {
			tv_lance_schema_free(s);
			return TV_ENOMEM;
		}
	}
	return 0;
}

/* The filter AST, shared by the parser, the dict compiler, the evaluator
 * and the printer. */
#ifndef TV_QUERY_FILTER_INT_H
#define TV_QUERY_FILTER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "query/filter.h"

/* Values: literals in the AST, and what a row yields at evaluation. */
typedef enum tv_vtype {
	TV_V_NULL = 0,
	TV_V_BOOL,
	TV_V_INT,
	TV_V_REAL,
	TV_V_STR,
	TV_V_ARRAY,  /* a JSON array (raw text span or json_t) */
	TV_V_OBJECT  /* a JSON object: compares as unknown */
} tv_vtype;

typedef struct tv_val {
	tv_vtype type;
	bool b;
	int64_t i;
	double r;
	const char *s; /* STR: bytes (not NUL-terminated); ARRAY: raw JSON text */
	size_t len;
	const json_t *arr; /* ARRAY from a parsed object */
} tv_val;

/* Operands: a column, a metadata key path, or a literal. */
typedef enum tv_opnd_kind { TV_O_LIT, TV_O_ID, TV_O_TEXT, TV_O_PATH, TV_O_META } tv_opnd_kind;

typedef struct tv_opnd {
	tv_opnd_kind kind;
	tv_val lit;     /* TV_O_LIT (strings owned via lit.s) */
	char **keys;    /* TV_O_META: key path, owned */
	size_t nkeys;
} tv_opnd;

typedef enum tv_node_kind {
	TV_N_AND,
	TV_N_OR,
	TV_N_NOT,
	TV_N_CMP,     /* a op b */
	TV_N_IN,      /* a [NOT] IN (list) */
	TV_N_LIKE,    /* a [NOT] LIKE pattern [ESCAPE c] */
	TV_N_ISNULL,  /* a IS [NOT] NULL */
	TV_N_BETWEEN, /* a [NOT] BETWEEN lo AND hi */
	TV_N_TRUTH    /* a bare operand: TRUE when it is boolean true */
} tv_node_kind;

typedef enum tv_cmp { TV_EQ, TV_NE, TV_LT, TV_LE, TV_GT, TV_GE } tv_cmp;

typedef struct tv_node tv_node;
struct tv_node {
	tv_node_kind kind;
	bool negated;       /* NOT IN, NOT LIKE, IS NOT NULL, NOT BETWEEN */
	tv_cmp op;          /* TV_N_CMP */
	tv_node *l, *r;     /* AND / OR / NOT (l only) */
	tv_opnd a, b, c;    /* operands: CMP a b; BETWEEN a b c; LIKE a b(pattern) */
	tv_opnd *list;      /* IN */
	size_t nlist;
	uint32_t escape;    /* LIKE: an ASCII escape character, or one of: */
};
#define TV_LIKE_ESC_DEFAULT 0u          /* no ESCAPE clause: \% and \_ only */
#define TV_LIKE_ESC_NONE 0xFFFFFFFFu    /* ESCAPE '': none */

struct tv_filter {
	tv_node *root;
};

tv_node *tv_filter__node(tv_node_kind kind);
void tv_filter__node_free(tv_node *n);
void tv_filter__opnd_free(tv_opnd *o);
/* Drops repeated string literals from an IN list (x IN ('a', 'a') is
 * x IN ('a')), so that the rows an equality index lists for its values are
 * each listed once. */
void tv_filter__dedupe_in(tv_node *n);

#endif

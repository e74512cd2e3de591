/*
 * YAML agents (TEA subset): load with full validation, run to a final
 * state. See docs/YAML.md for the supported language.
 */
#ifndef TV_AGENT_H
#define TV_AGENT_H

#include <jansson.h>

#include "util/err.h"

typedef struct tv_agent tv_agent;

/* Loads and validates an agent file; errors name the file, line and node. */
int tv_agent_load(tv_agent **out, const char *path, tv_err *err);
void tv_agent_free(tv_agent *a);
/* Runs the agent from initial_state updated with input (an object or
 * NULL); *final_state is a new reference. */
int tv_agent_run(tv_agent *a, const json_t *input, json_t **final_state, tv_err *err);

#endif

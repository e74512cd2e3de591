/*
 * A fast check that a metadata string is a JSON object, for the store's
 * validation of every row it writes (parsing each into jansson objects only
 * to throw them away cost as much as the rest of a commit).
 */
#ifndef TV_UTIL_JSON_CHECK_H
#define TV_UTIL_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..n) is certainly a JSON object that jansson's
 * json_loads(s, JSON_REJECT_DUPLICATES) accepts: RFC 8259 syntax, valid
 * UTF-8, no key twice in an object. False means "not certain", never
 * "invalid": input outside the plain subset checked here (a key with an
 * escape, \u0000 or a surrogate escape, a number whose integer part does
 * not fit a long long or whose exponent has over 2 digits, nesting deeper
 * than 32, an object of over 32 keys, or anything malformed) is for
 * jansson to judge. */
bool tv_json_object_certain(const char *s, size_t n);

#endif

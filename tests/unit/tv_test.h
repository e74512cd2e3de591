/*
 * A minimal unit-test harness: each test file is one program whose main()
 * calls TV_RUN(test_fn) for each test. A failed check prints file:line and
 * the expression and marks the test failed; the program's exit status is
 * the number of failed tests (capped), and the last line is
 * "N passed, M failed".
 */
#ifndef TV_TEST_H
#define TV_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int tv_test_failed_checks;
static int tv_test_passed, tv_test_failed;

#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			tv_test_failed_checks++;                                       \
		}                                                                      \
	} while (0)

#define CHECK_MSG(cond, ...)                                                           \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                  \
			fputc('\n', stderr);                                           \
			tv_test_failed_checks++;                                       \
		}                                                                      \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                             \
	do {                                                                           \
		long long _a = (long long)(a), _b = (long long)(b);                    \
		if (_a != _b) {                                                        \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", \
			        __FILE__, __LINE__, #a, #b, _a, _b);                   \
			tv_test_failed_checks++;                                       \
		}                                                                      \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                             \
	do {                                                                           \
		const char *_a = (a), *_b = (b);                                       \
		if (!_a || !_b || strcmp(_a, _b)) {                                    \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n", \
			        __FILE__, __LINE__, #a, #b, _a ? _a : "(null)",        \
			        _b ? _b : "(null)");                                   \
			tv_test_failed_checks++;                                       \
		}                                                                      \
	} while (0)

#define CHECK_NEAR(a, b, tol)                                                          \
	do {                                                                           \
		double _a = (double)(a), _b = (double)(b);                             \
		if (!(fabs(_a - _b) <= (tol))) {                                       \
			fprintf(stderr, "%s:%d: CHECK failed: %s ~= %s (%.9g vs %.9g)\n", \
			        __FILE__, __LINE__, #a, #b, _a, _b);                   \
			tv_test_failed_checks++;                                       \
		}                                                                      \
	} while (0)

/* A check whose failure makes continuing pointless (e.g. a NULL handle). */
#define REQUIRE(cond)                                                                  \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
			tv_test_failed_checks++;                                       \
			return;                                                        \
		}                                                                      \
	} while (0)

#define TV_RUN(fn)                                                                     \
	do {                                                                           \
		int _before = tv_test_failed_checks;                                   \
		fn();                                                                  \
		if (tv_test_failed_checks == _before) {                                \
			tv_test_passed++;                                              \
			printf("ok   %s\n", #fn);                                      \
		} else {                                                               \
			tv_test_failed++;                                              \
			printf("FAIL %s\n", #fn);                                      \
		}                                                                      \
		fflush(stdout);                                                        \
	} while (0)

#define TV_TEST_END()                                                                  \
	do {                                                                           \
		printf("%d passed, %d failed\n", tv_test_passed, tv_test_failed);     \
		return tv_test_failed > 100 ? 100 : tv_test_failed;                    \
	} while (0)

/* A fresh, empty temporary directory under $TV_TEST_TMP (or /tmp); the
 * returned string is static until the next call. */
static inline const char *tv_test_tmpdir(const char *tag)
{
	static char buf[4096];
	const char *base = getenv("TV_TEST_TMP");
	static unsigned counter;
	if (!base || !*base)
		base = "/tmp";
	mkdir(base, 0777);
	snprintf(buf, sizeof buf, "%s/%s-%ld-%u", base, tag, (long)getpid(), counter++);
	{
		char cmd[4200];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
		if (system(cmd) != 0) { /* best effort */ }
	}
	mkdir(buf, 0777);
	return buf;
}

#endif

# cmake --install gives a usable library: header, static and shared
# library and a relocatable pkg-config file that a consumer compiles with.
. "$(dirname "$0")/lib.bash"
cmake --install "${TV_BUILD_DIR:?}" --prefix "$TMP/prefix" >/dev/null
export PKG_CONFIG_PATH=$TMP/prefix/lib/pkgconfig
cat >"$TMP/use.c" <<'C'
#include <stdio.h>
#include <teavec.h>
int main(void)
{
	tv_store *s;
	float v[2] = {1, 0};
	tv_record r = {"a", "t", NULL, NULL, v};
	size_t n = 0;
	if (tv_store_open(&s, "memory", NULL) || tv_store_add(s, NULL, &r, 1, 2, NULL) ||
	    tv_store_count(s, NULL, &n))
		return 1;
	printf("%s %zu\n", tv_libversion(), n);
	tv_store_close(s);
	return TV_VERSION_NUMBER == tv_libversion_number() ? 0 : 1;
}
C
check "installs the header, both libraries and the CLI" test -f "$TMP/prefix/include/teavec.h" -a \
	-f "$TMP/prefix/lib/libteavec.a" -a -f "$TMP/prefix/lib/libteavec.so" -a -x "$TMP/prefix/bin/teavec"
# the consumer is built by the same compiler, with the same sanitizers, as the library
cache=${TV_BUILD_DIR}/CMakeCache.txt
CC=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$cache")
SAN=""
grep -q '^TV_SANITIZE:BOOL=ON' "$cache" && SAN="-fsanitize=address,undefined"
if ${CC:-cc} $SAN "$TMP/use.c" $(pkg-config --cflags --libs teavec) -Wl,-rpath,"$TMP/prefix/lib" -o "$TMP/use"; then
	check "a consumer built with pkg-config runs against the shared library" \
		test "$("$TMP/use")" = "$("$TEAVEC" version | awk '{print $2}') 1"
else
	fail "a consumer compiles with pkg-config --cflags --libs teavec"
fi
finish

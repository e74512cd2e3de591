/* The object storage helpers that need no network: URIs, percent-encoding,
 * the XML picked out of listings and errors, HTTP dates, Content-Range,
 * and Azure's Shared Key string-to-sign and signature. Expected values were
 * derived by hand from the S3 and Azure documentation (signatures with
 * Python's hmac module), not by running this code. */
#include "config.h"
#include "tv_test.h"

#if TV_WITH_HTTP
#include "io/http.h"

static void test_uris_split_into_bucket_and_prefix(void)
{
	char *b, *p;
	tv_err err = {0};
	CHECK_EQ_INT(tv_io__split_uri("s3://bucket/a/b/", "s3://", &b, &p, &err), 0);
	CHECK_EQ_STR(b, "bucket");
	CHECK_EQ_STR(p, "a/b/");
	free(b);
	free(p);
	CHECK_EQ_INT(tv_io__split_uri("az://my.container", "az://", &b, &p, &err), 0);
	CHECK_EQ_STR(b, "my.container");
	CHECK_EQ_STR(p, "");
	free(b);
	free(p);
	CHECK_EQ_INT(tv_io__split_uri("s3://bucket//", "s3://", &b, &p, &err), 0);
	CHECK_EQ_STR(p, "");
	free(b);
	free(p);
	CHECK_EQ_INT(tv_io__split_uri("s3://Bucket/x", "s3://", &b, &p, &err), TV_EINVAL);
	CHECK_MSG(strstr(err.msg, "s3://Bucket/x") && strstr(err.msg, "'B'"), "%s", err.msg);
	CHECK_EQ_INT(tv_io__split_uri("s3://ab/x", "s3://", &b, &p, &err), TV_EINVAL);
	CHECK_EQ_INT(tv_io__split_uri("s3://bucket/a//b", "s3://", &b, &p, &err), TV_EINVAL);
	CHECK_EQ_INT(tv_io__split_uri("s3://bucket/a/../b", "s3://", &b, &p, &err), TV_EINVAL);
	CHECK_EQ_INT(tv_io__split_uri("s3://bucket/./b", "s3://", &b, &p, &err), TV_EINVAL);
	CHECK_EQ_INT(tv_io__split_uri("gs://bucket/x", "s3://", &b, &p, &err), TV_EINVAL);
	CHECK(b == NULL && p == NULL);
}

static void test_percent_encoding_is_canonical(void)
{
	tv_buf b = {0};
	CHECK_EQ_INT(tv_http_urlencode(&b, "a b/c~d+\xc3\xa9_-.", 1), 0);
	CHECK_EQ_STR(b.data, "a%20b/c~d%2B%C3%A9_-.");
	b.len = 0;
	CHECK_EQ_INT(tv_http_urlencode(&b, "p1/x=y&z", 0), 0);
	CHECK_EQ_STR(b.data, "p1%2Fx%3Dy%26z");
	tv_buf_free(&b);
}

/* A ListObjectsV2 page as S3 documents it, with an escaped key. */
static const char list_page[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	"<Name>b</Name><Prefix>t/</Prefix><KeyCount>3</KeyCount><MaxKeys>2</MaxKeys>"
	"<Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>"
	"<Contents><Key>t/a&amp;b.txt</Key><LastModified>2024-01-02T03:04:05.123Z</LastModified>"
	"<ETag>&quot;0f&quot;</ETag><Size>42</Size></Contents>"
	"<Contents><Key>t/c&#x20;&#233;</Key><Size>7</Size></Contents>"
	"<CommonPrefixes><Prefix>t/d/</Prefix></CommonPrefixes>"
	"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
	"</ListBucketResult>";

static void test_xml_elements_of_a_listing(void)
{
	const char *v;
	size_t vl, end, off = 0, n = strlen(list_page);
	char *s;
	int k = 0;
	const char *keys[] = {"t/a&b.txt", "t/c \xc3\xa9"};
	while (tv_xml_find(list_page + off, n - off, "Contents", &v, &vl, &end)) {
		REQUIRE(k < 2);
		s = tv_xml_get(v, vl, "Key");
		CHECK_EQ_STR(s, keys[k]);
		free(s);
		off += end;
		k++;
	}
	CHECK_EQ_INT(k, 2);
	s = tv_xml_get(list_page, n, "Key"); /* not <KeyCount> */
	CHECK_EQ_STR(s, "t/a&b.txt");
	free(s);
	s = tv_xml_get(list_page, n, "NextContinuationToken");
	CHECK_EQ_STR(s, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	free(s);
	s = tv_xml_get(list_page, n, "IsTruncated");
	CHECK_EQ_STR(s, "true");
	free(s);
	s = tv_xml_get(list_page, n, "Prefix"); /* the first: the top-level one */
	CHECK_EQ_STR(s, "t/");
	free(s);
	/* the element cut off by the end of the buffer is not there */
	CHECK(tv_xml_get(list_page, (size_t)(strstr(list_page, "</NextCont") - list_page),
	                 "NextContinuationToken") == NULL);
	s = tv_xml_get("<EnumerationResults a=\"1\"><NextMarker/></EnumerationResults>", 60,
	               "NextMarker");
	CHECK_EQ_STR(s, "");
	free(s);
	s = tv_xml_get("<Blob><Name Encoded=\"false\">x</Name></Blob>", 43, "Name");
	CHECK_EQ_STR(s, "x");
	free(s);
}

static void test_xml_text_refuses_malformed_references(void)
{
	CHECK(tv_xml_text("a&#0;b", 6) == NULL);
	CHECK(tv_xml_text("&#x110000;", 10) == NULL);
	CHECK(tv_xml_text("&#xD800;", 8) == NULL);
	CHECK(tv_xml_text("&bogus;", 7) == NULL);
	CHECK(tv_xml_text("&amp", 4) == NULL);
	CHECK(tv_xml_text("&#x;", 4) == NULL);
	CHECK(tv_xml_text("a\0b", 3) == NULL);
	char *s = tv_xml_text("&lt;&gt;&apos;&#65;&#x1F600;", 28);
	CHECK_EQ_STR(s, "<>'A\xf0\x9f\x98\x80");
	free(s);
}

static void test_http_dates(void)
{
	int64_t ns;
	char buf[40];
	CHECK_EQ_INT(tv_http_parse_time("2024-01-02T03:04:05.123Z", 24, &ns), 0);
	CHECK_EQ_INT(ns, 1704164645123000000LL);
	CHECK_EQ_INT(tv_http_parse_time("2024-01-02T03:04:05Z", 20, &ns), 0);
	CHECK_EQ_INT(ns, 1704164645000000000LL);
	CHECK_EQ_INT(tv_http_parse_time("Tue, 02 Jan 2024 03:04:05 GMT", 29, &ns), 0);
	CHECK_EQ_INT(ns, 1704164645000000000LL);
	CHECK_EQ_INT(tv_http_parse_time("2024-13-02T03:04:05Z", 20, &ns), -1);
	CHECK_EQ_INT(tv_http_parse_time("2024-01-02T03:04:05", 19, &ns), -1);
	CHECK_EQ_INT(tv_http_parse_time("Tue, 02 Jab 2024 03:04:05 GMT", 29, &ns), -1);
	CHECK_EQ_INT(tv_http_parse_time("Tue, 02 Jan 2024 03:04:05 UTC", 29, &ns), -1);
	tv_http_format_time(1704164645, buf, sizeof buf);
	CHECK_EQ_STR(buf, "Tue, 02 Jan 2024 03:04:05 GMT");
	tv_http_format_time(951782400, buf, sizeof buf);
	CHECK_EQ_STR(buf, "Tue, 29 Feb 2000 00:00:00 GMT");
	tv_http_format_time(0, buf, sizeof buf);
	CHECK_EQ_STR(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
}

static void test_content_range_and_numbers(void)
{
	uint64_t s, e, t;
	CHECK_EQ_INT(tv_http_parse_content_range("bytes 0-9/100", &s, &e, &t), 0);
	CHECK(s == 0 && e == 9 && t == 100);
	CHECK_EQ_INT(tv_http_parse_content_range("bytes 9-0/100", &s, &e, &t), -1);
	CHECK_EQ_INT(tv_http_parse_content_range("bytes 0-100/100", &s, &e, &t), -1);
	CHECK_EQ_INT(tv_http_parse_content_range("bytes 0-9/*", &s, &e, &t), -1);
	CHECK_EQ_INT(tv_http_parse_content_range("bytes -1-9/100", &s, &e, &t), -1);
	CHECK_EQ_INT(tv_http_parse_u64("18446744073709551615", 20, &s), 0);
	CHECK(s == UINT64_MAX);
	CHECK_EQ_INT(tv_http_parse_u64("18446744073709551616", 20, &s), -1);
	CHECK_EQ_INT(tv_http_parse_u64("", 0, &s), -1);
	CHECK_EQ_INT(tv_http_parse_u64("12a", 3, &s), -1);
}

static const char devstore_key[] =
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

static void test_azure_put_blob_string_to_sign(void)
{
	const char *xms[] = {"x-ms-version:2021-08-06", "x-ms-blob-type:BlockBlob",
	                     "x-ms-date:Tue, 02 Jan 2024 03:04:05 GMT", NULL};
	unsigned char key[128];
	size_t klen;
	char sig[64];
	char *sts = tv_azure__string_to_sign("PUT", 11, "application/octet-stream", "*", xms,
	                                     "devstoreaccount1", "/devstoreaccount1/tvcont/p/x.bin",
	                                     NULL);
	/* VERB, Content-Encoding, -Language, -Length, -MD5, -Type, Date,
	 * If-Modified-Since, If-Match, If-None-Match, If-Unmodified-Since,
	 * Range, then the sorted x-ms- headers and the resource */
	CHECK_EQ_STR(sts, "PUT\n\n\n11\n\napplication/octet-stream\n\n\n\n*\n\n\n"
	                  "x-ms-blob-type:BlockBlob\nx-ms-date:Tue, 02 Jan 2024 03:04:05 GMT\n"
	                  "x-ms-version:2021-08-06\n"
	                  "/devstoreaccount1/devstoreaccount1/tvcont/p/x.bin");
	REQUIRE(tv_azure__base64_decode(devstore_key, key, sizeof key, &klen) == 0);
	CHECK_EQ_INT(klen, 64);
	REQUIRE(sts && tv_azure__sign(key, klen, sts, sig) == 0);
	CHECK_EQ_STR(sig, "v/0fNh8J5JqyEtBHvuATNmuNZaEM+k33LBp/a0oKgYE=");
	free(sts);
}

static void test_azure_list_string_to_sign_sorts_query(void)
{
	const char *xms[] = {"x-ms-version:2021-08-06", "x-ms-date:D", NULL};
	const char *q[] = {"restype", "container", "prefix", "p/a b", "comp", "list",
	                   "delimiter", "/", NULL};
	char *sts = tv_azure__string_to_sign("GET", 0, NULL, NULL, xms, "acct", "/tvcont", q);
	CHECK_EQ_STR(sts, "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:D\nx-ms-version:2021-08-06\n"
	                  "/acct/tvcont\ncomp:list\ndelimiter:/\nprefix:p/a b\nrestype:container");
	free(sts);
}

static void test_base64_keys(void)
{
	unsigned char k[128];
	size_t n;
	CHECK_EQ_INT(tv_azure__base64_decode("aGVsbG8=", k, sizeof k, &n), 0);
	CHECK(n == 5 && !memcmp(k, "hello", 5));
	CHECK_EQ_INT(tv_azure__base64_decode("aGVsbA==", k, sizeof k, &n), 0);
	CHECK(n == 4 && !memcmp(k, "hell", 4));
	CHECK_EQ_INT(tv_azure__base64_decode("abc", k, sizeof k, &n), -1);
	CHECK_EQ_INT(tv_azure__base64_decode("a===", k, sizeof k, &n), -1);
	CHECK_EQ_INT(tv_azure__base64_decode("ab=c", k, sizeof k, &n), -1);
	CHECK_EQ_INT(tv_azure__base64_decode("not base64!!", k, sizeof k, &n), -1);
	CHECK_EQ_INT(tv_azure__base64_decode("", k, sizeof k, &n), -1);
}

static void test_listing_entries_are_deduplicated(void)
{
	tv_io_entry e[4] = {{strdup("b"), 0, 0, 1, 0, 0}, {strdup("a"), 1, 0, 0, 0, 0},
	                    {strdup("b"), 0, 0, 1, 0, 0}, {strdup("b"), 3, 0, 0, 0, 0}};
	size_t n = 4;
	tv_io__entries_unique(e, &n);
	REQUIRE(n == 3);
	CHECK(!strcmp(e[0].name, "a") && !strcmp(e[1].name, "b") && !e[1].is_dir &&
	      !strcmp(e[2].name, "b") && e[2].is_dir);
	for (size_t i = 0; i < n; i++)
		free(e[i].name);
}

static void test_remote_uris_need_credentials(void)
{
	tv_io *io = NULL;
	tv_err err = {0};
	unsetenv("AWS_ACCESS_KEY_ID");
	setenv("AWS_SECRET_ACCESS_KEY", "x", 1);
	CHECK_EQ_INT(tv_io_open(&io, "s3://bucket/p", &err), TV_EINVAL);
	CHECK_MSG(strstr(err.msg, "AWS_ACCESS_KEY_ID is not set") != NULL, "%s", err.msg);
	setenv("AWS_ACCESS_KEY_ID", "k", 1);
	setenv("AWS_ENDPOINT_URL", "ftp://x", 1);
	CHECK_EQ_INT(tv_io_open(&io, "s3://bucket/p", &err), TV_EINVAL);
	CHECK_MSG(strstr(err.msg, "AWS_ENDPOINT_URL") != NULL, "%s", err.msg);
	unsetenv("AWS_ENDPOINT_URL");
	REQUIRE(tv_io_open(&io, "s3://bucket/p", &err) == 0);
	CHECK_EQ_STR(io->root, "s3://bucket/p");
	tv_io_free(io);
	setenv("AZURE_STORAGE_ACCOUNT", "acct", 1);
	unsetenv("AZURE_STORAGE_KEY");
	unsetenv("AZURE_STORAGE_ACCOUNT_KEY");
	CHECK_EQ_INT(tv_io_open(&io, "az://cont/p", &err), TV_EINVAL);
	CHECK_MSG(strstr(err.msg, "AZURE_STORAGE_KEY is not set") != NULL, "%s", err.msg);
	setenv("AZURE_STORAGE_KEY", devstore_key, 1);
	REQUIRE(tv_io_open(&io, "az://cont/p", &err) == 0);
	tv_io_free(io);
	CHECK_EQ_INT(tv_io_open(&io, "gs://bucket/p", &err), TV_EUNSUPPORTED);
}

int main(void)
{
	TV_RUN(test_uris_split_into_bucket_and_prefix);
	TV_RUN(test_percent_encoding_is_canonical);
	TV_RUN(test_xml_elements_of_a_listing);
	TV_RUN(test_xml_text_refuses_malformed_references);
	TV_RUN(test_http_dates);
	TV_RUN(test_content_range_and_numbers);
	TV_RUN(test_azure_put_blob_string_to_sign);
	TV_RUN(test_azure_list_string_to_sign_sorts_query);
	TV_RUN(test_base64_keys);
	TV_RUN(test_listing_entries_are_deduplicated);
	TV_RUN(test_remote_uris_need_credentials);
	TV_TEST_END();
}
#else
int main(void)
{
	puts("built without TV_WITH_HTTP: nothing to test");
	return 0;
}
#endif

# teavec on object storage, against real emulators started here on
# 127.0.0.1: s3rver 4.0.4 (S3, SigV4 checked) and azurite 3.35 (Azure Blob,
# Shared Key checked). The same CLI session runs on each and must give
# what it gives on a local directory.
#
# About the S3 emulator (see objstore_s3rver.mjs): s3rver 4.0.4 ignores
# If-None-Match on PUT. The main S3 run uses a harness that adds S3's
# conditional PUT (412) in front of s3rver; a second, plain s3rver shows
# the emulator overwriting, and runs teavec with TV_S3_CONDITIONAL_PUT=0
# (HEAD then PUT, not atomic). The harness also fixes s3rver's listing of
# nested common prefixes, and runs node with the legacy OpenSSL provider
# because s3rver's continuation tokens use DES.
. "$(dirname "$0")/../e2e/lib.bash"
SRC=${TV_SOURCE_DIR:?}
TVTABLE=${TV_BUILD_DIR:?}/tvtable
BIN=$SRC/.deps/node/node_modules/.bin
if [ ! -x "$BIN/azurite-blob" ] || [ ! -d "$SRC/.deps/node/node_modules/@20minutes/s3rver" ]; then
	echo "the emulators are not installed: run scripts/setup.sh --npm" >&2
	exit 1
fi
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

# wait_port LOG PATTERN: the port an emulator printed once it listens.
wait_port() {
	local i
	for i in $(seq 1 150); do
		if grep -qE "$2" "$1" 2>/dev/null; then
			grep -oE "$2" "$1" | head -1 | grep -oE '[0-9]+$'
			return 0
		fi
		sleep 0.1
	done
	echo "emulator did not start:" >&2
	cat "$1" >&2
	return 1
}

start_s3rver() { # DIR LOG [--conditional] (in this shell, so that cleanup kills it)
	TV_SOURCE_DIR=$SRC node --openssl-legacy-provider "$SRC/tests/integration/objstore_s3rver.mjs" \
		"$1" tvbucket ${3:-} >"$2" 2>&1 &
	PIDS+=($!)
}

start_s3rver "$TMP/s3" "$TMP/s3.log" --conditional
start_s3rver "$TMP/s3plain" "$TMP/s3plain.log"
S3PORT=$(wait_port "$TMP/s3.log" 'PORT [0-9]+') || exit 1
PLAINPORT=$(wait_port "$TMP/s3plain.log" 'PORT [0-9]+') || exit 1
"$BIN/azurite-blob" --blobHost 127.0.0.1 --blobPort 0 --disableTelemetry --inMemoryPersistence \
	>"$TMP/az.log" 2>&1 &
PIDS+=($!)
AZPORT=$(wait_port "$TMP/az.log" 'listens on http://127.0.0.1:[0-9]+') || exit 1
echo "s3rver (conditional PUT harness) on $S3PORT, plain s3rver on $PLAINPORT, azurite on $AZPORT"

export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$S3PORT
AZACC=devstoreaccount1
AZKEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
export AZURE_STORAGE_ACCOUNT=$AZACC AZURE_STORAGE_KEY=$AZKEY
export AZURE_STORAGE_ENDPOINT=http://127.0.0.1:$AZPORT/$AZACC
export TV_HTTP_RETRIES=1

# Creates an Azure container, signing the request here with openssl: an
# independent implementation of Shared Key that azurite must accept.
az_mkcontainer() {
	local d sts sig hexkey
	d=$(LC_ALL=C TZ=GMT date '+%a, %d %b %Y %H:%M:%S GMT')
	hexkey=$(printf %s "$AZKEY" | base64 -d | od -An -v -tx1 | tr -d ' \n')
	sts=$(printf 'PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:%s\nx-ms-version:2021-08-06\n/%s/%s/%s\nrestype:container' \
		"$d" "$AZACC" "$AZACC" "$1")
	sig=$(printf %s "$sts" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary | base64)
	curl -s -o /dev/null -w '%{http_code}' -X PUT -H "x-ms-date: $d" -H "x-ms-version: 2021-08-06" \
		-H "Content-Length: 0" -H "Authorization: SharedKey $AZACC:$sig" \
		"$AZURE_STORAGE_ENDPOINT/$1?restype=container"
}
check "azurite: container created with an openssl-signed request" test "$(az_mkcontainer tvcont)" = 201

# s3put PORT KEY FILE: a conditional PUT signed by curl's command line tool;
# prints the HTTP status.
s3put() {
	curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" -u S3RVER:S3RVER \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -H "If-None-Match: *" -T "$3" \
		"http://127.0.0.1:$1/tvbucket/$2"
}
echo one >"$TMP/one"
check "plain s3rver 4.0.4 ignores If-None-Match: * on PUT (overwrites)" \
	test "$(s3put "$PLAINPORT" probe "$TMP/one") $(s3put "$PLAINPORT" probe "$TMP/one")" = "200 200"
check "the harness answers a second If-None-Match: * PUT with 412, like S3" \
	test "$(s3put "$S3PORT" probe "$TMP/one") $(s3put "$S3PORT" probe "$TMP/one")" = "200 412"

# Inputs shared by every backend.
echo '{"texts": ["alpha beta gamma", "delta epsilon", "alpha omega"], "ids": ["a", "d", "o"],
       "metadata": [{"lang": "en"}, {"lang": "fr"}, {"lang": "en"}], "collection": "docs"}' >"$TMP/in.json"
echo '{"texts": ["alpha beta upserted", "new zeta"], "ids": ["a", "z"],
       "metadata": [{"lang": "de"}, {"lang": "en"}], "collection": "docs"}' >"$TMP/up.json"
mkdir -p "$TMP/files/sub"
printf 'The quick brown fox jumps over the lazy dog.\n\nObject storage keeps tables.\n' >"$TMP/files/a.md"
printf 'Vectors live in Lance files.\n\nSearch finds the nearest chunks.\n' >"$TMP/files/sub/b.md"

# session NAME DB: one CLI session; prints a transcript to compare.
session() {
	local name=$1 db=$2 out
	expect_exit 0 "$name store" "$TEAVEC" store --db "$db" --input @"$TMP/in.json" &&
		check "$name: store reports 3 rows" test "$(echo "$OUT" | jq .stored)" = 3
	expect_exit 0 "$name query" "$TEAVEC" query "alpha beta" --db "$db" --collection docs -k 2 &&
		check "$name: query reads the rows back, nearest first" \
			test "$(echo "$OUT" | jq -c '[.results[].id]')" = '["a","o"]'
	echo "$OUT" | jq -c .results >"$TMP/$name.transcript"
	expect_exit 0 "$name upsert" "$TEAVEC" store --db "$db" --input @"$TMP/up.json" &&
		expect_exit 0 "$name query2" "$TEAVEC" query "alpha beta" --db "$db" --collection docs -k 4 &&
		check "$name: upsert replaced a and added z" \
			test "$(echo "$OUT" | jq -c '[.results[] | select(.id == "a" or .id == "z") | [.id, .metadata.lang]] | sort')" = '[["a","de"],["z","en"]]'
	echo "$OUT" | jq -c .results >>"$TMP/$name.transcript"
	expect_exit 0 "$name where" "$TEAVEC" query "alpha" --db "$db" --collection docs --where "lang = 'fr'" &&
		check "$name: a filter reads metadata" test "$(echo "$OUT" | jq -c '[.results[].id]')" = '["d"]'
	expect_exit 0 "$name versions" "$TEAVEC" versions --db "$db" --collection docs --json &&
		check "$name: two commits are two versions" test "$(echo "$OUT" | jq 'length')" = 2
	expect_exit 0 "$name restore" "$TEAVEC" restore 1 --db "$db" --collection docs &&
		expect_exit 0 "$name query3" "$TEAVEC" query "alpha" --db "$db" --collection docs -k 5 &&
		check "$name: restoring version 1 brings the 3 first rows back" \
			test "$(echo "$OUT" | jq -c '[.results[].id] | sort')" = '["a","d","o"]'
	expect_exit 0 "$name index" "$TEAVEC" index "$TMP/files" --db "$db" --collection files &&
		expect_exit 0 "$name search" "$TEAVEC" search "nearest chunks" --db "$db" --collection files -k 1 -n 0 &&
		check "$name: index then search finds the chunk" contains "$OUT" "sub/b.md"
	expect_exit 0 "$name stats" "$TEAVEC" stats --db "$db" --json &&
		check "$name: stats lists both collections with their rows and versions" \
			test "$(echo "$OUT" | jq -c '[to_entries[] | [.key, .value.rows, .value.versions]]')" = '[["docs",3,3],["files",4,1],["files.files",2,1]]'
}

session local "$TMP/localdb"
session s3 s3://tvbucket/team/vectors
session az az://tvcont/team/vectors
check "S3 gives the same query results as a local directory" cmp -s "$TMP/local.transcript" "$TMP/s3.transcript"
check "Azure gives the same query results as a local directory" cmp -s "$TMP/local.transcript" "$TMP/az.transcript"

# cleanup removes objects: the old versions go, the newest still reads.
for b in s3 az; do
	db=s3://tvbucket/team/vectors
	[ $b = az ] && db=az://tvcont/team/vectors
	expect_exit 0 "$b cleanup" "$TEAVEC" cleanup --older-than 0 --db "$db" --collection docs &&
		expect_exit 0 "$b versions after cleanup" "$TEAVEC" versions --db "$db" --collection docs --json &&
		check "$b: cleanup leaves only the newest version" test "$(echo "$OUT" | jq -c '[.[].version]')" = '[3]' &&
		expect_exit 0 "$b query after cleanup" "$TEAVEC" query "alpha" --db "$db" --collection docs -k 5 &&
		check "$b: the newest version still reads after cleanup" \
			test "$(echo "$OUT" | jq -c '[.results[].id] | sort')" = '["a","d","o"]'
done

# Listings in pages of one key follow S3 continuation tokens.
expect_exit 0 "s3 paged versions" env TV_S3_LIST_PAGE=1 "$TEAVEC" stats --db s3://tvbucket/team/vectors --json &&
	check "s3: a listing in pages of one key gives the same collections" \
		test "$(echo "$OUT" | jq -c '[to_entries[] | [.key, .value.rows]]')" = '[["docs",3],["files",4],["files.files",2]]'

# A table larger than the 1 MiB read window: 3000 rows of 256 floats.
for db in s3://tvbucket/big az://tvcont/big; do
	"$TVTABLE" upsert "$db" big 256 0 3000 >/dev/null 2>"$TMP/err" || cat "$TMP/err" >&2
	check "$db: 3000 rows of 256 dimensions read back" test "$("$TVTABLE" count "$db" big 2>&1)" = 3000
	check "$db: vector search over windowed reads finds row 2718" \
		test "$("$TVTABLE" search "$db" big 256 2718 2>&1)" = id2718
done

# Concurrent commits: 4 writers at once. Each commit is a put-if-absent of
# the next manifest; a writer that loses gets TV_EEXISTS and retries on top
# of the winner. Had a commit overwritten another, rows would be missing.
for db in s3://tvbucket/conc az://tvcont/conc; do
	for i in 0 1 2 3; do
		"$TVTABLE" upsert "$db" c 8 $((i * 10)) 10 "w$i" >/dev/null 2>"$TMP/conc$i.err" &
		eval "cpid$i=\$!"
	done
	okw=0
	for i in 0 1 2 3; do
		eval "wait \$cpid$i" && okw=$((okw + 1))
	done
	check "$db: 4 concurrent writers all commit" test "$okw" = 4 || cat "$TMP"/conc*.err >&2
	check "$db: no commit is lost (40 rows)" test "$("$TVTABLE" count "$db" c 2>&1)" = 40
	check "$db: 4 commits are 4 versions" test "$("$TVTABLE" version "$db" c | jq .collections.c)" = 4
done

# The fallback for endpoints without conditional writes (plain s3rver).
expect_exit 0 "plain store" env AWS_ENDPOINT_URL=http://127.0.0.1:$PLAINPORT TV_S3_CONDITIONAL_PUT=0 \
	"$TEAVEC" store --db s3://tvbucket/plain --input @"$TMP/in.json" &&
	expect_exit 0 "plain upsert" env AWS_ENDPOINT_URL=http://127.0.0.1:$PLAINPORT TV_S3_CONDITIONAL_PUT=0 \
		"$TEAVEC" store --db s3://tvbucket/plain --input @"$TMP/up.json" &&
	expect_exit 0 "plain versions" env AWS_ENDPOINT_URL=http://127.0.0.1:$PLAINPORT TV_S3_CONDITIONAL_PUT=0 \
		"$TEAVEC" versions --db s3://tvbucket/plain --collection docs --json &&
	check "plain s3rver with TV_S3_CONDITIONAL_PUT=0 (HEAD then PUT): sequential commits version" \
		test "$(echo "$OUT" | jq -c '[.[].version]')" = '[1,2]'

# examples/rag-s3.yaml: documents under an S3 prefix indexed into a
# database in the same bucket, answered, edited, reindexed.
s3req() { # METHOD PATH [FILE]: a request signed by curl's command line tool
	curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" -u S3RVER:S3RVER \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X "$1" ${3:+-T "$3"} "http://127.0.0.1:$S3PORT/$2"
}
check "rag-s3: the example's bucket is created" test "$(s3req PUT teavec-demo)" = 200
printf 'Commit protocol\n\nA new table version is committed atomically: the manifest is created only if absent.\n' >"$TMP/commit.md"
printf 'Fragments\n\nData files hold the rows of a fragment.\n' >"$TMP/frag.md"
check "rag-s3: documents uploaded" \
	test "$(s3req PUT teavec-demo/docs/commit.md "$TMP/commit.md") $(s3req PUT teavec-demo/docs/sub/frag.md "$TMP/frag.md")" = "200 200"
expect_exit 0 "rag-s3 run" "$TEAVEC" run "$SRC/examples/rag-s3.yaml" &&
	check "rag-s3 indexes the S3 prefix and answers from the right object" \
		test "$(echo "$OUT" | jq -c '[.indexed, .unchanged, .best_file]')" = '[2,0,"s3://teavec-demo/docs/commit.md"]'
expect_exit 0 "rag-s3 rerun" "$TEAVEC" run "$SRC/examples/rag-s3.yaml" &&
	check "rag-s3: a second run embeds nothing" test "$(echo "$OUT" | jq -c '[.indexed, .unchanged]')" = '[0,2]'
check "rag-s3: an object deleted from the prefix" test "$(s3req DELETE teavec-demo/docs/sub/frag.md)" = 204
expect_exit 0 "rag-s3 after delete" "$TEAVEC" run "$SRC/examples/rag-s3.yaml" --input '{"question": "data files rows fragment"}' &&
	check "rag-s3: ...loses its chunks" test "$(echo "$OUT" | jq -c '[.removed, ([.answers[].metadata.file] | unique)]')" = '[1,["s3://teavec-demo/docs/commit.md"]]'
expect_exit 0 "rag-s3 stats" "$TEAVEC" stats --db s3://teavec-demo/vectors --collection rag_s3 --json &&
	check "rag-s3: the database lives in the bucket" test "$(echo "$OUT" | jq .rag_s3.rows)" = 2

# Wrong credentials: a non-zero exit and the service's answer.
expect_exit 1 "s3 wrong secret" env AWS_SECRET_ACCESS_KEY=not-the-secret \
	"$TEAVEC" query "alpha" --db s3://tvbucket/team/vectors --collection docs &&
	check "S3: a wrong secret key is HTTP 403 SignatureDoesNotMatch" \
		contains "$ERR" "HTTP 403 SignatureDoesNotMatch"
check "S3: the message names the credentials to check" contains "$ERR" "AWS_SECRET_ACCESS_KEY"
expect_exit 1 "az wrong key" env AZURE_STORAGE_KEY="$(head -c 64 /dev/zero | base64 -w0)" \
	"$TEAVEC" query "alpha" --db az://tvcont/team/vectors --collection docs &&
	check "Azure: a wrong account key is HTTP 403" contains "$ERR" "HTTP 403"
check "Azure: the message names the credentials to check" contains "$ERR" "AZURE_STORAGE_KEY"

# Settings and URIs that cannot work are TV_EINVAL naming what is wrong.
expect_exit 1 "s3 no key" env -u AWS_ACCESS_KEY_ID "$TEAVEC" query "alpha" --db s3://tvbucket/x &&
	check "S3: a missing AWS_ACCESS_KEY_ID is named" contains "$ERR" "AWS_ACCESS_KEY_ID is not set"
expect_exit 1 "s3 bad bucket" "$TEAVEC" query "alpha" --db s3://Bad_Bucket/x &&
	check "S3: a malformed bucket name is named" contains "$ERR" "s3://Bad_Bucket/x"
expect_exit 1 "s3 dotdot" "$TEAVEC" query "alpha" --db s3://tvbucket/a/../b &&
	check "S3: '..' in the prefix is refused" contains "$ERR" "'..'"
expect_exit 1 "az no key" env -u AZURE_STORAGE_KEY "$TEAVEC" query "alpha" --db az://tvcont/x &&
	check "Azure: a missing AZURE_STORAGE_KEY is named" contains "$ERR" "AZURE_STORAGE_KEY is not set"
expect_exit 1 "az bad key" env AZURE_STORAGE_KEY='not base64!' "$TEAVEC" query "alpha" --db az://tvcont/x &&
	check "Azure: a key that is not base64 is named" contains "$ERR" "AZURE_STORAGE_KEY is not valid base64"
expect_exit 1 "s3 down" env AWS_ENDPOINT_URL=http://127.0.0.1:1 "$TEAVEC" query "alpha" --db s3://tvbucket/x &&
	check "S3: an endpoint that refuses connections names the URL" contains "$ERR" "http://127.0.0.1:1/tvbucket"
finish

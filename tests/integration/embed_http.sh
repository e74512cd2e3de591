# The openai and ollama embedders through the real CLI, against an
# OpenAI- and Ollama-compatible server of our own on 127.0.0.1
# (embed_server.mjs: records every request; the model name picks a
# behaviour). Checks request shape, the probe that learns the dimension,
# batching, ordering by "index", retries with Retry-After, and the errors
# for HTTP failures and malformed responses.
. "$(dirname "$0")/../e2e/lib.bash"
SRC=${TV_SOURCE_DIR:?}
command -v node >/dev/null || { echo "node is needed" >&2; exit 1; }
if echo '{"texts": ["x"]}' | OPENAI_BASE_URL=http://127.0.0.1:1 TV_HTTP_RETRIES=0 \
	"$TEAVEC" store --db memory --embedder openai 2>&1 | grep -q "built without HTTP support"; then
	echo "skipped: this teavec was built without TV_WITH_HTTP"
	exit 0
fi
SERVER_PID=
cleanup() {
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

LOG=$TMP/requests.jsonl
: >"$LOG"
node "$SRC/tests/integration/embed_server.mjs" "$LOG" >"$TMP/server.out" 2>&1 &
SERVER_PID=$!
PORT=
for _ in $(seq 1 100); do
	PORT=$(grep -oE '^PORT [0-9]+' "$TMP/server.out" 2>/dev/null | grep -oE '[0-9]+')
	[ -n "$PORT" ] && break
	sleep 0.1
done
[ -n "$PORT" ] || { echo "the server did not start:" >&2; cat "$TMP/server.out" >&2; exit 1; }
echo "embedding server on $PORT"
BASE=http://127.0.0.1:$PORT
URL=$BASE/v1/embeddings
unset OPENAI_API_KEY OPENAI_BASE_URL OLLAMA_HOST
export TV_HTTP_RETRIES=4

# requests MODEL [JQ]: the recorded requests for MODEL, as a JSON list,
# through an optional jq filter.
requests() { jq -s --arg m "$1" "[.[] | select(.body.model == \$m)] | ${2:-.}" "$LOG"; }
texts_json() { # N PREFIX: a vector.store input of N texts
	jq -cn --argjson n "$1" --arg p "$2" '{texts: [range($n) | "\($p) text number \(.)"]}'
}

# ---- openai: shape, probe, auth ------------------------------------------
texts_json 3 shape >"$TMP/in3.json"
if expect_exit 0 "openai store" env OPENAI_BASE_URL="$BASE/v1" OPENAI_API_KEY=sk-test-123 \
	"$TEAVEC" store --db memory --embedder openai --model m-shape --input "@$TMP/in3.json"; then
	check "openai: store succeeds" test "$(echo "$OUT" | jq .stored)" = 3
else
	fail "openai store runs"
fi
check "openai: a probe and one batch (2 requests)" test "$(requests m-shape length)" = 2
check "openai: POST /v1/embeddings" \
	test "$(requests m-shape '[.[] | "\(.method) \(.path)"] | unique | .[0]')" = '"POST /v1/embeddings"'
check "openai: Bearer key from OPENAI_API_KEY" \
	test "$(requests m-shape '.[1].auth')" = '"Bearer sk-test-123"'
check "openai: JSON content type" test "$(requests m-shape '.[1].ctype')" = '"application/json"'
check "openai: body is {model, input} without dimensions" \
	test "$(requests m-shape '.[1].body | keys' | jq -c .)" = '["input","model"]'
check "openai: input is the texts in order" \
	test "$(requests m-shape '.[1].body.input' | jq -c .)" = "$(jq -c .texts "$TMP/in3.json")"
check "openai: the probe sends one text" test "$(requests m-shape '.[0].body.input | length')" = 1

# no key: no Authorization header (local servers)
expect_exit 0 "openai without key" env OPENAI_BASE_URL="$BASE/v1" \
	"$TEAVEC" store --db memory --embedder openai --model m-nokey --input "@$TMP/in3.json"
check "openai: no key, no Authorization header" test "$(requests m-nokey '[.[].auth] | unique')" = \
	"$(jq -n '[null]')"

# ---- embedding.create through a YAML agent: dimensions, order by index -----
cat >"$TMP/create.yaml" <<Y
settings:
  rag:
    vector_store: memory
    embedding_provider: openai
    openai_base_url: $BASE/v1/
    openai_api_key: sk-from-settings
    embedding_model: m-dims
    embedding_dimensions: 6
nodes:
  - name: e
    uses: embedding.create
    with: {text: ["a", "bb", "ccc", "dddd", "é"]}
    output: r
Y
if expect_exit 0 "yaml embedding.create" "$TEAVEC" run "$TMP/create.yaml"; then
	check "yaml: success" test "$(echo "$OUT" | jq '.r.count')" = 5
	check "yaml: dimensions 6 as set" test "$(echo "$OUT" | jq '.r.dimensions')" = 6
	check "yaml: vectors in input order although the server reversed them" \
		test "$(echo "$OUT" | jq -c '[.r.embeddings[] | .[0:2] | map(round)]')" = \
		'[[1,97],[2,98],[3,99],[4,100],[1,233]]'
else
	fail "yaml embedding.create runs"
fi
check "yaml: dimensions sent, no probe (1 request)" \
	test "$(requests m-dims '[length, .[0].body.dimensions]' | jq -c .)" = '[1,6]'
check "yaml: openai_api_key from settings" test "$(requests m-dims '.[0].auth')" = '"Bearer sk-from-settings"'

# ---- batching ----------------------------------------------------------------
texts_json 200 batch >"$TMP/in200.json"
expect_exit 0 "openai store 200" env OPENAI_BASE_URL="$BASE/v1" \
	"$TEAVEC" store --db memory --embedder openai --model m-batch --input "@$TMP/in200.json"
check "openai: 200 texts = probe + ceil(200/96) = 4 requests" \
	test "$(requests m-batch length)" = 4
check "openai: batches of 96, 96, 8" \
	test "$(requests m-batch '[.[1:][] | .body.input | length]' | jq -c .)" = '[96,96,8]'
check "openai: the batches hold all texts in order" \
	test "$(requests m-batch '[.[1:][] | .body.input[]]' | jq -c .)" = "$(jq -c .texts "$TMP/in200.json")"

cat >"$TMP/batch.yaml" <<Y
settings:
  rag: {vector_store: memory, embedding_provider: openai, openai_base_url: "$BASE/v1",
        embedding_model: m-b4, embedding_dimensions: 4, embedding_batch_size: 4}
nodes:
  - name: e
    uses: embedding.create
    with: {text: ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]}
    output: r
Y
expect_exit 0 "yaml batch 4" "$TEAVEC" run "$TMP/batch.yaml"
check "embedding_batch_size 4: 10 texts in 3 requests" \
	test "$(requests m-b4 '[.[].body.input | length]' | jq -c .)" = '[4,4,2]'
check "embedding_batch_size 4: all 10 embedded" test "$(echo "$OUT" | jq .r.count)" = 10

# ---- retries -------------------------------------------------------------------
sed -e 's/m-dims/flaky/' "$TMP/create.yaml" >"$TMP/flaky.yaml"
expect_exit 0 "flaky" "$TEAVEC" run "$TMP/flaky.yaml"
check "retries: 429 then 500 then 200 succeeds" test "$(echo "$OUT" | jq .r.count)" = 5
check "retries: 3 requests" test "$(requests flaky length)" = 3
check "retries: Retry-After: 1 honoured (>= 900 ms before the 2nd request)" \
	test "$(requests flaky '.[1].t - .[0].t >= 900')" = true
check "retries: the same body each time" test "$(requests flaky '[.[].body] | unique | length')" = 1

export TV_HTTP_RETRIES=2
expect_exit 1 "persistent 500" env OPENAI_BASE_URL="$BASE/v1" \
	"$TEAVEC" store --db memory --embedder openai --model down --input "@$TMP/in3.json"
check "persistent 500: exit 1, error names the URL" contains "$ERR" "POST $URL"
check "persistent 500: error has the status and the server's message" \
	contains "$ERR" "HTTP 500: model is overloaded (3 attempts)"
check "persistent 500: 1 + TV_HTTP_RETRIES requests" test "$(requests down length)" = 3

# ---- malformed responses --------------------------------------------------------
bad() { # MODEL EXPECTED-TEXT
	expect_exit 1 "$1" env OPENAI_BASE_URL="$BASE/v1" \
		"$TEAVEC" store --db memory --embedder openai --model "$1" --input "@$TMP/in3.json"
	check "malformed ($1): exit 1, names the URL" contains "$ERR" "POST $URL"
	check "malformed ($1): says what is wrong" contains "$ERR" "$2"
}
bad badjson "HTTP 200 but the response is not JSON"
bad short "0 embeddings for 1 texts"
bad huge "is not a finite number"
bad ragged "the embedding of texts[2] has 3 values, expected 4"
bad locked "HTTP 401: Incorrect API key provided"
check "401: hints at the API key" contains "$ERR" "OPENAI_API_KEY"
expect_exit 0 "locked with key" env OPENAI_BASE_URL="$BASE/v1" OPENAI_API_KEY=sesame \
	"$TEAVEC" store --db memory --embedder openai --model locked --input "@$TMP/in3.json"
check "the right key opens the locked model" test "$?" = 0
expect_exit 0 "noindex" env OPENAI_BASE_URL="$BASE/v1" \
	"$TEAVEC" store --db memory --embedder openai --model noindex --input "@$TMP/in3.json"
check "items without index are taken in order" test "$(echo "$OUT" | jq .stored)" = 3
expect_exit 1 "bad base url" env OPENAI_BASE_URL=ftp://x \
	"$TEAVEC" store --db memory --embedder openai --model m --input "@$TMP/in3.json"
check "a non-http base URL names where it came from" \
	contains "$ERR" "\$OPENAI_BASE_URL (settings.rag.openai_base_url): 'ftp://x' is not an http(s) URL"
export TV_HTTP_RETRIES=4

# ---- index and search through the CLI -------------------------------------------------
mkdir -p "$TMP/tree"
printf 'alpha beta\ngamma\n' >"$TMP/tree/a.txt"
printf 'delta\n' >"$TMP/tree/b.md"
if expect_exit 0 "index openai" env OPENAI_BASE_URL="$BASE/v1" \
	"$TEAVEC" index "$TMP/tree" --db "$TMP/db" --embedder openai --model m-index --json; then
	check "index: 2 files indexed" test "$(echo "$OUT" | jq .indexed)" = 2
else
	fail "index with openai runs"
fi
check "index: the chunks were sent to the server" \
	test "$(requests m-index '[.[].body.input[]] | index("delta") != null')" = true
expect_exit 0 "search openai" env OPENAI_BASE_URL="$BASE/v1" \
	"$TEAVEC" search delta --db "$TMP/db" --embedder openai --model m-index --json
check "search: the query went to the server" \
	test "$(requests m-index '[.[].body.input[]] | map(select(. == "delta")) | length >= 2')" = true
check "search: results" test "$(echo "$OUT" | jq '.results | length > 0')" = true

# search without --embedder / --model: the model the collection was indexed
# with (the URL still from the environment)
before=$(requests m-index length)
expect_exit 0 "search recorded" env OPENAI_BASE_URL="$BASE/v1" \
	"$TEAVEC" search delta --db "$TMP/db" --json
check "search: the recorded model embeds the query, without flags" \
	test "$(requests m-index "[.[$before:][] | .body.input] | map(select(. == [\"delta\"])) | length >= 1")" = true
check "search: and finds the chunk" test "$(echo "$OUT" | jq -r '.results[0].text')" = "delta"
# recorded dimensions are sent again (they were given when indexing)
cat >"$TMP/index6.yaml" <<Y
settings: {rag: {vector_store: lancedb, lancedb_path: "$TMP/db", embedding_provider: openai,
                 openai_base_url: "$BASE/v1", embedding_model: m-index6, embedding_dimensions: 6}}
nodes:
  - {name: i, uses: vector.index_files, with: {paths: "$TMP/tree", collection: six}, output: r}
Y
expect_exit 0 "index dims" "$TEAVEC" run "$TMP/index6.yaml"
check "index with embedding_dimensions 6" test "$(echo "$OUT" | jq .r.indexed)" = 2
expect_exit 0 "search dims" env OPENAI_BASE_URL="$BASE/v1" \
	"$TEAVEC" search delta --db "$TMP/db" --collection six --json
check "search: the recorded model and dimensions, no probe" \
	test "$(requests m-index6 '[.[] | select(.body.input == ["delta"]) | .body.dimensions]' | jq -c .)" = '[6]'
check "search: results at 6 dimensions" test "$(echo "$OUT" | jq '.results | length')" = 2
# the recorded embedder cannot be opened (its server is gone): a clear error
TV_HTTP_RETRIES=0 expect_exit 1 "search no server" env OPENAI_BASE_URL="http://127.0.0.1:1/v1" \
	"$TEAVEC" search delta --db "$TMP/db"
check "search: an embedder that cannot be opened names it and what to do" \
	contains "$ERR" "collection 'default' was indexed with the embedder 'openai:v1:m-index:4', which cannot be opened"
check "search: naming the URL" contains "$ERR" "http://127.0.0.1:1/v1/embeddings"

# ---- ollama ------------------------------------------------------------------------------
texts_json 70 ollama >"$TMP/in70.json"
if expect_exit 0 "ollama store" env OLLAMA_HOST="127.0.0.1:$PORT" \
	"$TEAVEC" store --db memory --embedder ollama --model o-shape --input "@$TMP/in70.json"; then
	check "ollama: stored 70" test "$(echo "$OUT" | jq .stored)" = 70
else
	fail "ollama store runs"
fi
check "ollama: POST /api/embed" \
	test "$(requests o-shape '[.[] | "\(.method) \(.path)"] | unique')" = "$(jq -n '["POST /api/embed"]')"
check "ollama: body is {model, input}" \
	test "$(requests o-shape '[.[].body | keys] | unique' | jq -c .)" = '[["input","model"]]'
check "ollama: probe + ceil(70/32) = 4 requests of 1, 32, 32, 6" \
	test "$(requests o-shape '[.[].body.input | length]' | jq -c .)" = '[1,32,32,6]'
check "ollama: the batches hold all texts in order" \
	test "$(requests o-shape '[.[1:][] | .body.input[]]' | jq -c .)" = "$(jq -c .texts "$TMP/in70.json")"
check "ollama: no Authorization header" test "$(requests o-shape '[.[].auth] | unique')" = "$(jq -n '[null]')"
expect_exit 0 "ollama index" env OLLAMA_HOST="$BASE" \
	"$TEAVEC" index "$TMP/tree" --db "$TMP/db" --collection olla --embedder ollama --model o-index
expect_exit 0 "ollama search recorded" env OLLAMA_HOST="$BASE" \
	"$TEAVEC" search gamma --db "$TMP/db" --collection olla --json
check "ollama: search uses the recorded model without flags" \
	test "$(requests o-index '[.[] | select(.body.input == ["gamma"]) | .path] | unique' | jq -c .)" = '["/api/embed"]'

cat >"$TMP/ollama.yaml" <<Y
settings: {rag: {vector_store: memory, embedding_provider: ollama, ollama_base_url: "$BASE",
                 embedding_model: o-yaml, embedding_dimensions: 4}}
nodes:
  - name: e
    uses: embedding.create
    with: {text: ["xy", "z"]}
    output: r
Y
expect_exit 0 "ollama yaml" "$TEAVEC" run "$TMP/ollama.yaml"
check "ollama yaml: vectors in order" \
	test "$(echo "$OUT" | jq -c '[.r.embeddings[] | .[0:2] | map(round)]')" = '[[2,120],[1,122]]'
check "ollama yaml: one request, dimensions not sent" \
	test "$(requests o-yaml '[length, (.[0].body | has("dimensions"))]' | jq -c .)" = '[1,false]'

export TV_HTTP_RETRIES=1
expect_exit 1 "ollama missing model" env OLLAMA_HOST="$BASE" \
	"$TEAVEC" store --db memory --embedder ollama --model missing --input "@$TMP/in3.json"
check "ollama 404: names URL, status and the server's message" \
	contains "$ERR" "POST $BASE/api/embed: HTTP 404: model \"missing\" not found"
check "ollama 404: not retried" test "$(requests missing length)" = 1
expect_exit 1 "ollama down" env OLLAMA_HOST="$BASE" \
	"$TEAVEC" store --db memory --embedder ollama --model down --input "@$TMP/in3.json"
check "ollama 500: names URL and status" contains "$ERR" "POST $BASE/api/embed: HTTP 500"
bad_o() {
	expect_exit 1 "ollama $1" env OLLAMA_HOST="$BASE" \
		"$TEAVEC" store --db memory --embedder ollama --model "$1" --input "@$TMP/in3.json"
	check "ollama malformed ($1): says what is wrong" contains "$ERR" "$2"
}
bad_o badjson "the response is not JSON"
cat >"$TMP/slow.yaml" <<Y
settings: {rag: {vector_store: memory, embedding_provider: ollama, ollama_base_url: "$BASE",
                 embedding_model: slow, embedding_dimensions: 4, embedding_timeout: 1}}
nodes:
  - {name: e, uses: embedding.create, with: {text: ["a"]}, output: r}
Y
TV_HTTP_RETRIES=0 expect_exit 0 "slow" "$TEAVEC" run "$TMP/slow.yaml"
check "embedding_timeout: a slow server fails the action, naming the URL" \
	contains "$(echo "$OUT" | jq -r .r.error)" "ollama embedder: POST $BASE/api/embed: Timeout was reached"
bad_o short "0 embeddings for 1 texts"

finish

# teavec index / search through the binary: --help, exit codes, --json
# shapes, incremental reruns, edits and deletions, filters, context lines,
# the progress bar only on a terminal, and no database created by search.
. "$(dirname "$0")/lib.bash"
DB=$TMP/db
T=$TMP/tree
mkdir -p "$T/guide" "$T/src"
printf 'Installing teavec\n\nRun the setup script as root.\n' >"$T/guide/install.md"
printf 'Searching\n\nThe search command prints the best chunks first with their lines.\n' >"$T/guide/search.md"
printf 'int main(void)\n{\n\treturn 0;\n}\n' >"$T/src/main.c"
head -c 2048 /dev/urandom >"$T/blob.bin"

expect_exit 0 help "$TEAVEC" index --help
check "index --help lists its options" contains "$OUT" "--chunk-by"
expect_exit 0 shelp "$TEAVEC" search --help
check "search --help lists its options" contains "$OUT" "--max-distance"
expect_exit 2 noargs "$TEAVEC" index --db "$DB"
check "index without a path is a usage error" contains "$ERR" "PATH"
expect_exit 2 badopt "$TEAVEC" search -k zero q --db "$DB"

# search before anything exists: a clear message and nothing created
expect_exit 1 nodb "$TEAVEC" search "setup" --db "$DB"
check "search on a missing database says what to do" contains "$ERR" "teavec index"
check "search does not create the database" test ! -e "$DB"

expect_exit 0 first "$TEAVEC" index "$T" --db "$DB" --collection kb --json
check "first index embeds every text file" test "$(echo "$OUT" | jq -c '[.success, .indexed, .removed, (.skipped_files | length)]')" = '[true,3,0,1]'
check "the binary file is skipped with a reason" test "$(echo "$OUT" | jq -r '.skipped_files[0].reason')" = "binary content"
check "no progress bar when stderr is not a terminal" test -z "$ERR"

expect_exit 0 again "$TEAVEC" index "$T" --db "$DB" --collection kb
check "an unchanged rerun embeds nothing" contains "$OUT" "0 files indexed (0 chunks, 0 B), 3 unchanged"

expect_exit 0 s1 "$TEAVEC" search "setup script root" --db "$DB" --collection kb -k 1
check "search prints score and path:line" contains "$OUT" "$T/guide/install.md:3"
check "search prints the file's lines grep -n style" contains "$OUT" "3: Run the setup script as root."

expect_exit 0 sj "$TEAVEC" search "setup script root" --db "$DB" --collection kb -k 2 --json
check "search --json has the vector.query shape" test "$(echo "$OUT" | jq -c '[.collection, .k, (.results | length), (.results[0] | keys)]')" = '["kb",2,2,["id","metadata","path","score","text"]]'
check "results carry file and lines" test "$(echo "$OUT" | jq -c '.results[0].metadata | [.start_line, .end_line, .chunk_type]')" = '[3,3,"paragraph"]'

expect_exit 0 sw "$TEAVEC" search "return" --db "$DB" --collection kb --where "path LIKE '%.c'" --json
check "--where filters on the path column" test "$(echo "$OUT" | jq -r '[.results[].metadata.file] | unique | join(",")')" = "$T/src/main.c"
expect_exit 1 badwhere "$TEAVEC" search "x" --db "$DB" --collection kb --where "path = "
check "a bad filter names the column" contains "$ERR" "column"
expect_exit 0 maxd "$TEAVEC" search "completely unrelated words" --db "$DB" --collection kb --max-distance 0.01 --json
check "--max-distance drops far results" test "$(echo "$OUT" | jq '.results | length')" = 0

# an edit replaces that file's chunks; a deletion removes them
sleep 0.01
printf 'Installing teavec\n\nUse scripts/setup.sh; it installs every dependency.\n' >"$T/guide/install.md"
rm "$T/guide/search.md"
expect_exit 0 edit "$TEAVEC" index "$T" --db "$DB" --collection kb --json
check "the edited file is re-indexed and the deleted one removed" test "$(echo "$OUT" | jq -c '[.indexed, .removed, .files]')" = "[1,1,[\"$T/guide/install.md\"]]"
expect_exit 0 gone "$TEAVEC" query --db "$DB" --collection kb -k 50 "x"
check "no chunk of the deleted file is left" test "$(echo "$OUT" | jq "[.results[] | select(.metadata.file == \"$T/guide/search.md\")] | length")" = 0
check "the old text of the edited file is gone" test "$(echo "$OUT" | jq '[.results[] | select(.text | contains("as root"))] | length')" = 0

expect_exit 0 ext "$TEAVEC" index "$T" --db "$DB" --collection conly --ext .C --json
check "--ext filters by extension, any case" test "$(echo "$OUT" | jq -c '.files | map(sub(".*/"; ""))')" = '["main.c"]'

expect_exit 0 stats "$TEAVEC" stats --db "$DB" --json
check "the file state is a real table beside the collection" test "$(echo "$OUT" | jq -c '[.kb.rows, ."kb.files".rows]')" = '[3,2]'

# search uses the embedder the collection was indexed with: a static model
# (4 dimensions, where the default hash embedder has 256) found again from
# another directory, without --embedder or --model
mkdir -p "$TMP/models" "$TMP/st"
printf 'lighthouse 1 0 0 0\nkeeper 0.9 0.1 0 0\nharbour 0 1 0 0\nboat 0 0.9 0.1 0\nbread 0 0 0 1\noven 0 0 0.1 0.9\n' \
	>"$TMP/models/tiny.txt"
printf 'the lighthouse keeper\n' >"$TMP/st/light.md"
printf 'bread from the oven\n' >"$TMP/st/bread.md"
(cd "$TMP/models" && expect_exit 0 stidx "$TEAVEC" index "$TMP/st" --db "$DB" --collection glove \
	--embedder static --model tiny.txt --json)
check "index with a static model given by a relative path" test -n "$(ls "$TMP/models"/tiny.txt*)"
expect_exit 0 stq "$TEAVEC" search "keeper" --db "$DB" --collection glove -k 1 -n 0 --json
check "search picks the recorded static model without flags" \
	test "$(echo "$OUT" | jq -r '.results[0].path')" = "$TMP/st/light.md"
expect_exit 0 stq2 "$TEAVEC" search "oven" --db "$DB" --collection glove -k 1 -n 0 --json
check "and ranks by its vectors" test "$(echo "$OUT" | jq -r '.results[0].path')" = "$TMP/st/bread.md"
expect_exit 0 stfile "$TEAVEC" query --db "$DB" --collection glove.files -k 1 x --embedder static \
	--model "$TMP/models/tiny.txt"
check "the file state records the model's absolute path" \
	test "$(echo "$OUT" | jq -r '.results[0].metadata.embedder_settings.embedding_model')" = \
	"$TMP/models/tiny.txt"
# a model file named with a quote and a backslash: the file state stays
# valid JSON (the embedder id is escaped, not pasted) and reindexing finds
# the files unchanged
cp "$TMP/models/tiny.txt" "$TMP/models/ti\"n\\y.txt"
expect_exit 0 stq3 "$TEAVEC" index "$TMP/st" --db "$DB" --collection odd --embedder static \
	--model "$TMP/models/ti\"n\\y.txt" --json
expect_exit 0 stq3s "$TEAVEC" query --db "$DB" --collection odd.files -k 2 x --embedder static \
	--model "$TMP/models/ti\"n\\y.txt"
check "a model name with a quote is recorded as it is" \
	test "$(echo "$OUT" | jq -r '.results[0].metadata.embedder')" = 'static:v1:ti"n\y.txt:4'
expect_exit 0 stq3r "$TEAVEC" index "$TMP/st" --db "$DB" --collection odd --embedder static \
	--model "$TMP/models/ti\"n\\y.txt" --json
check "and the rerun re-embeds nothing" test "$(echo "$OUT" | jq '.indexed')" = 0
mv "$TMP/models" "$TMP/models.moved"
expect_exit 1 stgone "$TEAVEC" search "keeper" --db "$DB" --collection glove
check "a recorded model that cannot be opened is a clear error" \
	contains "$ERR" "collection 'glove' was indexed with the embedder 'static:v1:tiny.txt:4', which cannot be opened"
check "naming the model file" contains "$ERR" "$TMP/models/tiny.txt"
check "and what to do" contains "$ERR" "--embedder"
expect_exit 0 stflag "$TEAVEC" search "keeper" --db "$DB" --collection glove -k 1 -n 0 --json \
	--embedder static --model "$TMP/models.moved/tiny.txt"
check "--embedder and --model still choose the embedder" \
	test "$(echo "$OUT" | jq -r '.results[0].path')" = "$TMP/st/light.md"
# file state of an older teavec: the embedder id only, no model path
echo '{"texts": ["x"], "ids": ["/old/a.md"], "metadata": {"embedder": "static:v1:tiny.txt:4"}}' |
	"$TEAVEC" store --db "$DB" --collection old.files >/dev/null
expect_exit 1 stold "$TEAVEC" search "keeper" --db "$DB" --collection old
check "an unrecorded static model path says what to do" \
	contains "$ERR" "give --embedder static --model PATH"

# the progress bar, on a terminal only
if script -qec "true" /dev/null >/dev/null 2>&1; then
	touch "$T/src/main.c"
	script -qec "\"$TEAVEC\" index \"$T\" --db \"$DB\" --collection tty --full" /dev/null >"$TMP/tty" 2>&1
	check "a terminal gets a progress bar" grep -q "files" "$TMP/tty"
	check "and it shows throughput and ETA" grep -q "ETA" "$TMP/tty"
fi
NO_COLOR=1 expect_exit 0 nc "$TEAVEC" search "setup" --db "$DB" --collection kb
check "no escape codes when not on a terminal" test "$(printf '%s' "$OUT" | tr -d -c '\033' | wc -c)" = 0
finish

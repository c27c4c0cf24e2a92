#!/usr/bin/env bash
# Test: `netlab-report card` on real runs (framing, closewait and https, put
# together the way the tour does) and on a small synthetic run whose steps
# disagree. The zh and en cards give the same verdict for every claim; no
# claim has two rows; every check id in the runs' JSON has a claim with both
# texts in the table (`netlab-report claims`); every row sourced to the note
# is a claim of the note, under one of the note's headings; steps that
# disagree make a nuanced row that names which step gave which verdict.
# The cards are Markdown: the backticks in single quotes below are literal.
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPORT=$BIN/netlab-report
# The note's headings (DESIGN.md's lab table), independent of the code under test.
NOTE_HEADINGS=(tcp和udp 为什么三次握手 为什么四次挥手 timewait是什么状态 出现大量timewait closewait是什么状态
  粘包怎么解决 "http code" "http header" "https 过程" http和rpc)

# verdicts CARD: "id verdict" per row, the verdict in English whatever the card's language.
verdicts() {
  local line id verdict
  while IFS= read -r line; do
    [[ $line =~ \`([a-z0-9.-]+)\`\ \|\ \*\*([^*]+)\*\*\ \| ]] || continue
    id=${BASH_REMATCH[1]} verdict=${BASH_REMATCH[2]}
    case $verdict in
      成立) verdict=confirmed ;;
      不成立) verdict=refuted ;;
      有条件) verdict=nuanced ;;
      事实) verdict=fact ;;
      未测) verdict=skipped ;;
    esac
    printf '%s %s\n' "$id" "$verdict"
  done <"$1"
}

# claim_of ID: the table's line (id, heading, source, zh, en, also) for a check id, or nothing.
claim_of() {
  awk -F'\t' -v id="$1" '
    $1 == id { print; found = 1; exit }
    { n = split($6, also, ","); for (i = 1; i <= n; i++) {
        a = also[i]
        if (a == id || (a ~ /-\*$/ && index(id, substr(a, 1, length(a) - 1)) == 1 && length(id) > length(a) - 1)) { alias = $0 }
      } }
    END { if (!found && alias != "") print alias }' "$TMP/claims.tsv"
}

make_runs() {
  run_lab framing -- --messages 200
  run_lab closewait
  run_lab https
  # As the tour does: the tour's folder holds a link per lab to its run folder.
  mkdir -p "$TMP/tour"
  local run lab
  for run in "$TMP"/runs/*; do
    lab=$("$REPORT" get "$run/client.json" /lab)
    ln -s "../runs/${run##*/}" "$TMP/tour/$lab"
  done
  "$REPORT" claims >"$TMP/claims.tsv"
}

# Both languages from the one run: the same claims, the same verdicts.
check_languages() {
  local lang
  for lang in zh en; do
    "$REPORT" card "$TMP/tour" --lang "$lang" >"$TMP/card.$lang.md" 2>"$TMP/card.$lang.err" ||
      fail "netlab-report card --lang $lang exited $?"
    [[ ! -s $TMP/card.$lang.err ]] || fail "card --lang $lang complained: $(cat "$TMP/card.$lang.err")"
    verdicts "$TMP/card.$lang.md" >"$TMP/verdicts.$lang"
    [[ -s $TMP/verdicts.$lang ]] || fail "the $lang card has no row with a verdict"
    local twice
    twice=$(awk '{print $1}' "$TMP/verdicts.$lang" | sort | uniq -d)
    [[ -z $twice ]] || fail "the $lang card has these claims twice: $twice"
  done
  diff <(sort "$TMP/verdicts.zh") <(sort "$TMP/verdicts.en") >"$TMP/verdicts.diff" ||
    fail "the zh and en cards disagree: $(cat "$TMP/verdicts.diff")"
  grep -qE ' (confirmed|refuted|nuanced|fact|skipped)$' "$TMP/verdicts.en" || fail "no verdict word on the card"
  echo "ok: zh and en cards, $(wc -l <"$TMP/verdicts.en") claims, the same verdicts, none twice"
}

# Every check id of the runs: a claim in the table with both texts, and its row on the card.
check_every_id() {
  local run id line zh en claim ids=0
  for run in "$TMP"/runs/*; do
    while read -r id; do
      line=$(claim_of "$id")
      [[ -n $line ]] || fail "${run##*/}: check $id is not in the table of claims"
      IFS=$'\t' read -r claim _ _ zh en _ <<<"$line"
      [[ -n $zh && $zh != - && -n $en && $en != - ]] || fail "claim $claim (check $id) lacks a translation"
      grep -q "^$claim " "$TMP/verdicts.en" || fail "check $id (claim $claim) has no row on the card"
      ids=$((ids + 1))
    done < <("$REPORT" checks "$run/client.json" | cut -f2 | sort -u)
  done
  ((ids > 20)) || fail "only $ids check ids in the three runs"
  # The https run's capture checks (capture-certificate-<mode>) are rows of their claim.
  if ((EUID == 0)) && command -v tcpdump >/dev/null; then
    grep -q '`certificate-in-clear` | \*\*nuanced\*\* | .*refuted in .*1\.3' "$TMP/card.en.md" ||
      fail "certificate-in-clear is not nuanced with TLS 1.3 named as the refuting step"
  fi
  echo "ok: every check id ($ids) has a claim with both texts and a row"
}

# A row sourced to the note: a claim of the note in the table, under its heading of the note.
check_note_rows() {
  local lang=$1 note_word=$2 line heading="" id table_heading source rows=0
  while IFS= read -r line; do
    if [[ $line == "## "* ]]; then heading=${line#\#\# }; continue; fi
    [[ $line == "| $note_word | "* ]] || continue
    [[ $line =~ \`([a-z0-9.-]+)\`\ \| ]] || fail "a note row without a claim id: $line"
    id=${BASH_REMATCH[1]}
    IFS=$'\t' read -r _ table_heading source _ < <(awk -F'\t' -v id="$id" '$1 == id' "$TMP/claims.tsv")
    [[ $source == note ]] || fail "$lang card: $id is sourced to the note, the table says '${source:-nothing}'"
    [[ " ${NOTE_HEADINGS[*]} " == *" $table_heading "* ]] || fail "$id: '$table_heading' is not a heading of the note"
    [[ $heading == "$table_heading" ]] || fail "$lang card: $id is under '$heading', not its heading '$table_heading'"
    rows=$((rows + 1))
  done <"$TMP/card.$lang.md"
  ((rows > 0)) || fail "$lang card: no row sourced to the note"
  echo "ok: $lang card: $rows rows of the note, each a claim of the note under its heading"
}

# A synthetic run whose steps disagree, and one check the table does not have.
check_disagreeing_steps() {
  local dir=$TMP/synthetic en zh
  mkdir -p "$dir"
  cat >"$dir/client.json" <<'JSON'
{"lab":"transport","role":"client","params":{},"observed":{},"checks":[
 {"id":"udp-no-guarantee","note":"n","expected":"x","observed":"9548 of 20000 arrived","verdict":"confirmed","evidence":"e","step":"plain"},
 {"id":"udp-no-guarantee","note":"n","expected":"x","observed":"3000 of 3000 arrived","verdict":"refuted","evidence":"e","step":"quiet"},
 {"id":"flow-control","note":"n","expected":"x","observed":"not run","verdict":"skipped","evidence":"no slow reader","step":"plain"},
 {"id":"no-such-claim","note":"made up","expected":"x","observed":"y","verdict":"confirmed","evidence":"e","step":"plain"}]}
JSON
  en=$("$REPORT" card "$dir" --lang en 2>"$TMP/synthetic.err")
  zh=$("$REPORT" card "$dir" --lang zh 2>/dev/null)
  grep -qF '`udp-no-guarantee` | **nuanced** | confirmed in plain: 9548 of 20000 arrived · refuted in quiet: 3000 of 3000 arrived |' <<<"$en" ||
    fail "disagreeing steps: no nuanced row naming each step's verdict: $(grep udp-no-guarantee <<<"$en")"
  grep -qF '`udp-no-guarantee` | **有条件** | 成立：plain（9548 of 20000 arrived）；不成立：quiet（3000 of 3000 arrived） |' <<<"$zh" ||
    fail "disagreeing steps (zh): $(grep udp-no-guarantee <<<"$zh")"
  grep -qF '`flow-control` | **skipped** | no slow reader |' <<<"$en" || fail "a skipped claim does not say why"
  grep -qF '](summary.md#udp-no-guarantee)' <<<"$en" || fail "no link to the step rows in summary.md"
  grep -q 'no-such-claim is not in the table of claims' "$TMP/synthetic.err" || fail "an unknown check id was not reported"
  grep -qF '`no-such-claim` — **confirmed**' <<<"$en" || fail "an unknown check id is not listed apart"
  "$REPORT" card "$dir" --lang en --format text 2>/dev/null | grep -q '^  nuanced ' || fail "the terminal card has no nuanced row"
  if "$REPORT" card "$TMP/empty-$$" >/dev/null 2>"$TMP/missing.err"; then fail "card of a missing folder succeeded"; fi
  [[ $(wc -l <"$TMP/missing.err") == 1 ]] || fail "a missing folder: not one line on stderr"
  echo "ok: disagreeing steps make a nuanced row naming each step; an unknown id is listed apart"
}

main() {
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM
  check_disagreeing_steps
  make_runs
  check_languages
  check_every_id
  check_note_rows en note
  check_note_rows zh 笔记
}

main "$@"

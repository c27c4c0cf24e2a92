#!/usr/bin/env bash
# Test: the report page (index.html) that a lab run writes, and the page of a
# tour-shaped folder over that run loaded in headless Chromium: no console
# message, every image (the run's SVG charts) decodes, markup planted in the
# run's server.log and in a check's words shows as text and never runs; a
# strict parser finds both pages' elements closed in order. A screenshot of
# the tour page is kept as an artefact (NETLAB_ARTIFACTS_DIR, default: the
# working folder). One quick framing run (as root with its capture, so
# ladder.svg is on the page beside ss-chart.svg); two Chromium starts.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHROMIUM=$(command -v chromium || true)

# chromium_run ARGS...: headless Chromium on a page, bounded, its own profile;
# its log (console messages included) goes to $TMP/chromium.log.
chromium_run() {
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$TMP/profile" \
    --enable-logging=stderr --v=0 --virtual-time-budget=5000 "$@" 2>"$TMP/chromium.log"
}

# A copy of PAGE beside it with a probe: on load, it writes into the DOM how
# many images decoded (complete, naturalWidth > 0) of how many, and the title.
probe_copy() {
  local page=$1 probe=${1%/*}/probe.html
  python3 - "$page" "$probe" <<'EOF'
import sys
page = open(sys.argv[1], encoding="utf-8").read()
probe = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var decoded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-probe", decoded + "/" + images.length + " title=" + document.title);
});
</script>
"""
assert page.count("</body>") == 1
open(sys.argv[2], "w", encoding="utf-8").write(page.replace("</body>", probe + "</body>"))
EOF
  printf '%s\n' "$probe"
}

# check_in_browser PAGE MIN_IMAGES: Chromium loads PAGE (through the probe):
# no console message, at least MIN_IMAGES images and every one decoded.
check_in_browser() {
  local page=$1 min=$2 probe dom images decoded total
  probe=$(probe_copy "$page")
  chromium_run --dump-dom "file://$probe" >"$TMP/dom.html" || fail "chromium --dump-dom $probe failed: $(tail -n 5 "$TMP/chromium.log")"
  if grep -F 'CONSOLE' "$TMP/chromium.log"; then fail "console messages loading $page"; fi
  dom=$(grep -o 'data-probe="[^"]*"' "$TMP/dom.html") || fail "the probe did not run on $page (no load event?)"
  images=${dom#data-probe=\"}
  images=${images%% *}
  decoded=${images%/*} total=${images#*/}
  ((total >= min)) || fail "$page has $total images, expected at least $min"
  ((decoded == total)) || fail "$page: only $decoded of $total images decoded"
  [[ $dom == *"title=netlab — "* ]] || fail "$page: the title changed: $dom"
  echo "ok: $page in Chromium: no console message, $decoded of $total images decoded"
}

# check_well_formed PAGE: every element closed, in order (void elements
# excepted), one <html>, and nothing but whitespace outside it.
check_well_formed() {
  python3 - "$1" <<'EOF' || fail "$1 is not well-formed"
import sys
from html.parser import HTMLParser
VOID = {"meta", "input", "img", "br", "hr", "link", "source", "wbr", "area", "base", "col", "embed", "track"}
class Strict(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.html = [], [], 0
    def handle_starttag(self, tag, attrs):
        names = [name for name, _ in attrs]
        if len(names) != len(set(names)):
            self.errors.append(f"line {self.getpos()[0]}: <{tag}> repeats an attribute")
        if tag == "html":
            self.html += 1
        if tag not in VOID:
            self.stack.append((tag, self.getpos()[0]))
    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()
    def handle_endtag(self, tag):
        if tag in VOID:
            self.errors.append(f"line {self.getpos()[0]}: </{tag}> closes a void element")
        elif not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"line {self.getpos()[0]}: </{tag}> closes <{self.stack[-1][0] if self.stack else 'nothing'}>")
        else:
            self.stack.pop()
    def handle_data(self, data):
        if not self.stack and data.strip():
            self.errors.append(f"line {self.getpos()[0]}: text outside <html>")
text = open(sys.argv[1], encoding="utf-8").read()
if not text.startswith("<!DOCTYPE html>"):
    sys.exit("no <!DOCTYPE html> at the start")
parser = Strict()
parser.feed(text)
parser.close()
parser.errors += [f"<{tag}> of line {line} is never closed" for tag, line in parser.stack]
if parser.html != 1:
    parser.errors.append(f"{parser.html} <html> elements")
for error in parser.errors[:20]:
    print(error, file=sys.stderr)
sys.exit(1 if parser.errors else 0)
EOF
  echo "ok: $1 is well-formed"
}

main() {
  [[ -n $CHROMIUM ]] || { echo "skip: chromium is not installed (scripts/setup.sh installs it)"; exit 77; }
  command -v python3 >/dev/null || { echo "skip: python3 is not installed"; exit 77; }
  TMP=$(mktemp -d)
  trap cleanup EXIT INT TERM

  run_lab framing -- --messages 500
  [[ -s $RUN/index.html ]] || fail "the run folder has no index.html"
  local min=1  # ss-chart.svg
  if [[ -f $RUN/ladder.svg ]]; then min=2; fi
  check_well_formed "$RUN/index.html"

  # Markup in what the page quotes (a log line, a check's words) must stay
  # text: planted in the run's server.log and as a check of its client.json
  # (an id not in the table: the page lists it at the end, with its words).
  printf '<script>document.title="planted"</script><img src=x onerror="document.title=1">\n' >>"$RUN/server.log"
  python3 - "$RUN/client.json" <<'EOF'
import json, sys
result = json.load(open(sys.argv[1]))
result["checks"].append({"id": "planted-markup", "note": '<script>document.title="planted"</script>', "expected": "",
                         "observed": "", "verdict": "fact", "evidence": ""})
json.dump(result, open(sys.argv[1], "w"))
EOF

  # A tour's folder: a folder per lab (here the one run), as scripts/lab tour links them.
  local page=$TMP/runs/tour/index.html
  mkdir "$TMP/runs/tour"
  ln -s "../${RUN##*/}" "$TMP/runs/tour/framing"
  "$BIN/netlab-report" html "$TMP/runs/tour" --lang en >"$page"
  grep -q '<a href="framing/summary.md">' "$page" || fail "the tour page does not link framing/summary.md"
  [[ $(grep -cF '&lt;script&gt;document.title=&quot;planted&quot;&lt;/script&gt;' "$page") == 2 ]] ||
    fail "the planted log line and check are not both on the page as text"
  check_well_formed "$page"
  check_in_browser "$page" "$min"
  [[ $(grep -cF '&lt;script&gt;document.title="planted"&lt;/script&gt;' "$TMP/dom.html") == 2 ]] ||
    fail "Chromium's DOM lacks the planted log line or check as text"
  echo "ok: the planted markup is text in Chromium's DOM, and the title was not changed"

  local artefacts=${NETLAB_ARTIFACTS_DIR:-$PWD}
  mkdir -p -- "$artefacts"
  chromium_run --screenshot="$artefacts/report-page.png" --window-size=1600,2000 --hide-scrollbars \
    "file://$page" >/dev/null || fail "chromium --screenshot failed: $(tail -n 5 "$TMP/chromium.log")"
  [[ -s $artefacts/report-page.png ]] || fail "no screenshot at $artefacts/report-page.png"
  echo "ok: screenshot $artefacts/report-page.png"
}

main "$@"

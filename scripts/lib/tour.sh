# shellcheck shell=bash
# The tour's words: for each lab, the note's claim, what is run and what to
# look at, in English and in Chinese (the note's own language), and the lighter
# options --quick uses, all read from the lab's declaration (declare.sh). The
# report card's claims are netlab-report's table of claims
# (tools/report/claims.tsv), in both languages.
# Sourced by scripts/lab after declare.sh; defines data and functions only (no trap, no side effects).

# narration LAB LANG: three lines, "claim", "run" and "look", tab-separated,
# from the lab's declaration (declare.sh: lab-claim, lab-claim-zh, ...).
narration() {
  local lab=$1 suffix="" key value
  local -a lines=()
  [[ $2 == en ]] || suffix=-$2
  for key in claim run look; do
    value=$(lab_field "$lab" "$key$suffix")
    lines+=("$value")
  done
  if [[ -z ${lines[0]} ]]; then
    lines=("(no narration for $lab)" "scripts/labs/$lab.sh" "its summary.md")
  fi
  printf '%s\t%s\t%s\n' "${lines[@]}"
}

# tour_args LAB QUICK: the options the tour gives the lab (before and after its
# "--"), from its declaration: lab-tour, or with --quick (QUICK=1) lab-tour-quick.
# The tour never waits out TIME_WAIT's 60 s (scripts/lab timewait alone does);
# --quick also sends fewer messages and requests.
tour_args() {
  if (($2)); then lab_field "$1" tour-quick; else lab_field "$1" tour; fi
}

# shellcheck shell=bash
# tests/lib/cases.sh: tables of cases, a line a case, in files next to the
# scripts that read them (hostile.cases, refusals.cases): a new case is a
# new line, not new shell.
#
# cases_each FILE N FUNCTION: FUNCTION with the N columns of every line of
# FILE that is neither blank nor a comment ("#" first).  Columns are
# separated by "|" and trimmed; the last is the rest of the line, so it
# alone may hold "|".  The first names the case.  Bails out on a line with
# fewer columns, without a name, or with a name seen before, so that a
# broken table cannot pass by testing less.  FUNCTION's standard input is
# not the file.
cases_each() {
	local file=$1 n=$2 fn=$3 line rest i cols
	local -A seen=()

	[ -r "$file" ] || bail_out "cannot read $file"
	while IFS= read -r line <&3 || [ -n "$line" ]; do
		case $line in
		''|'#'*)	continue ;;
		esac
		cols=()
		rest=$line
		for ((i = 1; i < n; i++)); do
			[[ $rest == *'|'* ]] ||
			    bail_out "${file##*/}: fewer than $n columns: $line"
			cols+=("$(cases_trim "${rest%%|*}")")
			rest=${rest#*|}
		done
		cols+=("$(cases_trim "$rest")")
		[ -n "${cols[0]}" ] || bail_out "${file##*/}: no name: $line"
		[ -z "${seen[${cols[0]}]:-}" ] ||
		    bail_out "${file##*/}: case '${cols[0]}' appears twice"
		seen[${cols[0]}]=1
		"$fn" "${cols[@]}"
	done 3<"$file"
}

# cases_trim STRING: STRING without the blanks around it.
cases_trim() {
	local s=$1
	s=${s#"${s%%[![:space:]]*}"}
	s=${s%"${s##*[![:space:]]}"}
	printf '%s' "$s"
}

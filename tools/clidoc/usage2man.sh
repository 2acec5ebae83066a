#!/bin/sh
# usage2man.sh PROGRAM DESCRIPTION < USAGE > PAGE.1: a man page from a program's own --help
# text, for binaries whose command line is not CLI11 (boulder), so their page is generated at
# build time like the others and cannot drift from what the binary accepts.
set -eu
program=$1
description=$2
printf '.TH %s 1 "ONIX" "ONIX" "ONIX manual"\n' "$program"
printf '.SH NAME\n%s \\- %s\n' "$program" "$description"
printf '.SH SYNOPSIS\n.nf\n'
sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e 's/^usage: //' -e 's/^\([.'"'"']\)/\\\&\1/'
printf '.fi\n.SH EXIT STATUS\n0 on success, 1 when the build or step failed, 2 for bad input (recipe, arguments).\n'
printf '.SH SEE ALSO\nmoss(1), onix(1); docs/recipes.md and docs/boulder.md in the ONIX sources.\n'

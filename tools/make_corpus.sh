#!/bin/sh
# make_corpus.sh — build data/corpus/{train,valid}.txt for lowbit's embedded model.
#
# Source: the King James Version of the Bible (1611; public domain) as shipped
# in Debian's `bible-kjv-text` package. That package stores the text in the
# compressed random-access format of Chip Chapin's "Bible Retrieval System",
# so the decoder from the `bible-kjv` package is downloaded as well and used
# only to print the text. Nothing is installed: both .deb files are unpacked
# with `dpkg -x` into a temporary folder.
#
# Output format: one verse per line, verse text only (the "Ge1:1 " reference
# that `bible -f` prints before each verse is removed), lines ending in "\n",
# plain ASCII (hence UTF-8). No other normalisation.
#
# Split (by book, canonical order kept):
#   valid.txt = the 13 Pauline epistles, Romans .. Philemon (books 45-57), contiguous
#   train.txt = all other books: Genesis .. Acts, then Hebrews .. Revelation
#
# Usage: sh tools/make_corpus.sh            (from the repository root)
# Needs: apt-get (with package lists; run `apt-get update` if download fails),
#        dpkg, awk, an amd64 machine to run the decoder.
set -eu

ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
OUTDIR="$ROOT/data/corpus"
TEXT_PKG="bible-kjv-text${KJV_TEXT_VERSION:+=$KJV_TEXT_VERSION}"
TOOL_PKG="bible-kjv${KJV_TOOL_VERSION:+=$KJV_TOOL_VERSION}"

WORK=$(mktemp -d /tmp/lowbit-corpus.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM

chmod 755 "$WORK"   # lets apt's _apt user write the downloads
cd "$WORK"
apt-get download "$TEXT_PKG" "$TOOL_PKG"
for deb in ./*.deb; do dpkg -x "$deb" root; done
for deb in ./*.deb; do dpkg-deb -f "$deb" Package Version | paste -sd " " -; done

# -f toggles pretty-printing OFF: one verse per line, prefixed by its reference.
root/usr/bin/bible -p "$WORK/root/usr/lib" -f "Gen1:1-Rev22:21" > all.txt
verses=$(wc -l < all.txt)
if [ "$verses" -ne 31102 ]; then
  echo "make_corpus: expected 31102 verses, got $verses" >&2; exit 1
fi

mkdir -p "$OUTDIR"
# The reference is "<Book><chapter>:<verse>"; book abbreviations as printed by bible(1).
awk -v train="$WORK/train.txt" -v valid="$WORK/valid.txt" '
  BEGIN { split("Rom 1Cor 2Cor Gal Eph Phi Col 1Th 2Th 1Tim 2Tim Titus Phmn", v, " ");
          for (i in v) pauline[v[i]] = 1 }
  {
    ref = $1; book = ref; sub(/[0-9]+:[0-9]+$/, "", book)
    if (book == "" || book == ref) { print "make_corpus: bad line " NR ": " $0 > "/dev/stderr"; exit 1 }
    text = $0; sub(/^[^ ]+ /, "", text)
    if (book in pauline) { print text > valid; nv++ } else { print text > train; nt++ }
  }
  END { if (nv != 2033) { print "make_corpus: expected 2033 valid verses, got " nv > "/dev/stderr"; exit 1 }
        printf "train: %d verses, valid: %d verses\n", nt, nv }
' all.txt

# Move into place only when both files are complete.
mv "$WORK/train.txt" "$OUTDIR/train.txt.tmp"
mv "$WORK/valid.txt" "$OUTDIR/valid.txt.tmp"
mv "$OUTDIR/train.txt.tmp" "$OUTDIR/train.txt"
mv "$OUTDIR/valid.txt.tmp" "$OUTDIR/valid.txt"
wc -c "$OUTDIR/train.txt" "$OUTDIR/valid.txt"
sha256sum "$OUTDIR/train.txt" "$OUTDIR/valid.txt" 2>/dev/null || true

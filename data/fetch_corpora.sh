#!/usr/bin/env bash
# Fetches muft's corpora from Debian packages (no installation, no root needed
# beyond what `apt-get download` asks for), cleans them and writes deterministic
# train/validation splits:
#
#   data/corpora/gcide/{train,val}.txt     pretraining corpus (GNU Collaborative
#                                          International Dictionary of English)
#   data/corpora/fortunes/{train,val}.txt  fine-tuning corpus (fortune cookies)
#   data/corpora/devil/{train,val}.txt     fine-tuning corpus (Bierce's Devil's Dictionary)
#   data/corpora/jargon/{train,val}.txt    fine-tuning corpus (the Jargon File)
#   data/corpora/debref/{train,val}.txt    fine-tuning corpus (the Debian Reference manual)
#   data/corpora/digits/digits.csv         8x8 handwritten digits (sklearn copy)
#   data/corpora/MANIFEST                  sizes + sha256 of every file above
#
# The expected checksums are committed in data/corpora.sha256; a re-run with the
# outputs present only verifies them (a second or so). Usage:
#   data/fetch_corpora.sh [--force]     (--force: rebuild even when present)
# Exit codes: 0 ok, 1 failure (missing tool, download failed, checksum mismatch).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="$here/cache"
out="$here/corpora"
expected="$here/corpora.sha256"
force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fetch_corpora.sh: unknown argument '$arg' (expected --force or --help)" >&2; exit 1 ;;
  esac
done

files=(gcide/train.txt gcide/val.txt fortunes/train.txt fortunes/val.txt
       devil/train.txt devil/val.txt jargon/train.txt jargon/val.txt
       debref/train.txt debref/val.txt digits/digits.csv)

verify() {  # verifies outputs against the committed checksums; 0 when they match
  [[ -f "$expected" ]] || return 1
  for f in "${files[@]}"; do [[ -f "$out/$f" ]] || return 1; done
  (cd "$out" && sha256sum --quiet --strict -c "$expected" >/dev/null 2>&1)
}

if [[ $force -eq 0 ]] && verify; then
  echo "corpora present and verified in $out"
  exit 0
fi

py=/usr/bin/python3
for tool in apt-get dpkg sha256sum "$py"; do
  command -v "$tool" >/dev/null || { echo "fetch_corpora.sh: '$tool' not found (Debian tools required)" >&2; exit 1; }
done

# 1. Download the .deb files (cached) and unpack them without installing.
mkdir -p "$cache/debs" "$cache/root"
pkgs=(dict-gcide fortunes fortunes-min python3-sklearn dict-devil dict-jargon debian-reference-en)
for p in "${pkgs[@]}"; do
  if ! compgen -G "$cache/debs/${p}_*.deb" >/dev/null; then
    echo "downloading $p ..."
    (cd "$cache/debs" && apt-get download "$p" >/dev/null 2>&1) ||
      { echo "fetch_corpora.sh: 'apt-get download $p' failed (network or apt sources?)" >&2; exit 1; }
  fi
  dpkg -x "$(compgen -G "$cache/debs/${p}_*.deb" | head -n1)" "$cache/root"
done

gcide_dz="$cache/root/usr/share/dictd/gcide.dict.dz"
fortune_dir="$cache/root/usr/share/games/fortunes"
digits_gz="$cache/root/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
devil_dz="$cache/root/usr/share/dictd/devil.dict.dz"
jargon_dz="$cache/root/usr/share/dictd/jargon.dict.dz"
debref_gz="$cache/root/usr/share/debian-reference/debian-reference.en.txt.gz"
for f in "$gcide_dz" "$fortune_dir" "$digits_gz" "$devil_dz" "$jargon_dz" "$debref_gz"; do
  [[ -e "$f" ]] || { echo "fetch_corpora.sh: expected '$f' in the unpacked packages" >&2; exit 1; }
done

# 2. Clean and split (Python stdlib only; deterministic: no sets, no randomness).
mkdir -p "$out/gcide" "$out/fortunes" "$out/digits" "$out/devil" "$out/jargon" "$out/debref"
"$py" - "$gcide_dz" "$fortune_dir" "$digits_gz" "$out" "$devil_dz" "$jargon_dz" "$debref_gz" <<'PY'
import gzip, hashlib, os, re, sys

gcide_dz, fortune_dir, digits_gz, out, devil_dz, jargon_dz, debref_gz = sys.argv[1:8]

def is_val(tag, index, val_percent):
    """Deterministic split: a record goes to validation when the first 8 bytes
    of sha256("<tag>:<index>") modulo 100 fall below val_percent."""
    h = hashlib.sha256(f"{tag}:{index}".encode()).digest()
    return int.from_bytes(h[:8], "little") % 100 < val_percent

def write_split(name, records, val_percent, sep):
    train, val = [], []
    for i, r in enumerate(records):
        (val if is_val(name, i, val_percent) else train).append(r)
    for split, recs in (("train", train), ("val", val)):
        path = os.path.join(out, name, split + ".txt")
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            for r in recs:
                f.write(r)
                f.write(sep)
        os.replace(tmp, path)
    print(f"{name}: {len(train)} train / {len(val)} val records")

# --- GCIDE (dictd format: dictzip = gzip-compatible text) -------------------
text = gzip.open(gcide_dz, "rb").read().decode("utf-8", errors="replace")
source_tag = re.compile(r"^\s*\[(?:1913 Webster|Webster 1913 Suppl\.|WordNet 1\.5|PJC|RN|Century Dict\.|Chambers 1881|[^\]]{0,40}(?:Webster|WordNet|PJC|Dict\.|Suppl\.))[^\]]*\]\s*$")
pron = re.compile(r"\s*\([^()]*\[[^()]*\)")      # pronunciations such as ([.a]*b[a^]k")
spelling = re.compile(r"\\[^\\\n]*\\")             # syllabified headword \A*back"\
accent = re.compile(r"\[([=.^~'\"`]?)([a-zA-Z]{1,2})([=.^~'\"`]?)\]")  # [a^] -> a
inline_tag = re.compile(r"\s*\[(?:1913 Webster|Webster 1913 Suppl\.|WordNet 1\.5|PJC|RN)\]")
entities = {"eth": "\u00f0", "thorn": "\u00fe", "deg": "\u00b0", "root": "\u221a", "imac": "\u012b",
            "aum": "\u00e4", "ae": "\u00e6", "oe": "\u0153", "frac12": "1/2", "frac14": "1/4"}
records = []
for para in re.split(r"\n[ \t]*\n", text):
    lines = [l for l in para.split("\n") if l.strip() and not source_tag.match(l)]
    if not lines:
        continue
    p = " ".join(l.strip() for l in lines)
    if p.startswith("00-database") or p.startswith("00database"):
        continue
    p = spelling.sub("", p)
    p = pron.sub("", p)
    p = accent.sub(r"\2", p)
    p = p.replace("{", "").replace("}", "")
    p = inline_tag.sub("", p)
    for k, v in entities.items():
        p = p.replace("[" + k + "]", v)
    p = re.sub(r"\s+([,;.])", r"\1", p)
    p = re.sub(r"\s+", " ", p).strip()
    if len(p) >= 20:
        records.append(p)
write_split("gcide", records, 2, "\n")

# --- fortunes (records separated by a line holding only '%') ----------------
records = []
for fname in sorted(os.listdir(fortune_dir)):
    path = os.path.join(fortune_dir, fname)
    if fname.endswith(".dat") or os.path.islink(path) or not os.path.isfile(path):
        continue
    raw = open(path, "rb").read().decode("utf-8", errors="replace")
    for rec in re.split(r"\n%\n", raw.replace("\r\n", "\n")):
        rec = rec.strip("\n").replace("\t", "    ")
        rec = "\n".join(l.rstrip() for l in rec.split("\n"))
        if rec.strip() and rec.strip() != "%":
            records.append(rec)
write_split("fortunes", records, 5, "\n%\n")

# --- further fine-tuning tasks (paper-toy v2): paragraphs, whitespace collapsed -----------
def paragraphs(text, skip_prefixes=()):
    """Blank-line separated paragraphs, one per line, whitespace collapsed, >= 20 bytes."""
    out_records = []
    for para in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")):
        p = re.sub(r"\s+", " ", para).strip()
        if len(p) < 20 or any(p.startswith(x) for x in skip_prefixes):
            continue
        out_records.append(p)
    return out_records

# dictd files: the 00-database-* header entries are metadata, not text.
for name, path, pct in (("devil", devil_dz, 10), ("jargon", jargon_dz, 5)):
    text = gzip.open(path, "rb").read().decode("utf-8", errors="replace")
    write_split(name, paragraphs(text, ("00-database", "00database")), pct, "\n")
# The Debian Reference manual (plain-text edition): technical prose, far from a dictionary.
text = gzip.open(debref_gz, "rb").read().decode("utf-8", errors="replace")
write_split("debref", paragraphs(text), 5, "\n")

# --- digits -----------------------------------------------------------------
data = gzip.open(digits_gz, "rb").read()
path = os.path.join(out, "digits", "digits.csv")
with open(path + ".tmp", "wb") as f:
    f.write(data)
os.replace(path + ".tmp", path)
print("digits: %d rows" % data.count(b"\n"))
PY

# 3. Manifest and checksums.
(
  cd "$out"
  {
    echo "# muft corpora: file, bytes, sha256 (made by data/fetch_corpora.sh)"
    for f in "${files[@]}"; do echo "$f $(stat -c %s "$f") $(sha256sum "$f" | cut -d' ' -f1)"; done
  } >MANIFEST.tmp && mv MANIFEST.tmp MANIFEST
)
if [[ -f "$expected" ]]; then
  if ! (cd "$out" && sha256sum --quiet --strict -c "$expected"); then
    echo "fetch_corpora.sh: outputs differ from data/corpora.sha256 (different package versions?)" >&2
    exit 1
  fi
  echo "corpora verified against data/corpora.sha256"
else
  (cd "$out" && sha256sum "${files[@]}") >"$expected"
  echo "wrote $expected (commit it)"
fi
cat "$out/MANIFEST"

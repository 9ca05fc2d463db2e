#pragma once
/// \file data.h
/// The data pipeline without LibTorch: byte corpora in memory, batch windows
/// that are a pure function of (seed, step, row) — which makes resume bit-exact
/// and lets every data-parallel rank take its own rows of one global batch —,
/// evaluation windows, a deterministic record split and a synthetic corpus for tests.

#include <cstdint>
#include <string>
#include <vector>

namespace muft::train {

/// A byte-level token stream (one token per byte) held in memory.
class TextCorpus {
 public:
  TextCorpus() = default;
  /// Wraps text; name is used in messages.
  TextCorpus(std::string text, std::string name);
  /// Reads a whole file (path as given; see resolve_data_path). Throws std::runtime_error naming
  /// the file and the data directory when it is missing or unreadable, pointing at
  /// data/fetch_corpora.sh.
  static TextCorpus from_file(const std::string& path);

  const std::string& text() const { return text_; }
  const std::string& name() const { return name_; }
  /// Number of tokens (= bytes).
  int64_t size() const { return static_cast<int64_t>(text_.size()); }
  /// Token at position i (0..255).
  int64_t token(int64_t i) const { return static_cast<unsigned char>(text_[i]); }

 private:
  std::string text_;
  std::string name_;
};

/// The data directory corpus paths are relative to: set_data_dir() (muft-train --data-dir) if
/// called, else the environment variable MUFT_DATA_DIR, else the repository's data/corpora
/// (compiled in), wherever the command is started.
std::string data_dir();
/// Overrides the data directory for this process ("" restores the default rule).
void set_data_dir(const std::string& dir);
/// Where a corpus path from a config points: absolute paths as given; a relative path under the
/// data directory, with a leading "data/corpora/" (muft 0.1's repository-relative defaults)
/// dropped first, so configs written by earlier runs still resolve.
std::string resolve_data_path(const std::string& path);

/// 64-bit SplitMix hash of (seed, a, b): the counter-based generator behind batch sampling.
uint64_t mix_hash(uint64_t seed, uint64_t a, uint64_t b);

/// Start offsets of the global_batch training windows of one step. Row i starts at
/// mix_hash(seed, step, i) mod (corpus_size − context), so every window holds context + 1
/// tokens (inputs and shifted targets). Deterministic in (seed, step) only.
/// Throws std::invalid_argument when corpus_size ≤ context or a size is not positive.
std::vector<int64_t> batch_offsets(uint64_t seed, int64_t step, int64_t global_batch,
                                   int64_t corpus_size, int64_t context);

/// Rows [row_begin, row_end) of a data-parallel shard: rank r of world w takes rows
/// [r·B/w, (r+1)·B/w) of the global batch B (B must be divisible by w).
std::pair<int64_t, int64_t> shard_rows(int64_t global_batch, int64_t rank, int64_t world_size);

/// Fills x and y (row-major, rows × context) with the windows of offsets[row_begin..row_end):
/// x[r][t] = corpus[o_r + t], y[r][t] = corpus[o_r + t + 1].
void fill_windows(const TextCorpus& corpus, const std::vector<int64_t>& offsets, int64_t row_begin,
                  int64_t row_end, int64_t context, std::vector<int64_t>* x,
                  std::vector<int64_t>* y);

/// Offsets of consecutive non-overlapping evaluation windows (stride = context) from the
/// start of a corpus, at most max_windows of them (0 = all). Deterministic.
std::vector<int64_t> eval_offsets(int64_t corpus_size, int64_t context, int64_t max_windows);

/// A train/validation split of records.
struct RecordSplit {
  std::vector<std::string> train;
  std::vector<std::string> val;
};

/// Deterministic split: record i goes to validation when mix_hash(hash(tag), i, 0) mod 100 <
/// val_percent. Same records and tag → same split, independent of anything else.
/// Throws std::invalid_argument when val_percent is outside [0, 100].
RecordSplit split_records(const std::vector<std::string>& records, const std::string& tag,
                          int val_percent);

/// A tiny synthetic "language" for tests: sentences built from a fixed vocabulary of words by
/// a seeded first-order Markov chain, so a model can learn it quickly (low conditional entropy)
/// and the unigram baseline is clearly worse. Deterministic in (n_bytes, seed).
std::string synthetic_text(int64_t n_bytes, uint64_t seed);

}  // namespace muft::train

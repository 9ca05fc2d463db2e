#include "muft/train/data.h"

#include <cstdlib>
#include <mutex>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace muft::train {

TextCorpus::TextCorpus(std::string text, std::string name)
    : text_(std::move(text)), name_(std::move(name)) {}

namespace {
std::mutex& data_dir_mutex() {
  static std::mutex m;
  return m;
}
std::string& data_dir_override() {
  static std::string d;
  return d;
}
}  // namespace

std::string data_dir() {
  {
    const std::lock_guard<std::mutex> lock(data_dir_mutex());
    if (!data_dir_override().empty()) return data_dir_override();
  }
  if (const char* env = std::getenv("MUFT_DATA_DIR"); env && *env) return env;
  return MUFT_DEFAULT_DATA_DIR;
}

void set_data_dir(const std::string& dir) {
  const std::lock_guard<std::mutex> lock(data_dir_mutex());
  data_dir_override() = dir;
}

std::string resolve_data_path(const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  std::string rel = path;
  const std::string legacy = "data/corpora/";
  if (rel.compare(0, legacy.size(), legacy) == 0) rel = rel.substr(legacy.size());
  return data_dir() + "/" + rel;
}

TextCorpus TextCorpus::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read corpus '" + path + "' (data directory " + data_dir() +
                             "; set --data-dir or MUFT_DATA_DIR, or run data/fetch_corpora.sh "
                             "to create the corpora)");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw std::runtime_error("error while reading corpus '" + path + "'");
  return TextCorpus(ss.str(), path);
}

uint64_t mix_hash(uint64_t seed, uint64_t a, uint64_t b) {
  auto splitmix = [](uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  return splitmix(splitmix(splitmix(seed) ^ a) ^ (b * 0x632be59bd9b4e019ULL));
}

std::vector<int64_t> batch_offsets(uint64_t seed, int64_t step, int64_t global_batch,
                                   int64_t corpus_size, int64_t context) {
  if (global_batch <= 0 || context <= 0) {
    throw std::invalid_argument("batch size and context must be positive");
  }
  if (corpus_size <= context) {
    throw std::invalid_argument("corpus of " + std::to_string(corpus_size) +
                                " tokens is too small for context " + std::to_string(context) +
                                " (needs more than context tokens)");
  }
  const uint64_t range = static_cast<uint64_t>(corpus_size - context);
  std::vector<int64_t> off(static_cast<size_t>(global_batch));
  for (int64_t i = 0; i < global_batch; ++i) {
    off[static_cast<size_t>(i)] =
        static_cast<int64_t>(mix_hash(seed, static_cast<uint64_t>(step), i) % range);
  }
  return off;
}

std::pair<int64_t, int64_t> shard_rows(int64_t global_batch, int64_t rank, int64_t world_size) {
  if (world_size <= 0 || rank < 0 || rank >= world_size) {
    throw std::invalid_argument("rank " + std::to_string(rank) + " is outside [0, world size " +
                                std::to_string(world_size) + ")");
  }
  if (global_batch % world_size != 0) {
    throw std::invalid_argument("global batch " + std::to_string(global_batch) +
                                " is not divisible by world size " + std::to_string(world_size));
  }
  const int64_t per = global_batch / world_size;
  return {rank * per, (rank + 1) * per};
}

void fill_windows(const TextCorpus& corpus, const std::vector<int64_t>& offsets, int64_t row_begin,
                  int64_t row_end, int64_t context, std::vector<int64_t>* x,
                  std::vector<int64_t>* y) {
  const int64_t rows = row_end - row_begin;
  x->resize(static_cast<size_t>(rows * context));
  y->resize(static_cast<size_t>(rows * context));
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = offsets.at(static_cast<size_t>(row_begin + r));
    if (o < 0 || o + context + 1 > corpus.size()) {
      throw std::out_of_range("window at " + std::to_string(o) + " leaves corpus '" +
                              corpus.name() + "'");
    }
    for (int64_t t = 0; t < context; ++t) {
      (*x)[static_cast<size_t>(r * context + t)] = corpus.token(o + t);
      (*y)[static_cast<size_t>(r * context + t)] = corpus.token(o + t + 1);
    }
  }
}

std::vector<int64_t> eval_offsets(int64_t corpus_size, int64_t context, int64_t max_windows) {
  std::vector<int64_t> off;
  for (int64_t o = 0; o + context + 1 <= corpus_size; o += context) {
    if (max_windows > 0 && static_cast<int64_t>(off.size()) >= max_windows) break;
    off.push_back(o);
  }
  return off;
}

RecordSplit split_records(const std::vector<std::string>& records, const std::string& tag,
                          int val_percent) {
  if (val_percent < 0 || val_percent > 100) {
    throw std::invalid_argument("validation percentage must be in [0, 100], got " +
                                std::to_string(val_percent));
  }
  uint64_t tag_hash = 1469598103934665603ULL;  // FNV-1a of the tag
  for (char c : tag) tag_hash = (tag_hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  RecordSplit s;
  for (size_t i = 0; i < records.size(); ++i) {
    const bool val = static_cast<int>(mix_hash(tag_hash, i, 0) % 100) < val_percent;
    (val ? s.val : s.train).push_back(records[i]);
  }
  return s;
}

std::string synthetic_text(int64_t n_bytes, uint64_t seed) {
  static const char* const kWords[] = {"the",   "cat",  "sat",   "on",    "a",     "mat",
                                       "dog",   "ran",  "to",    "house", "big",   "red",
                                       "small", "and",  "bird",  "sang",  "tree",  "under",
                                       "sun",   "moon", "light", "over",  "river", "stone"};
  constexpr uint64_t kN = sizeof(kWords) / sizeof(kWords[0]);
  std::string out;
  out.reserve(static_cast<size_t>(n_bytes) + 16);
  uint64_t prev = 0, counter = 0;
  int64_t in_sentence = 0;
  while (static_cast<int64_t>(out.size()) < n_bytes) {
    // Each word has 3 likely successors (a sparse transition table): learnable structure.
    const uint64_t r = mix_hash(seed, counter++, 1);
    const uint64_t next = (prev * 7 + 1 + (r % 3) * 5) % kN;
    out += kWords[next];
    prev = next;
    if (++in_sentence >= 4 + static_cast<int64_t>(r % 5)) {
      out += ".\n";
      in_sentence = 0;
    } else {
      out += ' ';
    }
  }
  out.resize(static_cast<size_t>(n_bytes));
  return out;
}

}  // namespace muft::train

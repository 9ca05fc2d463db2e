#include "muft/train/data.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "muft/train/tokenizer.h"

namespace muft::train {
namespace {

TEST(BatchOffsetsTest, DeterministicInSeedAndStepOnly) {
  const auto a = batch_offsets(7, 12, 16, 10000, 32);
  const auto b = batch_offsets(7, 12, 16, 10000, 32);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, batch_offsets(7, 13, 16, 10000, 32));  // next step: another batch
  EXPECT_NE(a, batch_offsets(8, 12, 16, 10000, 32));  // another seed: another order
  for (int64_t o : a) {
    EXPECT_GE(o, 0);
    EXPECT_LT(o, 10000 - 32);  // a window of context + 1 tokens fits
  }
  // A bigger global batch extends the smaller one: row i does not depend on the batch size.
  const auto big = batch_offsets(7, 12, 32, 10000, 32);
  EXPECT_TRUE(std::equal(a.begin(), a.end(), big.begin()));
}

TEST(BatchOffsetsTest, CoversTheCorpusRoughlyUniformly) {
  // 20000 windows over 10 buckets: each bucket should get ~2000 (binomial sd ~42).
  int counts[10] = {};
  for (int64_t s = 0; s < 1000; ++s) {
    for (int64_t o : batch_offsets(3, s, 20, 1001, 1)) ++counts[o / 100];
  }
  for (int c : counts) EXPECT_NEAR(c, 2000, 250);
}

TEST(BatchOffsetsTest, RejectsTooSmallCorpus) {
  EXPECT_THROW(batch_offsets(0, 0, 4, 32, 32), std::invalid_argument);
  EXPECT_THROW(batch_offsets(0, 0, 0, 100, 32), std::invalid_argument);
}

TEST(ShardRowsTest, RanksPartitionTheGlobalBatch) {
  EXPECT_EQ(shard_rows(8, 0, 1), (std::pair<int64_t, int64_t>(0, 8)));
  EXPECT_EQ(shard_rows(8, 0, 2), (std::pair<int64_t, int64_t>(0, 4)));
  EXPECT_EQ(shard_rows(8, 1, 2), (std::pair<int64_t, int64_t>(4, 8)));
  EXPECT_THROW(shard_rows(9, 0, 2), std::invalid_argument);
  EXPECT_THROW(shard_rows(8, 2, 2), std::invalid_argument);
}

TEST(FillWindowsTest, TargetsAreInputsShiftedByOne) {
  TextCorpus c("abcdefghij", "mem");
  std::vector<int64_t> x, y;
  fill_windows(c, {0, 5, 2}, 1, 3, 4, &x, &y);  // rows 1 and 2: offsets 5 and 2
  EXPECT_EQ(x, (std::vector<int64_t>{'f', 'g', 'h', 'i', 'c', 'd', 'e', 'f'}));
  EXPECT_EQ(y, (std::vector<int64_t>{'g', 'h', 'i', 'j', 'd', 'e', 'f', 'g'}));
  EXPECT_THROW(fill_windows(c, {6}, 0, 1, 4, &x, &y), std::out_of_range);  // 6 + 5 > 10
}

TEST(EvalOffsetsTest, ConsecutiveNonOverlappingWindows) {
  EXPECT_EQ(eval_offsets(10, 3, 0), (std::vector<int64_t>{0, 3, 6}));  // 6 + 4 ≤ 10
  EXPECT_EQ(eval_offsets(10, 3, 2), (std::vector<int64_t>{0, 3}));
  EXPECT_TRUE(eval_offsets(3, 3, 0).empty());
}

TEST(SplitRecordsTest, DeterministicDisjointAndProportional) {
  std::vector<std::string> recs;
  for (int i = 0; i < 4000; ++i) recs.push_back("record " + std::to_string(i));
  const auto a = split_records(recs, "gcide", 10);
  const auto b = split_records(recs, "gcide", 10);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.val, b.val);
  EXPECT_EQ(a.train.size() + a.val.size(), recs.size());
  std::set<std::string> tr(a.train.begin(), a.train.end());
  for (const auto& v : a.val) EXPECT_EQ(tr.count(v), 0u);
  EXPECT_NEAR(static_cast<double>(a.val.size()), 400.0, 60.0);  // binomial sd ≈ 19
  const auto c = split_records(recs, "fortunes", 10);           // another tag, another split
  EXPECT_NE(a.val, c.val);
  EXPECT_TRUE(split_records(recs, "x", 0).val.empty());
  EXPECT_TRUE(split_records(recs, "x", 100).train.empty());
  EXPECT_THROW(split_records(recs, "x", 101), std::invalid_argument);
}

TEST(SyntheticTextTest, DeterministicAndLearnable) {
  const std::string a = synthetic_text(5000, 1);
  EXPECT_EQ(a.size(), 5000u);
  EXPECT_EQ(a, synthetic_text(5000, 1));
  EXPECT_NE(a, synthetic_text(5000, 2));
  // Structure a model can learn: byte bigrams are far more predictable than unigrams.
  // Conditional entropy H(next | current) estimated from bigram counts.
  std::map<std::pair<char, char>, double> bi;
  std::map<char, double> uni;
  for (size_t i = 0; i + 1 < a.size(); ++i) {
    bi[{a[i], a[i + 1]}] += 1;
    uni[a[i]] += 1;
  }
  double h_cond = 0;
  const double n = static_cast<double>(a.size() - 1);
  for (const auto& [k, c] : bi) h_cond -= c / n * std::log2(c / uni[k.first]);
  const double h_uni = unigram_entropy_bits(a);
  EXPECT_LT(h_cond, 0.6 * h_uni) << "bigram " << h_cond << " vs unigram " << h_uni;
}

TEST(TextCorpusTest, MissingFileNamesTheFetchScript) {
  try {
    TextCorpus::from_file("/nonexistent/muft/corpus.txt");
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("fetch_corpora.sh"), std::string::npos);
  }
}

}  // namespace
}  // namespace muft::train

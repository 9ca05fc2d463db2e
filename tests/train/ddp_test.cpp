#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "muft/checkpoint/checkpoint.h"
#include "muft/train/distributed.h"
#include "muft/train/trainer.h"
#include "muft/train/trainer_checkpoint.h"
#include "test_util.h"

namespace muft::train {
namespace {

namespace fs = std::filesystem;

/// A TCP port that was free a moment ago (bind to port 0, read it back, close).
int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

DistributedOptions rank_options(int64_t rank, int port) {
  DistributedOptions o;
  o.rank = rank;
  o.world_size = 2;
  o.master_addr = "127.0.0.1";
  o.master_port = port;
  o.timeout_seconds = 60;
  return o;
}

/// Runs f(rank, context) on two threads, each with its own ProcessGroupGloo on loopback.
template <class F>
void with_two_ranks(F f) {
  const int port = free_port();
  std::exception_ptr errs[2];
  std::thread t1([&] {
    try {
      DistributedContext ctx(rank_options(1, port));
      f(1, ctx);
    } catch (...) {
      errs[1] = std::current_exception();
    }
  });
  try {
    DistributedContext ctx(rank_options(0, port));
    f(0, ctx);
  } catch (...) {
    errs[0] = std::current_exception();
  }
  t1.join();
  for (auto& e : errs) {
    if (e) std::rethrow_exception(e);
  }
}

TEST(DistributedTest, AllReduceMeanAndBroadcast) {
  torch::Tensor got[2], bc[2];
  double scalar[2];
  with_two_ranks([&](int64_t rank, DistributedContext& ctx) {
    EXPECT_EQ(ctx.world_size(), 2);
    torch::Tensor a = torch::full({2, 3}, rank == 0 ? 1.0f : 3.0f);
    torch::Tensor b = torch::arange(4, torch::kFloat32) * static_cast<float>(rank + 1);
    ctx.all_reduce_mean({a, torch::Tensor(), b});  // undefined tensors are skipped
    got[rank] = torch::cat({a.reshape({-1}), b});
    torch::Tensor c = torch::full({3}, static_cast<float>(10 + rank));
    ctx.broadcast({c}, 0);
    bc[rank] = c;
    scalar[rank] = ctx.all_reduce_mean(static_cast<double>(rank));
    ctx.barrier();
  });
  const torch::Tensor expect = torch::cat({torch::full({6}, 2.0f), torch::arange(4) * 1.5f});
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(torch::equal(got[r], expect)) << got[r];
    EXPECT_TRUE(torch::equal(bc[r], torch::full({3}, 10.0f)));
    EXPECT_EQ(scalar[r], 0.5);
  }
}

TEST(DistributedTest, SingleProcessContextIsANoOp) {
  DistributedContext ctx;
  torch::Tensor a = torch::ones({3});
  ctx.all_reduce_mean({a});
  EXPECT_TRUE(torch::equal(a, torch::ones({3})));
  EXPECT_EQ(ctx.all_reduce_mean(4.0), 4.0);
  DistributedOptions bad;
  bad.rank = 2;
  bad.world_size = 2;
  EXPECT_THROW(DistributedContext{bad}, std::invalid_argument);
}

TrainConfig ddp_config(OptimizerChoice opt) {
  TrainConfig c;
  c.model.sequence_len = 16;
  c.model.n_layer = 2;
  c.model.n_head = 2;
  c.model.n_embd = 16;
  c.optim.optimizer = opt;
  c.optim.matrix_lr = opt == OptimizerChoice::kAdamW ? 1e-2 : 0.05;
  c.optim.muon.ns.bf16 = false;  // float32 iterations: rounding differences stay at 1e-7
  c.schedule.kind = ScheduleKind::kConstant;
  c.schedule.warmup_ratio = 0;
  c.steps = 8;
  c.batch_size = 8;
  c.eval_every = 4;
  c.data.eval_windows = 6;
  c.seed = 11;
  c.threads = 1;
  return c;
}

TrainCorpora corpora() {
  TrainCorpora d;
  d.train = TextCorpus(synthetic_text(20000, 21), "train");
  d.val = TextCorpus(synthetic_text(2000, 22), "val");
  return d;
}

std::vector<checkpoint::NamedTensor> final_params(const fs::path& dir) {
  return checkpoint::read_checkpoint(RunDir(dir.string()).checkpoints().back().path).parameters;
}

/// max |a − b| / max |a| over all parameters.
double relative_difference(const std::vector<checkpoint::NamedTensor>& a,
                           const std::vector<checkpoint::NamedTensor>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto ta = from_named_tensor(a[i]), tb = from_named_tensor(b[i]);
    num = std::max(num, (ta - tb).abs().max().item<double>());
    den = std::max(den, ta.abs().max().item<double>());
  }
  return num / den;
}

class DdpEquivalenceTest : public ::testing::TestWithParam<OptimizerChoice> {};

TEST_P(DdpEquivalenceTest, TwoRanksEqualOneProcessWithSameGlobalBatch) {
  // Averaging two half-batch gradients differs from the full-batch mean only by float32
  // rounding (~1e-7 relative); after 8 steps of Adam/Muon this stays below kTol.
  constexpr double kTol = 1e-4;
  const std::string tag = to_string(GetParam());
  const fs::path one = fs::temp_directory_path() / ("muft_ddp1_" + tag + std::to_string(getpid()));
  const fs::path two = fs::temp_directory_path() / ("muft_ddp2_" + tag + std::to_string(getpid()));
  const fs::path half = fs::temp_directory_path() / ("muft_ddph_" + tag + std::to_string(getpid()));
  for (const auto& p : {one, two, half}) fs::remove_all(p);
  TrainOptions quiet;
  const TrainConfig c = ddp_config(GetParam());
  ASSERT_EQ(train_lm(c, corpora(), one.string(), quiet).status, RunStatus::kCompleted);

  with_two_ranks([&](int64_t, DistributedContext& ctx) {
    TrainOptions o = quiet;
    o.dist = &ctx;
    EXPECT_EQ(train_lm(c, corpora(), two.string(), o).status, RunStatus::kCompleted);
  });
  const double diff = relative_difference(final_params(one), final_params(two));
  RecordProperty("relative_difference", std::to_string(diff));
  std::printf("2 ranks vs 1 process: max relative parameter difference %.3g\n", diff);
  EXPECT_LT(diff, kTol);

  // The comparison can fail: training on rank 0's half of each batch alone is far off.
  TrainConfig h = c;
  h.batch_size = 4;
  ASSERT_EQ(train_lm(h, corpora(), half.string(), quiet).status, RunStatus::kCompleted);
  EXPECT_GT(relative_difference(final_params(one), final_params(half)), 100 * kTol);

  const auto m1 = RunDir(one.string()).read_metrics().rows;
  const auto m2 = RunDir(two.string()).read_metrics().rows;
  ASSERT_EQ(m1.size(), m2.size());
  EXPECT_NEAR(m1.back().val_loss, m2.back().val_loss, 1e-4);
  for (const auto& p : {one, two, half}) fs::remove_all(p);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, DdpEquivalenceTest,
                         ::testing::Values(OptimizerChoice::kAdamW, OptimizerChoice::kMuon),
                         [](const auto& info) { return to_string(info.param); });

}  // namespace
}  // namespace muft::train

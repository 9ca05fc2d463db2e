#include <unistd.h>

#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "muft/checkpoint/checkpoint.h"
#include "muft/train/param_groups.h"
#include "muft/train/trainer.h"
#include "muft/train/trainer_checkpoint.h"
#include "test_util.h"

namespace muft::train {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir(const std::string& tag) {
  const fs::path p =
      fs::temp_directory_path() / ("muft_resume_" + std::to_string(::getpid()) + "_" + tag);
  fs::remove_all(p);
  return p;
}

GPTConfig small_gpt() {
  GPTConfig g;
  g.sequence_len = 16;
  g.n_layer = 2;
  g.n_head = 2;
  g.n_embd = 16;
  return g;
}

/// One training step of model with opt on a fixed random batch.
void one_step(GPT& model, Optimizer& opt, int64_t seed) {
  torch::manual_seed(seed);
  const auto x = torch::randint(0, 260, {4, 16}, torch::kInt64);
  const auto y = torch::randint(0, 260, {4, 16}, torch::kInt64);
  model->loss(x, y).backward();
  opt.step();
  opt.zero_grad();
}

bool same_bits(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() && torch::equal(a, b);
}

TEST(CheckpointIoTest, ModelOptimizerAndRngRoundTripBitExactly) {
  const fs::path dir = temp_dir("io");
  fs::create_directories(dir);
  const std::string path = (dir / "ck.h5").string();
  ParamGroupOptions po;
  po.optimizer = OptimizerChoice::kMuon;
  po.model_dim = 16;

  torch::manual_seed(0);
  GPT a(small_gpt());
  Optimizer oa(build_param_groups(*a, po));
  for (int s = 0; s < 3; ++s) one_step(a, oa, s);
  checkpoint::Checkpoint ck;
  ck.step = 3;
  ck.config = {{"model", small_gpt().to_json()}};
  ck.parameters = module_parameters(*a);
  ck.optimizer_state = optimizer_state(oa);
  ck.rng_state = cpu_rng_state();
  checkpoint::write_checkpoint(path, ck);

  const checkpoint::Checkpoint back = checkpoint::read_checkpoint(path);
  EXPECT_EQ(back.step, 3);
  torch::manual_seed(123);  // different init: everything must come from the file
  GPT b(GPTConfig::from_json(back.config.at("model")));
  Optimizer ob(build_param_groups(*b, po));
  load_module_parameters(*b, back.parameters, /*strict=*/true);
  load_optimizer_state(ob, back.optimizer_state);
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& p : pa) EXPECT_TRUE(same_bits(p.value(), pb[p.key()])) << p.key();
  const auto sa = oa.state_tensors(), sb = ob.state_tensors();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first);
    EXPECT_TRUE(same_bits(sa[i].second, sb[i].second)) << sa[i].first;
  }
  // The restored pair continues exactly like the original.
  one_step(a, oa, 99);
  one_step(b, ob, 99);
  for (const auto& p : pa) EXPECT_TRUE(same_bits(p.value(), pb[p.key()])) << p.key();

  // RNG state: restoring it replays the same draws.
  set_cpu_rng_state(back.rng_state);
  const auto r1 = torch::rand({5});
  set_cpu_rng_state(back.rng_state);
  EXPECT_TRUE(torch::equal(r1, torch::rand({5})));
  EXPECT_THROW(set_cpu_rng_state({1, 2, 3}), std::invalid_argument);
  fs::remove_all(dir);
}

TEST(CheckpointIoTest, RejectsMismatchedTensors) {
  checkpoint::NamedTensor nt = to_named_tensor("w", torch::ones({2, 3}));
  EXPECT_EQ(nt.bytes.size(), 24u);
  EXPECT_TRUE(torch::equal(from_named_tensor(nt), torch::ones({2, 3})));
  nt.bytes.pop_back();
  EXPECT_THROW(from_named_tensor(nt), std::invalid_argument);
  torch::manual_seed(0);
  GPT g(small_gpt());
  auto params = module_parameters(*g);
  auto wrong_shape = params;
  wrong_shape[0] = to_named_tensor(params[0].name, torch::zeros({3}));
  EXPECT_THROW(load_module_parameters(*g, wrong_shape, true), std::invalid_argument);
  auto extra = params;
  extra.push_back(to_named_tensor("not.a.parameter", torch::zeros({1})));
  EXPECT_THROW(load_module_parameters(*g, extra, true), std::invalid_argument);
  params.pop_back();
  EXPECT_THROW(load_module_parameters(*g, params, true), std::invalid_argument);
  EXPECT_NO_THROW(load_module_parameters(*g, params, false));
}

TrainConfig resume_config(OptimizerChoice opt) {
  TrainConfig c;
  c.model = small_gpt();
  c.optim.optimizer = opt;
  c.optim.matrix_lr = opt == OptimizerChoice::kAdamW ? 1e-2 : 0.05;
  c.schedule.kind = ScheduleKind::kCosine;  // the lr changes every step: resume must track it
  c.schedule.warmup_ratio = 0.1;
  c.steps = 20;
  c.batch_size = 4;
  c.eval_every = 5;
  c.data.eval_windows = 4;
  c.seed = 3;
  c.threads = 1;
  return c;
}

TrainCorpora corpora() {
  TrainCorpora d;
  d.train = TextCorpus(synthetic_text(20000, 5), "train");
  d.val = TextCorpus(synthetic_text(2000, 6), "val");
  return d;
}

void expect_same_runs(const std::string& a, const std::string& b) {
  const auto ca = checkpoint::read_checkpoint(RunDir(a).checkpoints().back().path);
  const auto cb = checkpoint::read_checkpoint(RunDir(b).checkpoints().back().path);
  EXPECT_EQ(ca.step, cb.step);
  ASSERT_EQ(ca.parameters.size(), cb.parameters.size());
  for (size_t i = 0; i < ca.parameters.size(); ++i) {
    EXPECT_EQ(ca.parameters[i].name, cb.parameters[i].name);
    EXPECT_EQ(ca.parameters[i].bytes, cb.parameters[i].bytes) << ca.parameters[i].name;
  }
  ASSERT_EQ(ca.optimizer_state.size(), cb.optimizer_state.size());
  for (size_t i = 0; i < ca.optimizer_state.size(); ++i) {
    EXPECT_EQ(ca.optimizer_state[i].bytes, cb.optimizer_state[i].bytes)
        << ca.optimizer_state[i].name;
  }
  const auto ma = RunDir(a).read_metrics().rows, mb = RunDir(b).read_metrics().rows;
  ASSERT_EQ(ma.size(), mb.size());
  for (size_t i = 0; i < ma.size(); ++i) {
    EXPECT_EQ(ma[i].step, mb[i].step);
    EXPECT_EQ(ma[i].val_loss, mb[i].val_loss) << "row " << i;
    EXPECT_EQ(ma[i].lr, mb[i].lr) << "row " << i;
    if (i > 0) {
      EXPECT_EQ(ma[i].train_loss, mb[i].train_loss) << "row " << i;
    }
  }
}

class ResumeTest : public ::testing::TestWithParam<OptimizerChoice> {};

TEST_P(ResumeTest, InterruptedAndResumedRunIsBitExact) {
  const fs::path full = temp_dir("full"), part = temp_dir("part");
  const TrainConfig c = resume_config(GetParam());
  TrainOptions quiet;
  ASSERT_EQ(train_lm(c, corpora(), full.string(), quiet).status, RunStatus::kCompleted);

  TrainOptions stop = quiet;
  stop.stop_after_step = 10;
  const TrainResult first = train_lm(c, corpora(), part.string(), stop);
  ASSERT_EQ(first.step, 10);
  EXPECT_EQ(RunDir(part.string()).read_status_json()["status"], "running");
  TrainOptions resume = quiet;
  resume.resume = true;
  const TrainConfig saved = TrainConfig::from_json(RunDir(part.string()).read_config());
  const TrainResult second = train_lm(saved, corpora(), part.string(), resume);
  ASSERT_EQ(second.status, RunStatus::kCompleted);
  expect_same_runs(full.string(), part.string());

  // The comparison can fail: a run whose data order differs (seed + 1) ends elsewhere.
  const fs::path other = temp_dir("other");
  TrainConfig c2 = c;
  c2.seed += 1;
  ASSERT_EQ(train_lm(c2, corpora(), other.string(), quiet).status, RunStatus::kCompleted);
  const auto ca = checkpoint::read_checkpoint(RunDir(full.string()).checkpoints().back().path);
  const auto co = checkpoint::read_checkpoint(RunDir(other.string()).checkpoints().back().path);
  int differing = 0;
  for (size_t i = 0; i < ca.parameters.size(); ++i)
    differing += ca.parameters[i].bytes != co.parameters[i].bytes;
  EXPECT_GT(differing, 0);
  fs::remove_all(other);
  fs::remove_all(full);
  fs::remove_all(part);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, ResumeTest,
                         ::testing::Values(OptimizerChoice::kAdamW, OptimizerChoice::kMuon),
                         [](const auto& info) { return to_string(info.param); });

TEST(ResumeTest, LoRAFinetuneResumesBitExactly) {
  const fs::path pre = temp_dir("lpre"), full = temp_dir("lfull"), part = temp_dir("lpart");
  TrainOptions quiet;
  TrainConfig pc = resume_config(OptimizerChoice::kAdamW);
  pc.steps = 5;
  ASSERT_EQ(train_lm(pc, corpora(), pre.string(), quiet).status, RunStatus::kCompleted);
  TrainConfig fc = resume_config(OptimizerChoice::kMuon);
  fc.mode = Mode::kFinetune;
  fc.method = Method::kLoRA;
  fc.lora.rank = 2;
  fc.init_from = RunDir(pre.string()).checkpoints().back().path;
  fc.data.old_val = "unused-by-the-test";
  TrainCorpora d = corpora();
  d.old_val = TextCorpus(synthetic_text(2000, 9), "old");
  ASSERT_EQ(train_lm(fc, d, full.string(), quiet).status, RunStatus::kCompleted);
  TrainOptions stop = quiet;
  stop.stop_after_step = 5;
  ASSERT_EQ(train_lm(fc, d, part.string(), stop).step, 5);
  TrainOptions resume = quiet;
  resume.resume = true;
  ASSERT_EQ(train_lm(fc, d, part.string(), resume).status, RunStatus::kCompleted);
  expect_same_runs(full.string(), part.string());
  fs::remove_all(pre);
  fs::remove_all(full);
  fs::remove_all(part);
}

TEST(ResumeTest, RunKilledBeforeItsFirstCheckpointRestartsFromStepZero) {
  const fs::path full = temp_dir("k_full"), dead = temp_dir("k_dead");
  const TrainConfig c = resume_config(OptimizerChoice::kAdamW);
  ASSERT_EQ(train_lm(c, corpora(), full.string()).status, RunStatus::kCompleted);
  // What a run killed during its step-0 evaluation leaves: config and status, no checkpoint.
  RunDir run(dead.string());
  run.create();
  run.write_config(c.to_json());
  run.write_status({RunStatus::kRunning, "", 0, {{"pid", 999999}}});
  EXPECT_THROW(train_lm(c, corpora(), dead.string()), std::invalid_argument);  // not --out
  TrainOptions resume;
  resume.resume = true;
  const TrainConfig saved = TrainConfig::from_json(run.read_config());
  ASSERT_EQ(train_lm(saved, corpora(), dead.string(), resume).status, RunStatus::kCompleted);
  expect_same_runs(full.string(), dead.string());
  fs::remove_all(full);
  fs::remove_all(dead);
}

TEST(ResumeTest, TemporariesOfAKilledWriterAreRemovedOnTheNextStart) {
  const fs::path dir = temp_dir("tmpfiles");
  const TrainConfig c = resume_config(OptimizerChoice::kAdamW);
  TrainOptions stop;
  stop.stop_after_step = 10;
  ASSERT_EQ(train_lm(c, corpora(), dir.string(), stop).step, 10);
  const pid_t dead = ::fork();  // a pid that no longer exists
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const std::string suffix = ".tmp." + std::to_string(dead);
  for (const std::string f :
       {"metrics.csv" + suffix, "status.json" + suffix, "checkpoints/step_000015.h5" + suffix})
    std::ofstream(dir / f) << "partial";
  TrainOptions resume;
  resume.resume = true;
  ASSERT_EQ(train_lm(c, corpora(), dir.string(), resume).status, RunStatus::kCompleted);
  for (const auto* sub : {"", "checkpoints"}) {
    for (const auto& e : fs::directory_iterator(dir / sub)) {
      EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
    }
  }
  fs::remove_all(dir);
}

TEST(ResumeTest, UnreadableNewestCheckpointIsNamedAndAnEarlierOneCanBeChosen) {
  const fs::path full = temp_dir("c_full"), part = temp_dir("c_part");
  const TrainConfig c = resume_config(OptimizerChoice::kMuon);
  ASSERT_EQ(train_lm(c, corpora(), full.string()).status, RunStatus::kCompleted);
  TrainOptions stop;
  stop.stop_after_step = 10;
  ASSERT_EQ(train_lm(c, corpora(), part.string(), stop).step, 10);
  const std::string newest = (part / "checkpoints/step_000010.h5").string();
  fs::resize_file(newest, fs::file_size(newest) / 2);  // a torn checkpoint
  TrainOptions resume;
  resume.resume = true;
  try {
    train_lm(c, corpora(), part.string(), resume);
    FAIL() << "a torn checkpoint was resumed from";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("step_000010.h5"), std::string::npos) << m;
    EXPECT_NE(m.find("--from-step"), std::string::npos) << m;
    EXPECT_NE(m.find("5"), std::string::npos) << m;
  }
  EXPECT_EQ(RunDir(part.string()).read_status().status, RunStatus::kFailed);
  TrainOptions bad_step = resume;
  bad_step.resume_from_step = 7;  // no such checkpoint
  EXPECT_THROW(train_lm(c, corpora(), part.string(), bad_step), std::invalid_argument);
  TrainOptions from5 = resume;
  from5.resume_from_step = 5;
  ASSERT_EQ(train_lm(c, corpora(), part.string(), from5).status, RunStatus::kCompleted);
  expect_same_runs(full.string(), part.string());
  EXPECT_TRUE(fs::exists(newest + ".superseded"));
  fs::remove_all(full);
  fs::remove_all(part);
}

TEST(ResumeTest, FallbackResumesFromTheNewestGoodCheckpoint) {
  const fs::path full = temp_dir("f_full"), part = temp_dir("f_part");
  const TrainConfig c = resume_config(OptimizerChoice::kAdamW);
  ASSERT_EQ(train_lm(c, corpora(), full.string()).status, RunStatus::kCompleted);
  TrainOptions stop;
  stop.stop_after_step = 10;
  ASSERT_EQ(train_lm(c, corpora(), part.string(), stop).step, 10);
  const std::string newest = (part / "checkpoints/step_000010.h5").string();
  std::ofstream(newest, std::ios::trunc) << "not a checkpoint";
  TrainOptions resume;
  resume.resume = true;
  resume.resume_fallback = true;
  ASSERT_EQ(train_lm(c, corpora(), part.string(), resume).status, RunStatus::kCompleted);
  expect_same_runs(full.string(), part.string());
  EXPECT_TRUE(fs::exists(newest + ".corrupt"));
  fs::remove_all(full);
  fs::remove_all(part);
}

TEST(ResumeTest, ResumeWithoutCheckpointFails) {
  const fs::path dir = temp_dir("empty");
  fs::create_directories(dir / "checkpoints");
  TrainOptions resume;
  resume.resume = true;
  EXPECT_THROW(train_lm(resume_config(OptimizerChoice::kAdamW), corpora(), dir.string(), resume),
               std::runtime_error);
  EXPECT_EQ(RunDir(dir.string()).read_status_json()["status"], "failed");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace muft::train

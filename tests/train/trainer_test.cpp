#include "muft/train/trainer.h"
#include "test_util.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "muft/checkpoint/checkpoint.h"
#include "muft/train/digits.h"
#include "muft/train/tokenizer.h"
#include "muft/train/trainer_checkpoint.h"

namespace muft::train {
namespace {

namespace fs = std::filesystem;

/// A model and run small enough to train in a second on one core.
TrainConfig small_config(OptimizerChoice opt) {
  TrainConfig c;
  c.model.sequence_len = 32;
  c.model.n_layer = 2;
  c.model.n_head = 2;
  c.model.n_embd = 32;
  c.optim.optimizer = opt;
  c.optim.model_dim = 32;
  c.optim.matrix_lr = opt == OptimizerChoice::kAdamW ? 1e-2 : 0.05;
  c.schedule.kind = ScheduleKind::kConstant;
  c.schedule.warmup_ratio = 0.0;
  c.steps = 60;
  c.batch_size = 8;
  c.eval_every = 30;
  c.data.eval_windows = 8;
  c.seed = 1;
  c.threads = 1;
  return c;
}

TrainCorpora synthetic_corpora(uint64_t seed) {
  TrainCorpora d;
  d.train = TextCorpus(synthetic_text(40000, seed), "synthetic-train");
  d.val = TextCorpus(synthetic_text(4000, seed + 100), "synthetic-val");
  return d;
}

fs::path temp_dir(const std::string& tag) {
  const fs::path p =
      fs::temp_directory_path() / ("muft_trainer_" + std::to_string(::getpid()) + "_" + tag);
  fs::remove_all(p);
  return p;
}

TrainOptions quiet() {
  TrainOptions o;
  return o;
}

class TrainerLossTest : public ::testing::TestWithParam<OptimizerChoice> {};

TEST_P(TrainerLossTest, ValidationLossDecreasesOnSyntheticCorpus) {
  const fs::path dir = temp_dir("loss_" + to_string(GetParam()));
  const auto data = synthetic_corpora(1);
  const TrainResult r = train_lm(small_config(GetParam()), data, dir.string(), quiet());
  EXPECT_EQ(r.status, RunStatus::kCompleted);
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_EQ(r.step, 60);
  RunDir run(dir.string());
  const auto rows = run.read_metrics().rows;
  ASSERT_EQ(rows.size(), 3u);  // steps 0, 30, 60
  const double initial = rows.front().val_loss, final_loss = rows.back().val_loss;
  // At init the head is ~0, so the loss is near ln(260) = 5.56 nats.
  EXPECT_NEAR(initial, std::log(260.0), 0.1);
  const double unigram_nats = unigram_entropy_bits(data.train.text()) * std::log(2.0);
  RecordProperty("final_val_loss", std::to_string(final_loss));
  EXPECT_LT(final_loss, unigram_nats) << "not better than the unigram baseline";
  EXPECT_EQ(rows.back().tokens, 60 * 8 * 32);
  EXPECT_EQ(run.checkpoints().size(), 3u);
  EXPECT_EQ(run.read_status_json()["status"], "completed");
  EXPECT_EQ(run.read_config()["optim"]["optimizer"], to_string(GetParam()));
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, TrainerLossTest,
                         ::testing::Values(OptimizerChoice::kAdamW, OptimizerChoice::kMuon,
                                           OptimizerChoice::kMuonPE),
                         [](const auto& info) {
                           std::string n = to_string(info.param);
                           for (auto& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });

TEST(TrainerDivergenceTest, HugeLearningRateMarksRunDivergedAndKeepsLastGoodCheckpoint) {
  const fs::path dir = temp_dir("diverge");
  TrainConfig c = small_config(OptimizerChoice::kAdamW);
  c.optim.set_single_lr(1e30);  // weights of ~1e30 overflow float32 products within steps
  c.steps = 20;
  c.eval_every = 5;
  const TrainResult r = train_lm(c, synthetic_corpora(1), dir.string(), quiet());
  EXPECT_EQ(r.status, RunStatus::kDiverged);
  EXPECT_EQ(r.exit_code, kExitDiverged);
  EXPECT_LT(r.step, 5);  // before the first checkpoint after step 0
  RunDir run(dir.string());
  const auto status = run.read_status_json();
  EXPECT_EQ(status["status"], "diverged");
  EXPECT_NE(status["reason"].get<std::string>().find("non-finite"), std::string::npos);
  const auto ckpts = run.checkpoints();
  ASSERT_EQ(ckpts.size(), 1u);  // the step-0 checkpoint survives, nothing after it
  EXPECT_EQ(status["last_good_checkpoint"], ckpts.back().path);
  const auto ck = checkpoint::read_checkpoint(ckpts.back().path);
  for (const auto& p : ck.parameters) {
    EXPECT_TRUE(torch::isfinite(from_named_tensor(p)).all().item<bool>()) << p.name;
  }
  fs::remove_all(dir);
}

TEST(TrainerDivergenceTest, ModerateLearningRateDoesNotTrigger) {  // the check can pass too
  const fs::path dir = temp_dir("nodiverge");
  TrainConfig c = small_config(OptimizerChoice::kAdamW);
  c.steps = 5;
  c.eval_every = 5;
  EXPECT_EQ(train_lm(c, synthetic_corpora(1), dir.string(), quiet()).status, RunStatus::kCompleted);
  fs::remove_all(dir);
}

TEST(TrainerFinetuneTest, LoRAFinetuneKeepsBaseWeightsAndTracksOldTask) {
  const fs::path pre = temp_dir("pre"), ft = temp_dir("ft");
  TrainConfig pc = small_config(OptimizerChoice::kAdamW);
  pc.steps = 20;
  pc.eval_every = 20;
  ASSERT_EQ(train_lm(pc, synthetic_corpora(1), pre.string(), quiet()).status,
            RunStatus::kCompleted);
  const std::string base_ckpt = RunDir(pre.string()).checkpoints().back().path;

  TrainConfig fc = finetune_config(OptimizerChoice::kMuon, 0.02);
  fc.init_from = base_ckpt;
  fc.method = Method::kLoRA;
  fc.lora.rank = 4;
  fc.steps = 10;
  fc.eval_every = 5;
  fc.batch_size = 8;
  fc.data.eval_windows = 8;
  fc.threads = 1;
  TrainCorpora d = synthetic_corpora(7);  // a different "language" as the new task
  d.old_val = TextCorpus(synthetic_text(4000, 101), "old-val");
  const TrainResult r = train_lm(fc, d, ft.string(), quiet());
  ASSERT_EQ(r.status, RunStatus::kCompleted);
  EXPECT_LT(r.trainable_parameters, r.num_parameters / 2);

  RunDir run(ft.string());
  EXPECT_EQ(run.read_config()["model"]["n_embd"], 32);  // model config taken from the checkpoint
  const auto rows = run.read_metrics().rows;
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_NE(rows.back().val_loss, rows.back().old_val_loss);
  const auto base = checkpoint::read_checkpoint(base_ckpt);
  const auto last = checkpoint::read_checkpoint(run.checkpoints().back().path);
  bool saw_adapter = false;
  for (const auto& p : last.parameters) {
    if (is_lora_parameter_name(p.name)) {
      saw_adapter = true;
      continue;
    }
    for (const auto& q : base.parameters) {
      if (q.name == p.name) {
        EXPECT_EQ(p.bytes, q.bytes) << p.name << " changed under LoRA";
      }
    }
  }
  EXPECT_TRUE(saw_adapter);
  fs::remove_all(pre);
  fs::remove_all(ft);
}

/// A small pretrained model (AdamW, 60 steps) in dir; returns its last checkpoint.
std::string pretrained(const fs::path& dir) {
  TrainConfig pc = small_config(OptimizerChoice::kAdamW);
  EXPECT_EQ(train_lm(pc, synthetic_corpora(1), dir.string(), quiet()).status,
            RunStatus::kCompleted);
  return RunDir(dir.string()).checkpoints().back().path;
}

TrainConfig small_finetune(const std::string& from, OptimizerChoice opt, double lr) {
  TrainConfig fc = finetune_config(opt, lr);
  fc.init_from = from;
  fc.steps = 10;
  fc.eval_every = 5;
  fc.batch_size = 8;
  fc.data.eval_windows = 8;
  fc.threads = 1;
  return fc;
}

TEST(TrainerHealthTest, HugeMuonLearningRateIsDivergedNotCompleted) {
  // Muon's step is bounded, so nothing becomes non-finite: only the loss shows the blow-up.
  const fs::path pre = temp_dir("hpre"), ft = temp_dir("hft");
  const std::string base = pretrained(pre);
  const TrainConfig fc = small_finetune(base, OptimizerChoice::kMuon, 1e6);
  const TrainResult r = train_lm(fc, synthetic_corpora(1), ft.string(), quiet());
  EXPECT_EQ(r.status, RunStatus::kDiverged);
  EXPECT_EQ(r.exit_code, kExitDiverged);
  // Evaluated every 5 steps, the blow-up is seen at step 5 with uniform predictions: still a
  // divergence (the loss blew up), not a collapse.
  EXPECT_NE(r.reason.find("blew up"), std::string::npos) << r.reason;
  EXPECT_EQ(RunDir(ft.string()).read_status().status, RunStatus::kDiverged);
  // Evaluated only at the end (the trainer's default for 10 steps), the loss rule ends it first.
  TrainConfig late = fc;
  late.eval_every = 50;
  const fs::path ft2 = temp_dir("hft2");
  const TrainResult r2 = train_lm(late, synthetic_corpora(1), ft2.string(), quiet());
  EXPECT_EQ(r2.status, RunStatus::kDiverged);
  EXPECT_NE(r2.reason.find("consecutive"), std::string::npos) << r2.reason;
  EXPECT_LT(r2.step, 10);
  fs::remove_all(ft2);
  // The same fine-tuning at a sensible rate completes (the check can pass).
  const fs::path ok = temp_dir("hok");
  EXPECT_EQ(train_lm(small_finetune(base, OptimizerChoice::kMuon, 0.01), synthetic_corpora(1),
                     ok.string(), quiet())
                .status,
            RunStatus::kCompleted);
  fs::remove_all(pre);
  fs::remove_all(ft);
  fs::remove_all(ok);
}

TEST(TrainerHealthTest, WeightsDecayedToNothingGiveUniformPredictionsAndCollapse) {
  const fs::path pre = temp_dir("cpre"), ft = temp_dir("cft");
  const std::string base = pretrained(pre);
  // One AdamW step with lr·λ = 1 multiplies every weight by 0 and adds only ±lr = 1e-8: the
  // logits become ~0, the predictions uniform over the vocabulary.
  TrainConfig fc = small_finetune(base, OptimizerChoice::kAdamW, 1e-8);
  fc.optim.adamw_matrix.weight_decay = 1e8;
  // Embedding and head take lr × (d/768)^−0.5: their decay is scaled to give lr·λ = 1 too.
  fc.optim.adamw_aux.weight_decay = 1.0 / (1e-8 * width_lr_factor(32));
  fc.eval_every = 2;
  // With the default margin the jump to ln 260 is a blow-up (diverged, checked below); with a
  // margin above it, only the collapse rule can see what happened.
  fc.health.divergence_margin = 10.0;
  const TrainResult r = train_lm(fc, synthetic_corpora(1), ft.string(), quiet());
  EXPECT_EQ(r.status, RunStatus::kCollapsed) << r.reason;
  EXPECT_EQ(r.exit_code, kExitCollapsed);
  EXPECT_EQ(r.step, 2);  // found at the first evaluation after step 0
  EXPECT_NE(r.reason.find("uniform-prediction"), std::string::npos) << r.reason;
  const auto status = RunDir(ft.string()).read_status();
  EXPECT_EQ(status.status, RunStatus::kCollapsed);
  EXPECT_EQ(status.reason, r.reason);
  TrainConfig blowup = fc;
  blowup.health.divergence_margin = 1.0;
  const fs::path ft3 = temp_dir("cft3");
  EXPECT_EQ(train_lm(blowup, synthetic_corpora(1), ft3.string(), quiet()).status,
            RunStatus::kDiverged);
  fs::remove_all(ft3);
  // With the checks off the same run "completes": the checks are what catches it.
  TrainConfig off = fc;
  off.health.enabled = false;
  const fs::path ft2 = temp_dir("cft2");
  EXPECT_EQ(train_lm(off, synthetic_corpora(1), ft2.string(), quiet()).status,
            RunStatus::kCompleted);
  fs::remove_all(pre);
  fs::remove_all(ft);
  fs::remove_all(ft2);
}

TEST(TrainerHealthTest, ConstantLogitsOfAClassifierAreCollapse) {
  // The digits head starts far above ln 10 on the new classes, so only the spread rule can see
  // that the predictions stopped depending on the image.
  const fs::path pre = temp_dir("dpre"), ft = temp_dir("dft");
  const DigitsData data = synthetic_digits(400, 3);
  TrainConfig p = digits_config(Mode::kPretrain, OptimizerChoice::kAdamW, 3e-3, 40);
  p.digits.hidden = 32;
  ASSERT_EQ(train_digits(p, data, pre.string()).status, RunStatus::kCompleted);
  TrainConfig f = digits_config(Mode::kFinetune, OptimizerChoice::kAdamW, 1e-8, 10);
  f.digits.hidden = 32;
  f.eval_every = 5;
  f.init_from = RunDir(pre.string()).checkpoints().back().path;
  f.optim.adamw_matrix.weight_decay = f.optim.adamw_aux.weight_decay = 1e8;  // no width factor
  const TrainResult r = train_digits(f, data, ft.string());
  EXPECT_EQ(r.status, RunStatus::kCollapsed) << r.reason;
  EXPECT_NE(r.reason.find("no longer depend"), std::string::npos) << r.reason;
  fs::remove_all(pre);
  fs::remove_all(ft);
}

TEST(TrainerTest, StepZeroRowHasNoTrainingLossAndObserverSeesEveryRow) {
  struct Recorder : TrainObserver {
    std::vector<rundir::MetricsRow> rows;
    int starts = 0, ends = 0, steps = 0;
    void on_start(const RunStart&) override { ++starts; }
    void on_step(const StepProgress&) override { ++steps; }
    void on_evaluation(const rundir::MetricsRow& r, const std::vector<std::string>&) override {
      rows.push_back(r);
    }
    void on_end(const TrainResult&) override { ++ends; }
  } rec;
  const fs::path dir = temp_dir("observer");
  TrainConfig c = small_config(OptimizerChoice::kAdamW);
  c.steps = 4;
  c.eval_every = 2;
  TrainOptions o;
  o.observer = &rec;
  ASSERT_EQ(train_lm(c, synthetic_corpora(1), dir.string(), o).status, RunStatus::kCompleted);
  EXPECT_EQ(rec.starts, 1);
  EXPECT_EQ(rec.ends, 1);
  EXPECT_EQ(rec.steps, 4);
  ASSERT_EQ(rec.rows.size(), 3u);
  EXPECT_TRUE(std::isnan(rec.rows[0].train_loss));  // no step has run yet
  EXPECT_TRUE(std::isfinite(rec.rows[1].train_loss));
  fs::remove_all(dir);
}

TEST(TrainerTest, ConfigIsValidatedAgainstTheTokenizerBeforeTraining) {
  const fs::path dir = temp_dir("vocab");
  TrainConfig c = small_config(OptimizerChoice::kAdamW);
  c.model.vocab_size = 10;  // LibTorch would fail deep inside the embedding ("index out of range")
  try {
    train_lm(c, synthetic_corpora(1), dir.string(), quiet());
    FAIL() << "a vocabulary smaller than the tokenizer's was accepted";
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("vocab_size 10"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << "not one line: " << m;
  }
  EXPECT_EQ(RunDir(dir.string()).read_status().status, RunStatus::kFailed);
  fs::remove_all(dir);
}

TEST(TrainerTest, RefusesToOverwriteAnExistingRun) {
  const fs::path dir = temp_dir("overwrite");
  TrainConfig c = small_config(OptimizerChoice::kAdamW);
  c.steps = 1;
  ASSERT_EQ(train_lm(c, synthetic_corpora(1), dir.string(), quiet()).status, RunStatus::kCompleted);
  EXPECT_THROW(train_lm(c, synthetic_corpora(1), dir.string(), quiet()), std::invalid_argument);
  fs::remove_all(dir);
}

TEST(TrainConfigTest, JsonRoundTripAndStrictKeys) {
  TrainConfig c = tiny_pretrain_config(OptimizerChoice::kMuonPE);
  c.lora.rank = 3;
  c.seed = 42;
  const auto j = c.to_json();
  const TrainConfig back = TrainConfig::from_json(j);
  EXPECT_EQ(back.to_json(), j);
  EXPECT_EQ(back.optim.optimizer, OptimizerChoice::kMuonPE);
  EXPECT_THROW(TrainConfig::from_json({{"stepz", 3}}), std::invalid_argument);
  EXPECT_THROW(TrainConfig::from_json({{"steps", "many"}}), std::invalid_argument);
  EXPECT_THROW(TrainConfig::from_json({{"optim", {{"matrix_lr", "x"}}}}), std::invalid_argument);
  EXPECT_THROW(TrainConfig::from_json({{"steps", 0}}), std::invalid_argument);
  EXPECT_THROW(TrainConfig::from_json({{"method", "lora"}}), std::invalid_argument);  // pretrain
  EXPECT_THROW(TrainConfig::from_json({{"method", "prefix"}}), std::invalid_argument);
  EXPECT_THROW(TrainConfig::from_json({{"task", "vision"}}), std::invalid_argument);
  EXPECT_THROW(TrainConfig::from_json({{"threads", 100000}}), std::invalid_argument);
  EXPECT_THROW(TrainConfig::from_json({{"steps", 10000000000}}), std::invalid_argument);
  EXPECT_THROW(TrainConfig::from_json({{"health", {{"divergence_window", 0}}}}),
               std::invalid_argument);
  // Configs written by muft 0.1 (no health or classifier keys) still read.
  const TrainConfig legacy =
      TrainConfig::from_json({{"task", "digits"}, {"digits", {{"classes", {0, 1}}}}});
  EXPECT_EQ(legacy.task, TaskKind::kDigits);
  EXPECT_EQ(legacy.digits.classifier, DigitsClassifier::kHead);
  EXPECT_TRUE(legacy.health.enabled);
  const TrainConfig partial = TrainConfig::from_json({{"steps", 7}, {"model", {{"n_layer", 2}}}});
  EXPECT_EQ(partial.steps, 7);
  EXPECT_EQ(partial.schedule.total_steps, 7);
  EXPECT_EQ(partial.model.n_layer, 2);
  EXPECT_EQ(partial.model.n_embd, 128);
  std::string err;
  TrainConfig bad;
  bad.device = "tpu";
  EXPECT_FALSE(bad.IsValid(&err));
  EXPECT_NE(err.find("device"), std::string::npos);
}

}  // namespace
}  // namespace muft::train

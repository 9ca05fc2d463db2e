#pragma once
// Helpers shared by the tests/train suites.

#include <string>

#include "muft/rundir/run_dir.h"
#include "muft/train/digits_task.h"
#include "muft/train/gpt.h"
#include "muft/train/lm_task.h"
#include "muft/train/trainer.h"

namespace muft::train {

/// The run directory of the rundir module, under the name the trainer tests have always used.
using rundir::RunDir;

/// The one training loop on a language-model task over in-memory corpora.
inline TrainResult train_lm(const TrainConfig& cfg, const TrainCorpora& data,
                            const std::string& out_dir, const TrainOptions& opts = {}) {
  LanguageModelTask task(data, opts.dist);
  return run_training(cfg, task, out_dir, opts);
}

/// The one training loop on the digits task over in-memory images.
inline TrainResult train_digits(const TrainConfig& cfg, const DigitsData& data,
                                const std::string& out_dir, const TrainOptions& opts = {}) {
  DigitsTask task(data);
  return run_training(cfg, task, out_dir, opts);
}

namespace test_support {

/// A GPT small enough that a forward/backward takes milliseconds: 2 layers, width 16,
/// 2 heads, context 16, vocabulary 32.
inline GPTConfig micro_config() {
  GPTConfig c;
  c.sequence_len = 16;
  c.vocab_size = 32;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 16;
  return c;
}

}  // namespace test_support
}  // namespace muft::train

// forgetting_curves() (forgetting.h): each checkpoint of a run rebuilt as the run's GPT and
// scored with evaluate_lm on the old and the new task.
#include "muft/train/forgetting.h"

#include <cmath>
#include <stdexcept>

#include "muft/checkpoint/checkpoint.h"
#include "muft/rundir/run_dir.h"
#include "muft/train/config.h"
#include "muft/train/lm_task.h"
#include "muft/train/trainer_checkpoint.h"

namespace muft::train {

bool ForgettingOptions::IsValid(std::string* error) const {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  if (data != "old" && data != "new" && data != "both") {
    return fail("--data must be old, new or both, got '" + data + "'");
  }
  if (eval_windows < 0) return fail("eval windows must be >= 0");
  if (batch_rows < 1) return fail("batch rows must be >= 1");
  return true;
}

namespace {

/// Evaluates one checkpoint file (model rebuilt from cfg) on the requested sets.
void eval_checkpoint(const std::string& run_path, const std::string& ckpt_path,
                     const TrainConfig& cfg, bool base_model, const TextCorpus* old_c,
                     const TextCorpus* new_c, int64_t windows, int64_t batch_rows,
                     std::vector<ForgettingRow>* out) {
  const checkpoint::Checkpoint ck = checkpoint::read_checkpoint(ckpt_path);
  TrainConfig c = cfg;
  if (base_model) {
    c.method = Method::kFull;
    if (ck.config.is_object() && ck.config.contains("model")) {
      c.model = GPTConfig::from_json(ck.config.at("model"));
    }
  }
  torch::manual_seed(c.seed);  // adapter values are overwritten by the checkpoint's
  GPT model = make_gpt(c);
  load_module_parameters(*model, ck.parameters, /*strict=*/true);
  const torch::Device cpu(torch::kCPU);
  for (const auto& [name, corpus] :
       {std::pair<const char*, const TextCorpus*>{"old", old_c}, {"new", new_c}}) {
    if (!corpus) continue;
    ForgettingRow row;
    row.run = run_path;
    row.checkpoint = ckpt_path;
    row.step = base_model ? 0 : ck.step;
    row.dataset = name;
    row.result = evaluate_lm(model, *corpus, windows, batch_rows, cpu);
    out->push_back(row);
  }
}

}  // namespace

int64_t forgetting_curves(const std::vector<std::string>& run_dirs, const ForgettingOptions& opts,
                          const std::function<void(const ForgettingRow&)>& on_row) {
  std::string err;
  if (!opts.IsValid(&err)) throw std::invalid_argument(err);
  int64_t errors = 0;
  for (const auto& path : run_dirs) {
    auto error_row = [&](const std::string& ckpt, int64_t step, const std::string& what) {
      ForgettingRow r;
      r.run = path;
      r.checkpoint = ckpt;
      r.step = step;
      r.error = what;
      ++errors;
      on_row(r);
    };
    TrainConfig cfg;
    std::vector<std::pair<int64_t, std::string>> ckpts;
    TextCorpus old_c, new_c;
    const bool want_old = opts.data != "new", want_new = opts.data != "old";
    try {
      const rundir::RunDir run(path);
      if (!run.exists()) throw std::runtime_error("'" + path + "' is not a run directory");
      cfg = TrainConfig::from_json(run.read_config());
      if (cfg.task != TaskKind::kLanguageModel) {
        throw std::runtime_error("a " + to_string(cfg.task) +
                                 " run: its old/new-task losses are in metrics.csv (accuracies "
                                 "in digits.csv); forgetting evaluates language-model runs");
      }
      for (const auto& c : run.checkpoints()) ckpts.emplace_back(c.step, c.path);
      if (ckpts.empty()) throw std::runtime_error("no checkpoints in " + run.checkpoints_dir());
      const std::string old_path = !opts.old_val.empty()       ? opts.old_val
                                   : !cfg.data.old_val.empty() ? cfg.data.old_val
                                                               : cfg.data.val;
      const std::string new_path = !opts.new_val.empty() ? opts.new_val : cfg.data.val;
      // Overrides from the command line are paths as given; the run's are data-directory paths.
      if (want_old) {
        old_c =
            TextCorpus::from_file(opts.old_val.empty() ? resolve_data_path(old_path) : old_path);
      }
      if (want_new) {
        new_c =
            TextCorpus::from_file(opts.new_val.empty() ? resolve_data_path(new_path) : new_path);
      }
    } catch (const std::exception& e) {
      error_row("", -1, e.what());
      continue;
    }
    const int64_t windows = opts.eval_windows > 0 ? opts.eval_windows : cfg.data.eval_windows;
    const TextCorpus* oc = want_old ? &old_c : nullptr;
    const TextCorpus* nc = want_new ? &new_c : nullptr;

    // Reference: the pretrained model a fine-tuning run started from, else the first checkpoint.
    std::vector<ForgettingRow> ref;
    const bool from_base = cfg.mode == Mode::kFinetune && !cfg.init_from.empty();
    try {
      if (from_base) {
        eval_checkpoint(path, cfg.init_from, cfg, true, oc, nc, windows, opts.batch_rows, &ref);
      } else {
        eval_checkpoint(path, ckpts.front().second, cfg, false, oc, nc, windows, opts.batch_rows,
                        &ref);
      }
    } catch (const std::exception& e) {
      error_row(from_base ? cfg.init_from : ckpts.front().second, 0,
                std::string("reference model: ") + e.what());
    }
    auto ref_loss = [&](const std::string& ds) {
      for (const auto& r : ref) {
        if (r.dataset == ds) return r.result.loss;
      }
      return std::nan("");
    };
    auto finish = [&](ForgettingRow r) {
      const double base = ref_loss(r.dataset);
      r.delta_loss = r.result.loss - base;
      r.delta_ppl = r.result.ppl - std::exp(base);
      on_row(r);
    };
    if (from_base) {
      for (const auto& r : ref) finish(r);
    }
    for (const auto& [step, file] : ckpts) {
      std::vector<ForgettingRow> rows;
      try {
        eval_checkpoint(path, file, cfg, false, oc, nc, windows, opts.batch_rows, &rows);
      } catch (const std::exception& e) {
        error_row(file, step, e.what());
        continue;
      }
      for (const auto& r : rows) finish(r);
    }
  }
  return errors;
}

}  // namespace muft::train

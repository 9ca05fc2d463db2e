#include "muft/train/eval.h"

#include <cmath>
#include <stdexcept>

#include <ATen/autocast_mode.h>

#include "muft/checkpoint/checkpoint.h"
#include "muft/train/config.h"
#include "muft/train/run_dir.h"
#include "muft/train/tokenizer.h"
#include "muft/train/trainer.h"
#include "muft/train/trainer_checkpoint.h"

namespace muft::train {

EvalResult evaluate_lm(GPT& model, const TextCorpus& corpus, int64_t max_windows,
                       int64_t batch_rows, const torch::Device& device, DistributedContext* dist,
                       bool bf16) {
  const int64_t T = model->config().sequence_len;
  const auto offsets = eval_offsets(corpus.size(), T, max_windows);
  if (offsets.empty()) {
    throw std::invalid_argument("corpus '" + corpus.name() + "' is shorter than one window of " +
                                std::to_string(T + 1) + " tokens");
  }
  const int64_t world = dist ? dist->world_size() : 1;
  const int64_t rank = dist ? dist->rank() : 0;
  std::vector<int64_t> mine;
  for (size_t i = 0; i < offsets.size(); ++i) {
    if (static_cast<int64_t>(i) % world == rank) mine.push_back(offsets[i]);
  }
  torch::NoGradGuard ng;
  model->eval();
  double loss_sum = 0.0;  // sum over windows of the window's mean token loss
  std::vector<int64_t> xs, ys;
  for (size_t b = 0; b < mine.size(); b += static_cast<size_t>(batch_rows)) {
    const int64_t e =
        std::min<int64_t>(static_cast<int64_t>(mine.size()), static_cast<int64_t>(b) + batch_rows);
    fill_windows(corpus, mine, static_cast<int64_t>(b), e, T, &xs, &ys);
    const int64_t n = e - static_cast<int64_t>(b);
    torch::Tensor x = torch::from_blob(xs.data(), {n, T}, torch::kInt64).clone().to(device);
    torch::Tensor y = torch::from_blob(ys.data(), {n, T}, torch::kInt64).clone().to(device);
    if (bf16) {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    }
    torch::Tensor loss = model->loss(x, y);
    if (bf16) {
      at::autocast::set_enabled(false);
      at::autocast::clear_cache();
    }
    loss_sum += loss.item<double>() * static_cast<double>(n);
  }
  double total = loss_sum, count = static_cast<double>(mine.size());
  if (dist && world > 1) {
    total = dist->all_reduce_mean(loss_sum) * static_cast<double>(world);
    count = static_cast<double>(offsets.size());
  }
  EvalResult r;
  r.loss = total / count;
  r.ppl = perplexity(r.loss);
  r.bpb = bits_per_byte(r.loss);
  r.tokens = static_cast<int64_t>(offsets.size()) * T;
  return r;
}

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
    c.method = "full";
    if (ck.config.is_object() && ck.config.contains("model")) {
      c.model = GPTConfig::from_json(ck.config.at("model"));
    }
  }
  GPT model = make_model(c, c.seed);
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
      RunDir run(path, /*create=*/false);
      cfg = TrainConfig::from_json(run.read_config());
      if (cfg.task != "lm") {
        throw std::runtime_error("a " + cfg.task +
                                 " run: its old/new-task losses are in metrics.csv (accuracies "
                                 "in digits.csv); forgetting evaluates language-model runs");
      }
      ckpts = run.list_checkpoints();
      if (ckpts.empty()) throw std::runtime_error("no checkpoints in " + run.checkpoints_dir());
      const std::string old_path = !opts.old_val.empty()       ? opts.old_val
                                   : !cfg.data.old_val.empty() ? cfg.data.old_val
                                                               : cfg.data.val;
      const std::string new_path = !opts.new_val.empty() ? opts.new_val : cfg.data.val;
      if (want_old) old_c = TextCorpus::from_file(old_path);
      if (want_new) new_c = TextCorpus::from_file(new_path);
    } catch (const std::exception& e) {
      error_row("", -1, e.what());
      continue;
    }
    const int64_t windows = opts.eval_windows > 0 ? opts.eval_windows : cfg.data.eval_windows;
    const TextCorpus* oc = want_old ? &old_c : nullptr;
    const TextCorpus* nc = want_new ? &new_c : nullptr;

    // Reference: the pretrained model a fine-tuning run started from, else the first checkpoint.
    std::vector<ForgettingRow> ref;
    const bool from_base = cfg.mode == "finetune" && !cfg.init_from.empty();
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

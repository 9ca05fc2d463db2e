/// \file main.cpp
/// muft-train: pretrain / finetune / resume a GPT on byte-level text, and the digits
/// forgetting experiment. Exit codes: 0 completed, 1 error or bad input, 3 diverged.

#include <unistd.h>

#include <cstdio>
#include <exception>
#include <fstream>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "muft/platform/startup.h"
#include "muft/train/config.h"
#include "muft/train/digits.h"
#include "muft/train/distributed.h"
#include "muft/train/run_dir.h"
#include "muft/train/trainer.h"

namespace {

namespace mt = muft::train;

/// A number check with a one-line message (CLI11's built-in ones print the whole double range):
/// > 0, or ≥ 0 with allow_zero.
CLI::Validator number_check(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& v) {
        try {
          const double x = std::stod(v);
          if (x > 0 || (allow_zero && x == 0)) return std::string();
        } catch (const std::exception&) {
        }
        return (allow_zero ? "must be a number >= 0, got '" : "must be a positive number, got '") +
               v + "'";
      },
      allow_zero ? "NONNEGATIVE" : "POSITIVE");
}
const CLI::Validator kPositive = number_check(false);
const CLI::Validator kNonNegative = number_check(true);

/// Flags shared by pretrain, finetune and resume.
struct RunFlags {
  std::string config_file;
  std::string out;
  std::string resume;
  int64_t steps = 0;
  uint64_t seed = 0;
  int64_t batch_size = 0;
  int64_t eval_every = 0;
  int64_t checkpoint_every = -1;
  int64_t eval_windows = -1;
  std::string train, val, old_val;
  std::string device;
  int64_t threads = -1;
  bool no_progress = false;
  bool print_config = false;
  // data parallel
  int64_t process_rank = -1;
  int64_t world_size = -1;
  std::string master_addr;
  int64_t master_port = -1;
};

void add_run_flags(CLI::App* sub, RunFlags& f, bool rank_is_process) {
  sub->add_option("--config", f.config_file,
                  "JSON file overlaid on the defaults (same keys as DIR/config.json)");
  sub->add_option("--out", f.out, "Run directory to create (config.json, metrics.csv, ...)");
  sub->add_option("--resume", f.resume,
                  "Continue the run in DIR from its last checkpoint (other config flags ignored)");
  sub->add_option("--steps", f.steps, "Optimizer steps")->check(kPositive);
  sub->add_option("--seed", f.seed, "Seed of model/adapter init and of the data order");
  sub->add_option("--batch-size", f.batch_size, "Global batch (sequences per step)")
      ->check(kPositive);
  sub->add_option("--eval-every", f.eval_every, "Evaluate and write a metrics row every N steps")
      ->check(kPositive);
  sub->add_option("--checkpoint-every", f.checkpoint_every,
                  "Checkpoint every N steps (0 = at every evaluation)")
      ->check(kNonNegative);
  sub->add_option("--eval-windows", f.eval_windows,
                  "Context-length windows per validation set (0 = all)")
      ->check(kNonNegative);
  sub->add_option("--train", f.train, "Training text file");
  sub->add_option("--val", f.val, "Validation text of the current task");
  sub->add_option("--old-val", f.old_val, "Validation text of the old (pretraining) task");
  sub->add_option("--device", f.device, "cpu or cuda[:N] (bf16 autocast on CUDA)");
  sub->add_option("--threads", f.threads, "Intra-op CPU threads (0 = LibTorch default)")
      ->check(kNonNegative);
  sub->add_flag("--no-progress", f.no_progress, "No progress line even on a terminal");
  sub->add_flag("--print-config", f.print_config, "Print the resolved config as JSON and exit");
  auto* pr = sub->add_option(rank_is_process ? "--rank,--process-rank" : "--process-rank",
                             f.process_rank, "Data-parallel rank of this process (env RANK)");
  pr->check(kNonNegative);
  sub->add_option("--world-size", f.world_size, "Number of processes (env WORLD_SIZE)")
      ->check(kPositive);
  sub->add_option("--master-addr", f.master_addr, "Host of rank 0 (env MASTER_ADDR)");
  sub->add_option("--master-port", f.master_port, "TCPStore port of rank 0 (env MASTER_PORT)")
      ->check(CLI::Range(1, 65535));
}

/// Overlays the explicitly given flags (and --config) on c.
void apply_run_flags(CLI::App* sub, const RunFlags& f, mt::TrainConfig& c) {
  if (!f.config_file.empty()) {
    std::ifstream in(f.config_file);
    if (!in) throw std::invalid_argument("cannot read --config file '" + f.config_file + "'");
    nlohmann::json j;
    try {
      in >> j;
    } catch (const nlohmann::json::exception& e) {
      throw std::invalid_argument("--config file '" + f.config_file + "' is not JSON: " + e.what());
    }
    c.merge_json(j);
  }
  if (sub->count("--steps")) c.steps = f.steps;
  if (sub->count("--seed")) c.seed = f.seed;
  if (sub->count("--batch-size")) c.batch_size = f.batch_size;
  if (sub->count("--eval-every")) c.eval_every = f.eval_every;
  if (sub->count("--checkpoint-every")) c.checkpoint_every = f.checkpoint_every;
  if (sub->count("--eval-windows")) c.data.eval_windows = f.eval_windows;
  if (sub->count("--train")) c.data.train = f.train;
  if (sub->count("--val")) c.data.val = f.val;
  if (sub->count("--old-val")) c.data.old_val = f.old_val;
  if (sub->count("--device")) c.device = f.device;
  if (sub->count("--threads")) c.threads = f.threads;
  c.schedule.total_steps = c.steps;
}

mt::DistributedOptions dist_options(const RunFlags& f) {
  mt::DistributedOptions d = mt::DistributedOptions::from_env();
  if (f.process_rank >= 0) d.rank = f.process_rank;
  if (f.world_size > 0) d.world_size = f.world_size;
  if (!f.master_addr.empty()) d.master_addr = f.master_addr;
  if (f.master_port > 0) d.master_port = f.master_port;
  return d;
}

/// Runs (or resumes) and returns the exit code.
int execute(mt::TrainConfig cfg, const RunFlags& f) {
  const bool resume = !f.resume.empty();
  std::string out = resume ? f.resume : f.out;
  if (resume) {
    mt::RunDir run(f.resume, /*create=*/false);
    cfg = mt::TrainConfig::from_json(run.read_config());
    if (!f.device.empty()) cfg.device = f.device;
    if (f.threads >= 0) cfg.threads = f.threads;
  }
  std::string err;
  if (!cfg.IsValid(&err)) throw std::invalid_argument("invalid config: " + err);
  if (f.print_config) {
    std::printf("%s\n", cfg.to_json().dump(2).c_str());
    return mt::kExitOk;
  }
  if (out.empty()) throw std::invalid_argument("--out DIR is required (or --resume DIR)");

  if (cfg.task == "digits") {
    const mt::DigitsData digits = mt::load_digits_csv(cfg.digits.data);
    mt::TrainOptions to;
    to.resume = resume;
    const mt::TrainResult r = mt::run_digits_task(cfg, digits, out, to);
    std::printf(
        "muft-train digits %s: %s at step %lld (%s); val loss %.4f, old val loss %.4f; "
        "accuracies in %s/digits.csv\n",
        cfg.mode.c_str(), mt::run_status_name(r.status), static_cast<long long>(r.step),
        r.reason.empty() ? "ok" : r.reason.c_str(), r.last_val_loss, r.last_old_val_loss,
        out.c_str());
    return r.exit_code;
  }
  const mt::DistributedOptions dopts = dist_options(f);
  std::unique_ptr<mt::DistributedContext> dist;
  if (dopts.world_size > 1) dist = std::make_unique<mt::DistributedContext>(dopts);
  const bool main_rank = !dist || dist->is_main();

  const mt::TrainCorpora data = mt::load_corpora(cfg.data);
  if (main_rank) {
    std::printf("muft-train %s%s: %s, %lld steps x %lld x %lld tokens, train %s (%lld bytes)%s\n",
                cfg.mode.c_str(), resume ? " (resume)" : "",
                mt::to_string(cfg.optim.optimizer).c_str(), static_cast<long long>(cfg.steps),
                static_cast<long long>(cfg.batch_size),
                static_cast<long long>(cfg.model.sequence_len), cfg.data.train.c_str(),
                static_cast<long long>(data.train.size()),
                dist ? fmt::format(", {} processes", dist->world_size()).c_str() : "");
    std::fflush(stdout);
  }
  mt::TrainOptions to;
  to.resume = resume;
  to.progress = main_rank && !f.no_progress && ::isatty(2);
  to.log_evals = main_rank;
  to.dist = dist.get();
  const mt::TrainResult r = mt::run_training(cfg, data, out, to);
  if (main_rank) {
    std::printf(
        "muft-train: %s at step %lld (%s); params %lld (trainable %lld); %.0f tok/s; "
        "val loss %.4f, old val loss %.4f; run in %s\n",
        mt::run_status_name(r.status), static_cast<long long>(r.step),
        r.reason.empty() ? "ok" : r.reason.c_str(), static_cast<long long>(r.num_parameters),
        static_cast<long long>(r.trainable_parameters), r.tokens_per_second, r.last_val_loss,
        r.last_old_val_loss, out.c_str());
  }
  return r.exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  if (!muft::platform::start(
          argv, [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }))
    return 1;
  CLI::App app{
      "muft-train: pretrain a small GPT on byte-level text (GCIDE), fine-tune it (fortunes) with "
      "full or LoRA updates under AdamW, Muon or Muon-PE, resume runs bit-exactly, train data-"
      "parallel over processes, and run the digits forgetting experiment.\n"
      "Exit codes: 0 completed, 1 error/bad input, 3 diverged (non-finite loss or parameters). "
      "See docs/training.md."};
  app.require_subcommand(1);
  int code = 0;

  // ---- pretrain ----
  RunFlags pf;
  std::string p_opt = "adam";
  double p_lr = 0;
  CLI::App* pre = app.add_subcommand(
      "pretrain", "Pretrain the GPT (default: the documented 'tiny' config on GCIDE)");
  pre->add_option("--optimizer", p_opt, "adam, muon or muon-pe")
      ->check(CLI::IsMember({"adam", "adamw", "muon", "muon-pe"}))
      ->capture_default_str();
  pre->add_option("--lr", p_lr, "Learning rate of the hidden matrices (default per optimizer)")
      ->check(kPositive);
  add_run_flags(pre, pf, /*rank_is_process=*/true);
  pre->callback([&] {
    mt::TrainConfig c = mt::tiny_pretrain_config(mt::parse_optimizer_choice(p_opt));
    apply_run_flags(pre, pf, c);
    if (pre->count("--optimizer")) c.optim.optimizer = mt::parse_optimizer_choice(p_opt);
    if (pre->count("--lr")) c.optim.matrix_lr = p_lr;
    code = execute(c, pf);
  });

  // ---- finetune ----
  RunFlags ff;
  std::string f_from, f_method = "full", f_opt = "muon", f_scale = "alpha_over_r",
                      f_init = "kaiming";
  double f_lr = 0, f_alpha = 16;
  int64_t f_rank = 8;
  CLI::App* ft = app.add_subcommand(
      "finetune", "Fine-tune a pretrained checkpoint (default data: fortunes; old task: GCIDE)");
  ft->add_option("--from", f_from, "Pretrained checkpoint (.h5 written by muft-train)");
  ft->add_option("--method", f_method, "full or lora")
      ->check(CLI::IsMember({"full", "lora"}))
      ->capture_default_str();
  ft->add_option("--optimizer", f_opt, "adam, muon or muon-pe")
      ->check(CLI::IsMember({"adam", "adamw", "muon", "muon-pe"}))
      ->capture_default_str();
  ft->add_option("--lr", f_lr, "Learning rate of every parameter group (the swept value)")
      ->check(kPositive);
  ft->add_option("--rank,--lora-rank", f_rank, "LoRA rank r")
      ->check(kPositive)
      ->capture_default_str();
  ft->add_option("--alpha", f_alpha, "LoRA alpha")->check(kPositive)->capture_default_str();
  ft->add_option("--lora-scale", f_scale, "alpha_over_r (LoRA) or alpha_over_sqrt_r (rsLoRA)")
      ->check(CLI::IsMember({"alpha_over_r", "alpha_over_sqrt_r"}))
      ->capture_default_str();
  ft->add_option("--init", f_init, "Adapter init: kaiming (B = 0) or pissa")
      ->check(CLI::IsMember({"kaiming", "pissa"}))
      ->capture_default_str();
  add_run_flags(ft, ff, /*rank_is_process=*/false);
  ft->callback([&] {
    mt::TrainConfig c = mt::finetune_config(mt::parse_optimizer_choice(f_opt), 1e-3);
    apply_run_flags(ft, ff, c);
    if (ft->count("--optimizer")) c.optim.optimizer = mt::parse_optimizer_choice(f_opt);
    if (ft->count("--lr")) {
      c.optim.set_single_lr(f_lr);
    } else if (ff.resume.empty() && ff.config_file.empty() && !ff.print_config) {
      throw std::invalid_argument("finetune needs --lr (or a --config that sets the rates)");
    }
    if (ft->count("--from")) c.init_from = f_from;
    if (ft->count("--method")) c.method = f_method;
    if (ft->count("--rank")) c.lora.rank = f_rank;
    if (ft->count("--alpha")) c.lora.alpha = f_alpha;
    if (ft->count("--lora-scale")) c.lora.scaling = mt::parse_lora_scaling(f_scale);
    if (ft->count("--init")) c.lora.init = mt::parse_lora_init(f_init);
    code = execute(c, ff);
  });

  // ---- resume ----
  RunFlags rf;
  std::string r_dir;
  CLI::App* res = app.add_subcommand(
      "resume", "Continue a run directory from its last checkpoint (same as --resume DIR)");
  res->add_option("dir", r_dir, "Run directory")->required();
  res->add_option("--device", rf.device, "cpu or cuda[:N]");
  res->add_option("--threads", rf.threads, "Intra-op CPU threads")->check(kNonNegative);
  res->add_flag("--no-progress", rf.no_progress, "No progress line");
  res->add_option("--rank,--process-rank", rf.process_rank, "Data-parallel rank (env RANK)");
  res->add_option("--world-size", rf.world_size, "Number of processes (env WORLD_SIZE)");
  res->add_option("--master-addr", rf.master_addr, "Host of rank 0 (env MASTER_ADDR)");
  res->add_option("--master-port", rf.master_port, "Port of rank 0 (env MASTER_PORT)");
  res->callback([&] {
    rf.resume = r_dir;
    code = execute(mt::TrainConfig{}, rf);
  });

  // ---- digits ----
  mt::DigitsConfig dc;
  std::string d_data = "data/corpora/digits/digits.csv", d_out, d_popt = "adam", d_fopt = "muon";
  CLI::App* dig = app.add_subcommand(
      "digits",
      "Vision forgetting experiment: MLP pretrained on digits 0-4, fine-tuned on 5-9; "
      "forgetting = drop of held-out accuracy on 0-4 (writes digits.csv, summary.json)");
  dig->add_option("--data", d_data, "digits.csv from data/fetch_corpora.sh")->capture_default_str();
  dig->add_option("--out", d_out, "Run directory")->required();
  dig->add_option("--pretrain-optimizer", d_popt, "adam, muon or muon-pe")
      ->check(CLI::IsMember({"adam", "adamw", "muon", "muon-pe"}))
      ->capture_default_str();
  dig->add_option("--pretrain-lr", dc.pretrain_lr, "Pretraining lr")->capture_default_str();
  dig->add_option("--optimizer,--finetune-optimizer", d_fopt, "Fine-tuning optimizer")
      ->check(CLI::IsMember({"adam", "adamw", "muon", "muon-pe"}))
      ->capture_default_str();
  dig->add_option("--lr,--finetune-lr", dc.finetune_lr, "Fine-tuning lr")->capture_default_str();
  dig->add_option("--method", dc.method, "full or lora")
      ->check(CLI::IsMember({"full", "lora"}))
      ->capture_default_str();
  dig->add_option("--rank", dc.lora.rank, "LoRA rank")->capture_default_str();
  dig->add_option("--alpha", dc.lora.alpha, "LoRA alpha")->capture_default_str();
  dig->add_option("--pretrain-steps", dc.pretrain_steps, "Steps on 0-4")->capture_default_str();
  dig->add_option("--finetune-steps", dc.finetune_steps, "Steps on 5-9")->capture_default_str();
  dig->add_option("--hidden", dc.hidden, "MLP width")->capture_default_str();
  dig->add_option("--seed", dc.seed, "Seed")->capture_default_str();
  dig->callback([&] {
    dc.pretrain_optimizer = mt::parse_optimizer_choice(d_popt);
    dc.finetune_optimizer = mt::parse_optimizer_choice(d_fopt);
    const mt::DigitsData data = mt::load_digits_csv(d_data);
    const mt::DigitsResult r = mt::run_digits(dc, data, d_out);
    std::printf(
        "digits: %s; old (0-4) accuracy %.3f after pretraining -> %.3f after "
        "fine-tuning (forgetting %.3f); new (5-9) accuracy %.3f; written to %s\n",
        mt::run_status_name(r.status), r.pretrained_old_acc, r.final_old_acc, r.forgetting,
        r.final_new_acc, d_out.c_str());
    code = r.status == mt::RunStatus::kDiverged ? mt::kExitDiverged : mt::kExitOk;
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "muft-train: error: %s\n", e.what());
    return mt::kExitFailed;
  }
  return code;
}

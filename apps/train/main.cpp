/// \file main.cpp
/// muft-train: pretrain / finetune / resume a model through the one training loop
/// (muft::train::run_training), and the digits preset. Flags and printing only: the work is in
/// lib/train, progress arrives through a TrainObserver. Exit codes: docs/cli.md.

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "muft/app/cli.h"
#include "muft/app/flags.h"

#include "muft/rundir/run_dir.h"
#include "muft/train/config.h"
#include "muft/train/data.h"
#include "muft/train/digits.h"
#include "muft/train/distributed.h"
#include "muft/train/tokenizer.h"
#include "muft/train/trainer.h"

namespace {

namespace mt = muft::train;
namespace fs = std::filesystem;

/// A number check with a one-line message (CLI11's built-in ones print the whole double range):
/// > 0, or ≥ 0 with allow_zero.
CLI::Validator number_check(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& v) {
        try {
          std::size_t used = 0;
          const double x = std::stod(v, &used);
          if (used == v.size() && std::isfinite(x) && (x > 0 || (allow_zero && x == 0)))
            return std::string();
        } catch (const std::exception&) {
        }
        return (allow_zero ? "must be a number >= 0, got '" : "must be a positive number, got '") +
               v + "'";
      },
      allow_zero ? "NONNEGATIVE" : "POSITIVE");
}
const CLI::Validator kPositive = number_check(false);
const CLI::Validator kNonNegative = number_check(true);

/// A seed: an integer in [0, 2^64 − 1], written in decimal (no sign, no wrap-around).
uint64_t parse_seed(const std::string& s) {
  const bool digits =
      !s.empty() && s.size() <= 20 && s.find_first_not_of("0123456789") == std::string::npos;
  if (digits) {
    try {
      std::size_t used = 0;
      const unsigned long long v = std::stoull(s, &used, 10);
      if (used == s.size()) return static_cast<uint64_t>(v);
    } catch (const std::exception&) {
    }
  }
  throw std::invalid_argument("--seed must be an integer in [0, 18446744073709551615], got '" + s +
                              "'");
}

/// Makes a command-line path absolute (relative paths on the command line mean the current
/// directory; relative paths inside configs mean the data directory).
std::string absolute(const std::string& p) {
  return p.empty() ? p : fs::absolute(p).lexically_normal().string();
}

/// Flags shared by pretrain, finetune and resume.
struct RunFlags {
  std::string config_file;
  std::string out;
  std::string resume;
  int64_t steps = 0;
  std::string seed;
  int64_t batch_size = 0;
  int64_t eval_every = 0;
  int64_t checkpoint_every = -1;
  int64_t eval_windows = -1;
  std::string train, val, old_val, data_dir;
  std::string device;
  int64_t threads = -1;
  bool no_progress = false;
  bool print_config = false;
  int64_t from_step = -1;
  bool fallback = false;
  // data parallel
  int64_t process_rank = -1;
  int64_t world_size = -1;
  std::string master_addr;
  int64_t master_port = -1;
};

void add_resume_flags(CLI::App* sub, RunFlags& f) {
  sub->add_option("--from-step", f.from_step,
                  "Resume from the checkpoint of this step instead of the newest")
      ->check(kNonNegative);
  sub->add_flag("--fallback", f.fallback,
                "When the newest checkpoint is corrupt, resume from the newest good one");
}

void add_run_flags(CLI::App* sub, RunFlags& f, bool rank_is_process) {
  sub->add_option("--config", f.config_file,
                  "JSON file overlaid on the defaults (same keys as DIR/config.json)");
  sub->add_option("--out", f.out, "Run directory to create (config.json, metrics.csv, ...)");
  sub->add_option("--resume", f.resume,
                  "Continue the run in DIR from its last checkpoint (other config flags ignored)");
  sub->add_option("--steps", f.steps, "Optimizer steps")->check(kPositive);
  sub->add_option("--seed", f.seed, "Seed of model/adapter init and of the data order")
      ->check(muft::app::seed_check());
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
  sub->add_option("--data-dir", f.data_dir,
                  "Directory that relative corpus paths of configs refer to (env MUFT_DATA_DIR; "
                  "default: the repository's data/corpora)");
  sub->add_option("--device", f.device, "cpu or cuda[:N] (bf16 autocast on CUDA)");
  sub->add_option("--threads", f.threads, "Intra-op CPU threads (0 = LibTorch default)")
      ->check(muft::app::count_check(0, muft::app::kMaxThreads));
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
  add_resume_flags(sub, f);
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
  if (sub->count("--seed")) c.seed = parse_seed(f.seed);
  if (sub->count("--batch-size")) c.batch_size = f.batch_size;
  if (sub->count("--eval-every")) c.eval_every = f.eval_every;
  if (sub->count("--checkpoint-every")) c.checkpoint_every = f.checkpoint_every;
  if (sub->count("--eval-windows")) c.data.eval_windows = f.eval_windows;
  if (sub->count("--train")) c.data.train = absolute(f.train);
  if (sub->count("--val")) c.data.val = absolute(f.val);
  if (sub->count("--old-val")) c.data.old_val = absolute(f.old_val);
  if (sub->count("--device")) c.device = f.device;
  if (sub->count("--threads")) c.threads = f.threads;
  c.schedule.total_steps = c.steps;
}

/// Rank and world size from the flags over the environment, validated alike.
mt::DistributedOptions dist_options(const RunFlags& f) {
  mt::DistributedOptions d = mt::DistributedOptions::from_env();
  if (f.process_rank >= 0) d.rank = f.process_rank;
  if (f.world_size > 0) d.world_size = f.world_size;
  if (!f.master_addr.empty()) d.master_addr = f.master_addr;
  if (f.master_port > 0) d.master_port = f.master_port;
  std::string err;
  if (!d.IsValid(&err)) throw std::invalid_argument("distributed options: " + err);
  return d;
}

/// Prints what the training loop reports: eval lines on stdout, the progress line and notes on
/// stderr.
class ConsoleObserver : public mt::TrainObserver {
 public:
  ConsoleObserver(const mt::TrainConfig& cfg, bool progress) : cfg_(cfg), progress_(progress) {}

  void on_start(const mt::RunStart& s) override {
    std::printf("muft-train %s%s: %s, %s, %lld steps x %lld%s, %s%s\n",
                mt::to_string(cfg_.mode).c_str(), s.resumed ? " (resume)" : "",
                mt::to_string(cfg_.task).c_str(), mt::to_string(cfg_.optim.optimizer).c_str(),
                static_cast<long long>(cfg_.steps), static_cast<long long>(cfg_.batch_size),
                cfg_.task == mt::TaskKind::kLanguageModel
                    ? fmt::format(" x {} tokens", cfg_.model.sequence_len).c_str()
                    : "",
                s.task.c_str(),
                s.world_size > 1 ? fmt::format(", {} processes", s.world_size).c_str() : "");
    std::fflush(stdout);
  }
  void on_step(const mt::StepProgress& p) override {
    if (!progress_) return;
    const auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last_print_).count() < 0.25) return;
    last_print_ = now;
    std::fprintf(stderr, "\rstep %lld/%lld  loss %.4f  %.0f %s/s  ETA %s   ",
                 static_cast<long long>(p.step), static_cast<long long>(p.steps), p.loss,
                 p.tokens_per_second, cfg_.task == mt::TaskKind::kLanguageModel ? "tok" : "img",
                 eta(p.eta_seconds).c_str());
    std::fflush(stderr);
    line_ = true;
  }
  void on_evaluation(const muft::rundir::MetricsRow& r,
                     const std::vector<std::string>& names) override {
    clear();
    std::string extra;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == "val_spread") continue;
      extra += fmt::format(" | {} {:.3f}", names[i], r.extra[i]);
    }
    const std::string train = std::isnan(r.train_loss) ? "-" : fmt::format("{:.4f}", r.train_loss);
    const std::string bpb = cfg_.task == mt::TaskKind::kLanguageModel
                                ? fmt::format(" ({:.3f} bpb)", mt::bits_per_byte(r.val_loss))
                                : "";
    std::printf("step %lld/%lld | train %s | val %.4f%s | old %.4f%s | lr %.3g | %.1fs\n",
                static_cast<long long>(r.step), static_cast<long long>(cfg_.steps), train.c_str(),
                r.val_loss, bpb.c_str(), r.old_val_loss, extra.c_str(), r.lr, r.seconds);
    std::fflush(stdout);
  }
  void on_note(const std::string& m) override {
    clear();
    std::fprintf(stderr, "muft-train: note: %s\n", m.c_str());
  }
  void on_end(const mt::TrainResult& r) override {
    clear();
    if (r.status != mt::RunStatus::kCompleted) {
      std::printf("%s: %s\n", muft::rundir::to_string(r.status), r.reason.c_str());
    }
  }
  void clear() {
    if (line_) std::fprintf(stderr, "\r%*s\r", 100, "");
    line_ = false;
  }

 private:
  static std::string eta(double s) {
    if (!std::isfinite(s) || s < 0) return "?";
    const int64_t t = static_cast<int64_t>(s + 0.5);
    if (t >= 3600) return fmt::format("{}h{:02d}m", t / 3600, (t % 3600) / 60);
    if (t >= 60) return fmt::format("{}m{:02d}s", t / 60, t % 60);
    return fmt::format("{}s", t);
  }
  mt::TrainConfig cfg_;
  bool progress_;
  bool line_ = false;
  std::chrono::steady_clock::time_point last_print_{};
};

/// Runs (or resumes) and returns the exit code.
int execute(mt::TrainConfig cfg, const RunFlags& f) {
  if (!f.data_dir.empty()) mt::set_data_dir(absolute(f.data_dir));
  const bool resume = !f.resume.empty();
  const std::string out = resume ? f.resume : f.out;
  if (resume) {
    const muft::rundir::RunDir run(f.resume);
    if (!run.exists()) throw std::invalid_argument("'" + f.resume + "' is not a run directory");
    if (!run.has_config()) {
      throw std::invalid_argument("'" + f.resume + "' holds no run to resume (no config.json)");
    }
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

  const mt::DistributedOptions dopts = dist_options(f);
  std::unique_ptr<mt::DistributedContext> dist;
  if (dopts.world_size > 1) dist = std::make_unique<mt::DistributedContext>(dopts);
  const bool main_rank = !dist || dist->is_main();

  ConsoleObserver observer(cfg, main_rank && !f.no_progress && ::isatty(2));
  mt::TrainOptions to;
  to.resume = resume;
  to.resume_from_step = f.from_step;
  to.resume_fallback = f.fallback;
  to.dist = dist.get();
  to.observer = main_rank ? &observer : nullptr;
  const mt::TrainResult r = mt::run_training(cfg, out, to);
  if (main_rank) {
    std::printf(
        "muft-train: %s at step %lld (%s); params %lld (trainable %lld); %.0f %s/s; "
        "val loss %.4f, old val loss %.4f; run in %s\n",
        muft::rundir::to_string(r.status), static_cast<long long>(r.step),
        r.reason.empty() ? "ok" : r.reason.c_str(), static_cast<long long>(r.num_parameters),
        static_cast<long long>(r.trainable_parameters), r.tokens_per_second,
        cfg.task == mt::TaskKind::kLanguageModel ? "tok" : "img", r.last_val_loss,
        r.last_old_val_loss, out.c_str());
  }
  return r.exit_code;
}

/// The final value of a metrics column of a finished run (NaN when absent).
double final_metric(const std::string& dir, const std::string& name, bool first = false) {
  const muft::rundir::Metrics m = muft::rundir::RunDir(dir).read_metrics();
  if (m.rows.empty()) return std::nan("");
  return m.value(first ? 0 : m.rows.size() - 1, name);
}

}  // namespace

int main(int argc, char** argv) {
  if (!muft::app::start_platform(argv)) return muft::app::kError;
  CLI::App app{
      "muft-train: pretrain a model (the GPT on byte-level text, or the digits MLP), fine-tune "
      "it with full or LoRA updates under AdamW, Muon or Muon-PE, resume runs bit-exactly, "
      "train data-parallel over processes, and run the digits forgetting preset. Diverged and "
      "collapsed runs are recorded as such, never as completed.\n"
      "Exit codes: 0 completed, 1 error/bad input, 3 diverged, 4 collapsed. See docs/training.md "
      "and docs/cli.md."};
  app.require_subcommand(1);
  int code = 0;
  const std::vector<std::string> optimizers = mt::optimizer_choice_names();

  // ---- pretrain ----
  RunFlags pf;
  std::string p_opt = "adam";
  double p_lr = 0;
  CLI::App* pre = app.add_subcommand(
      "pretrain", "Pretrain the GPT (default: the documented 'tiny' config on GCIDE)");
  pre->add_option("--optimizer", p_opt, "adam, muon or muon-pe")
      ->check(CLI::IsMember(optimizers))
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
      ->check(CLI::IsMember(mt::method_names()))
      ->capture_default_str();
  ft->add_option("--optimizer", f_opt, "adam, muon or muon-pe")
      ->check(CLI::IsMember(optimizers))
      ->capture_default_str();
  ft->add_option("--lr", f_lr, "Learning rate of every parameter group (the swept value)")
      ->check(kPositive);
  ft->add_option("--rank,--lora-rank", f_rank, "LoRA rank r")
      ->check(CLI::Range(int64_t{1}, int64_t{65536}))
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
    if (ft->count("--from")) c.init_from = absolute(f_from);
    if (ft->count("--method")) c.method = mt::parse_method(f_method);
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
      "resume",
      "Continue a run directory from its last checkpoint (same as --resume DIR); a run killed "
      "before its first checkpoint starts again from step 0 with its stored config");
  res->add_option("dir", r_dir, "Run directory")->required();
  res->add_option("--device", rf.device, "cpu or cuda[:N]");
  res->add_option("--threads", rf.threads, "Intra-op CPU threads")
      ->check(muft::app::count_check(0, muft::app::kMaxThreads));
  res->add_option("--data-dir", rf.data_dir, "Directory of the corpora (env MUFT_DATA_DIR)");
  res->add_flag("--no-progress", rf.no_progress, "No progress line");
  add_resume_flags(res, rf);
  res->add_option("--rank,--process-rank", rf.process_rank, "Data-parallel rank (env RANK)")
      ->check(kNonNegative);
  res->add_option("--world-size", rf.world_size, "Number of processes (env WORLD_SIZE)")
      ->check(kPositive);
  res->add_option("--master-addr", rf.master_addr, "Host of rank 0 (env MASTER_ADDR)");
  res->add_option("--master-port", rf.master_port, "Port of rank 0 (env MASTER_PORT)")
      ->check(CLI::Range(1, 65535));
  res->callback([&] {
    rf.resume = r_dir;
    code = execute(mt::TrainConfig{}, rf);
  });

  // ---- digits ----
  std::string d_out, d_popt = "adam", d_fopt = "muon", d_method = "full", d_seed = "0",
                     d_classifier = "head", d_data, d_data_dir;
  double d_plr = 3e-3, d_flr = 0.02, d_alpha = 8;
  int64_t d_rank = 4, d_psteps = 300, d_fsteps = 300, d_hidden = 128;
  CLI::App* dig = app.add_subcommand(
      "digits",
      "Vision forgetting preset: the MLP pretrained on digits 0-4 (DIR/pretrain), then "
      "fine-tuned on 5-9 (DIR/finetune) by the same training loop; forgetting = drop of "
      "held-out accuracy on 0-4");
  dig->add_option("--out", d_out, "Directory for the two runs")->required();
  dig->add_option("--data", d_data,
                  "digits.csv (default: digits/digits.csv in the data directory)");
  dig->add_option("--data-dir", d_data_dir, "Directory of the corpora (env MUFT_DATA_DIR)");
  dig->add_option("--pretrain-optimizer", d_popt, "adam, muon or muon-pe")
      ->check(CLI::IsMember(optimizers))
      ->capture_default_str();
  dig->add_option("--pretrain-lr", d_plr, "Pretraining lr")
      ->check(kPositive)
      ->capture_default_str();
  dig->add_option("--optimizer,--finetune-optimizer", d_fopt, "Fine-tuning optimizer")
      ->check(CLI::IsMember(optimizers))
      ->capture_default_str();
  dig->add_option("--lr,--finetune-lr", d_flr, "Fine-tuning lr")
      ->check(kPositive)
      ->capture_default_str();
  dig->add_option("--method", d_method, "full or lora")
      ->check(CLI::IsMember(mt::method_names()))
      ->capture_default_str();
  dig->add_option("--rank", d_rank, "LoRA rank")
      ->check(CLI::Range(int64_t{1}, int64_t{128}))
      ->capture_default_str();
  dig->add_option("--alpha", d_alpha, "LoRA alpha")->check(kPositive)->capture_default_str();
  dig->add_option("--classifier", d_classifier,
                  "Fine-tuning classifier: head (learned, 10-way) or class_means (fixed)")
      ->check(CLI::IsMember({"head", "class_means"}))
      ->capture_default_str();
  dig->add_option("--pretrain-steps", d_psteps, "Steps on 0-4")
      ->check(CLI::Range(int64_t{1}, mt::Limits::kMaxSteps))
      ->capture_default_str();
  dig->add_option("--finetune-steps", d_fsteps, "Steps on 5-9")
      ->check(CLI::Range(int64_t{1}, mt::Limits::kMaxSteps))
      ->capture_default_str();
  dig->add_option("--hidden", d_hidden, "MLP width")
      ->check(CLI::Range(int64_t{4}, int64_t{65536}))
      ->capture_default_str();
  dig->add_option("--seed", d_seed, "Seed")->check(muft::app::seed_check())->capture_default_str();
  dig->callback([&] {
    if (!d_data_dir.empty()) mt::set_data_dir(absolute(d_data_dir));
    const std::string pre_dir = d_out + "/pretrain", ft_dir = d_out + "/finetune";
    mt::TrainConfig p =
        mt::digits_config(mt::Mode::kPretrain, mt::parse_optimizer_choice(d_popt), d_plr, d_psteps);
    p.seed = parse_seed(d_seed);
    p.digits.hidden = d_hidden;
    if (!d_data.empty()) p.digits.data = absolute(d_data);
    mt::TrainResult r = mt::run_training(p, pre_dir, {});
    if (r.status != mt::RunStatus::kCompleted) {
      std::printf("digits: pretraining %s (%s); written to %s\n", muft::rundir::to_string(r.status),
                  r.reason.c_str(), pre_dir.c_str());
      code = r.exit_code;
      return;
    }
    mt::TrainConfig f =
        mt::digits_config(mt::Mode::kFinetune, mt::parse_optimizer_choice(d_fopt), d_flr, d_fsteps);
    f.seed = p.seed;
    f.digits.data = p.digits.data;
    f.digits.classifier = mt::parse_digits_classifier(d_classifier);
    f.method = mt::parse_method(d_method);
    f.lora = mt::digits_lora_defaults(f.digits.classifier);
    f.lora.rank = d_rank;
    f.lora.alpha = d_alpha;
    f.init_from = absolute(muft::rundir::RunDir(pre_dir).latest_checkpoint()->path);
    r = mt::run_training(f, ft_dir, {});
    // Old-task accuracy: at the end of pretraining, then at the start and end of fine-tuning
    // (under the class-mean classifier the old task is scored by its own class means).
    const double pre_acc = final_metric(pre_dir, "val_acc");
    const double start = final_metric(ft_dir, "old_val_acc", /*first=*/true);
    const double end = final_metric(ft_dir, "old_val_acc");
    std::printf(
        "digits: %s; old (0-4) accuracy %.3f after pretraining, %.3f -> %.3f over fine-tuning "
        "(forgetting %.3f); new (5-9) accuracy %.3f; runs in %s and %s\n",
        muft::rundir::to_string(r.status), pre_acc, start, end, start - end,
        final_metric(ft_dir, "val_acc"), pre_dir.c_str(), ft_dir.c_str());
    code = r.exit_code;
  });

  // The subcommands run in their callbacks, during the parse; run_app turns any error into one
  // line and exit code 1, and their result is `code` (0, 3 diverged, 4 collapsed).
  return muft::app::run_app("muft-train", app, argc, argv, [&]() { return code; });
}

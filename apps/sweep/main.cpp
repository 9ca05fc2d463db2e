/// muft-sweep: run, inspect, collect and tabulate an experiment grid of muft-train runs.
/// Flag parsing and printing only; the work is in muft::sweep.

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "muft/app/cli.h"
#include "muft/app/flags.h"
#include "muft/app/outputs.h"
#include "muft/rundir/run_dir.h"
#include "muft/sweep/analyze.h"
#include "muft/sweep/collect.h"
#include "muft/sweep/grid.h"
#include "muft/sweep/report.h"
#include "muft/sweep/scheduler.h"
#include "muft/sweep/spec.h"
#include "muft/sweep/study_report.h"

namespace fs = std::filesystem;

namespace {

/// muft-train next to this executable (build/bin/muft-train, or an install's bin/).
std::string sibling_trainer() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  buf[n] = '\0';
  return (fs::path(buf).parent_path() / "muft-train").string();
}

muft::sweep::ExperimentSpec load(const std::string& path, const std::string& out_dir) {
  auto spec = muft::sweep::load_spec(path);
  if (!out_dir.empty()) spec.out_dir = out_dir;
  return spec;
}

std::vector<muft::sweep::RunSpec> select(const std::vector<muft::sweep::RunSpec>& all,
                                         const std::string& only, const std::string& shard) {
  std::vector<muft::sweep::RunSpec> sel;
  for (const auto& r : all)
    if (only == "all" || only == muft::sweep::to_string(r.kind)) sel.push_back(r);
  if (!shard.empty()) {
    std::size_t i = 0, n = 1;
    muft::sweep::parse_shard(shard, &i, &n);
    sel = muft::sweep::shard(sel, i, n);
  }
  return sel;
}

}  // namespace

int main(int argc, char** argv) {
  if (!muft::app::start_platform(argv)) return muft::app::kError;
  CLI::App app{
      "muft-sweep: run an experiment grid of muft-train processes, resumably, and "
      "collect its results (spec format: docs/experiments.md)"};
  app.require_subcommand(1);
  std::string spec_path, out_dir, only = "all", shard_text;
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("SPEC", spec_path, "experiment spec (TOML)")
        ->required()
        ->check(CLI::ExistingFile);
    sub->add_option("--out-dir", out_dir,
                    "root of the run directories (default: the spec's out_dir)");
  };
  auto add_selection = [&](CLI::App* sub) {
    sub->add_option("--only", only, "which runs: all, pretrain or finetune")
        ->check(CLI::IsMember({"all", "pretrain", "finetune"}))
        ->capture_default_str();
    sub->add_option(
        "--shard", shard_text,
        "i/N: only runs at positions p with p % N == i of the selection (Slurm arrays)");
  };

  auto* run = app.add_subcommand("run", "run every pending or interrupted run of the grid");
  add_common(run);
  add_selection(run);
  muft::sweep::SchedulerOptions opt;
  std::string trainer;
  bool verbose = false;
  run->add_option("--jobs,-j", opt.jobs, "concurrent trainer processes")
      ->check(muft::app::count_check(1, muft::app::kMaxThreads))
      ->capture_default_str();
  run->add_option("--trainer", trainer, "muft-train executable (default: next to muft-sweep)");
  run->add_flag("--retry-diverged", opt.retry_diverged,
                "restart diverged and collapsed runs from scratch");
  run->add_flag("--retry-failed", opt.retry_failed, "retry failed or corrupt runs");
  run->add_flag("--dry-run", opt.dry_run, "print what would run, start nothing");
  run->add_flag("--verbose,-v", verbose, "log every start/finish (default: only on a terminal)");

  auto* status = app.add_subcommand(
      "status", "count pending/running/completed/diverged/collapsed/failed runs");
  add_common(status);
  add_selection(status);
  bool list = false;
  status->add_flag("--list", list, "one line per run");

  auto* collect =
      app.add_subcommand("collect", "gather metrics, status and configs into HDF5 + CSV");
  add_common(collect);
  std::string out_h5 = "results.h5";
  collect->add_option("--out", out_h5, "HDF5 output (CSV tables are written next to it)")
      ->capture_default_str();
  bool no_analysis = false;
  int analysis_jobs = 1;
  collect->add_flag("--no-analysis", no_analysis,
                    "skip the checkpoint analysis (distances to the pretrained model, spectra)");
  collect
      ->add_option("--analysis-jobs", analysis_jobs,
                   "threads for the checkpoint analysis (0 = all cores)")
      ->check(muft::app::count_check(0, muft::app::kMaxThreads))
      ->capture_default_str();

  auto* report = app.add_subcommand("report", "Markdown tables (Table 1, Table 5 analogue, ...)");
  add_common(report);
  std::string out_md;
  report->add_option("--out", out_md, "write Markdown here (default: stdout)");
  std::string methods_csv_path;
  report->add_option(
      "--methods-csv", methods_csv_path,
      "also write task,method,mean,std,n,lr at the best lr (input of muft-stats meta)");
  std::string verdicts_csv_path;
  report->add_option("--verdicts-csv", verdicts_csv_path,
                     "staged specs: also write claim,scope,quantity,estimate,low,high,interval,"
                     "verdict,note");
  bool report_no_analysis = false;
  report->add_flag("--no-analysis", report_no_analysis,
                   "skip the distances to the pretrained model (Table 17 analogue)");

  return muft::app::run_app("muft-sweep", app, argc, argv, [&]() -> int {
    if (*collect) muft::app::check_outputs({{"--out", out_h5}}, {{"SPEC", spec_path}});
    if (*report)
      muft::app::check_outputs({{"--out", out_md},
                                {"--methods-csv", methods_csv_path},
                                {"--verdicts-csv", verdicts_csv_path}},
                               {{"SPEC", spec_path}});
    const auto spec = load(spec_path, out_dir);
    // Staged studies grow as their runs finish: every command sees the stages whose inputs are
    // done (the run directories are the only state).
    const auto all = muft::sweep::expand_grid(spec, muft::sweep::outcome_from_run_dir);
    if (*run) {
      const auto sel = select(all, only, shard_text);
      opt.trainer = trainer.empty() ? sibling_trainer() : trainer;
      opt.interface = spec.trainer;
      opt.refresh = [&]() {
        auto now = muft::sweep::expand_grid(spec, muft::sweep::outcome_from_run_dir);
        auto sel_now = select(now, only, shard_text);
        return muft::sweep::RunLists{std::move(sel_now), std::move(now)};
      };
      const bool tty = ::isatty(2);
      std::size_t done_events = 0;
      auto log = [&](const std::string& line) {
        const bool finished = line.rfind("completed ", 0) == 0 || line.rfind("diverged ", 0) == 0 ||
                              line.rfind("collapsed ", 0) == 0 || line.rfind("failed ", 0) == 0;
        if (finished) ++done_events;
        if (verbose || tty || opt.dry_run) std::cerr << "muft-sweep: " << line << "\n";
      };
      const auto s = muft::sweep::run_sweep(sel, all, opt, log);
      fmt::print(
          "{}: {} runs selected: {} already done, {} completed now, {} diverged, {} collapsed, "
          "{} failed, {} blocked, {} running elsewhere ({} launched, {} resumed)\n",
          spec.name, s.selected, s.already_done, s.completed, s.diverged, s.collapsed, s.failed,
          s.blocked, s.running_elsewhere, s.launched, s.resumed);
      for (const auto& p : s.problems) fmt::print("  problem: {}\n", p);
      return s.exit_code() == 0 ? muft::app::kSuccess : muft::app::kSomeFailed;
    }
    if (*status) {
      const auto sel = select(all, only, shard_text);
      std::vector<std::pair<const muft::sweep::RunSpec*, muft::rundir::Inspection>> details;
      const auto c = muft::sweep::count_states(sel, &details);
      if (list)
        for (const auto& [r, s] : details)
          fmt::print("{:<12} {}{}\n", muft::rundir::to_string(s.state), r->id,
                     s.reason.empty() ? "" : "  (" + s.reason + ")");
      fmt::print(
          "{}: {} runs: {} done, {} running, {} interrupted, {} pending, {} diverged, "
          "{} collapsed, {} failed, {} corrupt\n",
          spec.name, sel.size(), c.completed, c.running, c.interrupted, c.pending, c.diverged,
          c.collapsed, c.failed, c.corrupt);
      for (const auto& [r, s] : details)
        if (!list && s.state == muft::rundir::RunState::kCorrupt)
          fmt::print("  corrupt: {} ({})\n", r->id, s.reason);
      return muft::app::kSuccess;
    }
    if (*collect) {
      auto runs = muft::sweep::load_runs(all);
      if (!no_analysis && muft::sweep::analysis_available()) {
        muft::sweep::AnalyzeOptions ao;
        ao.jobs = analysis_jobs;
        if (::isatty(2))
          ao.progress = [](std::size_t done, std::size_t total) {
            std::cerr << "\ranalyzing checkpoints: " << done << "/" << total << std::flush;
            if (done == total) std::cerr << "\n";
          };
        muft::sweep::analyze_runs(&runs, ao);
      } else if (!no_analysis) {
        fmt::print("note: built without muft::analysis: no distances or spectra collected\n");
      }
      const auto written = muft::sweep::write_results(spec, runs, out_h5);
      std::size_t with_metrics = 0, problems = 0;
      for (const auto& r : runs) {
        if (r.rows() > 0) ++with_metrics;
        if (!r.analysis_problem.empty())
          fmt::print("  analysis problem: {}: {}\n", r.spec.id, r.analysis_problem);
        if (!r.problem.empty() || r.status.state == muft::rundir::RunState::kCorrupt) {
          ++problems;
          fmt::print("  problem: {}: {}{}\n", r.spec.id, muft::rundir::to_string(r.status.state),
                     r.problem.empty() ? " (" + r.status.reason + ")" : ": " + r.problem);
        }
      }
      fmt::print("{}: collected {} runs ({} with metrics, {} with problems) into", spec.name,
                 runs.size(), with_metrics, problems);
      for (const auto& w : written) fmt::print(" {}", w);
      fmt::print("\n");
      return muft::app::kSuccess;
    }
    if (*report) {
      auto runs = muft::sweep::load_runs(all);
      const bool staged = muft::sweep::is_staged(spec);
      if (!report_no_analysis && muft::sweep::analysis_available()) {
        muft::sweep::AnalyzeOptions ao;
        ao.jobs = analysis_jobs;
        // The distances, and for a staged report the pretrained models' spectra.
        ao.series = staged;
        ao.series_pretraining_only = true;
        muft::sweep::analyze_runs(&runs, ao);
      }
      std::vector<muft::sweep::Verdict> verdicts;
      const std::string md =
          staged
              ? muft::sweep::staged_report(
                    spec, runs, muft::sweep::lr_selections(spec, muft::sweep::outcome_from_run_dir),
                    &verdicts)
              : muft::sweep::markdown_report(spec, runs);
      if (!verdicts_csv_path.empty()) {
        if (!staged)
          throw std::invalid_argument("--verdicts-csv needs a staged spec (select_seeds)");
        muft::rundir::write_file_atomic(verdicts_csv_path, muft::sweep::verdicts_csv(verdicts));
        std::cerr << "wrote " << verdicts_csv_path << "\n";
      }
      if (!methods_csv_path.empty()) {
        muft::rundir::write_file_atomic(methods_csv_path, muft::sweep::methods_csv(spec, runs));
        std::cerr << "wrote " << methods_csv_path << "\n";
      }
      if (out_md.empty()) {
        std::cout << md;
      } else {
        muft::rundir::write_file_atomic(out_md, md);
        fmt::print("wrote {}\n", out_md);
      }
      return muft::app::kSuccess;
    }
    return muft::app::kSuccess;
  });
}

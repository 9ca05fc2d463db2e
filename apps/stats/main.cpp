/// muft-stats: seed summaries, best-LR selection and the random-effects meta-analysis of
/// LoRA's mismatch mitigation. Flag parsing and printing only; the math is in muft::stats.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>
#include "muft/app/cli.h"
#include "muft/app/outputs.h"

#include "muft/stats/csv.h"
#include "muft/stats/gap_meta.h"
#include "muft/stats/meta.h"
#include "muft/stats/table_summary.h"

namespace {

using muft::stats::MetaResult;

// JSON has no NaN: write null for non-finite numbers.
nlohmann::json num(double x) {
  return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json();
}

void write_json(const std::string& path, const nlohmann::json& j) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw std::runtime_error("cannot write '" + path + "'");
    out << j.dump(2) << "\n";
    if (!out) throw std::runtime_error("error writing '" + path + "'");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot rename '" + tmp + "' to '" + path + "'");
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

/// What `muft-stats meta` was asked for.
struct MetaOptions {
  std::string table;  ///< long table of per-method means (unpaired path)
  std::string seeds;  ///< per-run table (paired path)
  muft::stats::SeedColumns columns;
  std::string task_columns = "task";  ///< comma-separated, parsed into columns.task
  std::string fa, fb, la, lb;
  std::string interval = "both";  ///< dl | hksj | both
  std::string json;
  std::vector<std::string> tasks;
  double confidence = 0.95;
};

nlohmann::json hksj_json(const muft::stats::HksjInterval& h) {
  return {{"se", num(h.se)},
          {"ci_low", num(h.ci_low)},
          {"ci_high", num(h.ci_high)},
          {"t", num(h.t)},
          {"df", num(h.df)},
          {"p_value", num(h.p_value)},
          {"scale", num(h.scale)},
          {"modified",
           {{"se", num(h.modified_se)},
            {"ci_low", num(h.modified_ci_low)},
            {"ci_high", num(h.modified_ci_high)},
            {"p_value", num(h.modified_p_value)}}}};
}

int run_meta(const MetaOptions& o) {
  if (o.table.empty() == o.seeds.empty())
    throw std::invalid_argument(
        "give exactly one of --table (per-method means) and --seeds "
        "(per-run values, paired by seed)");
  if (!o.table.empty() && !o.columns.value.empty())
    throw std::invalid_argument("--value applies to --seeds only (--table has a mean column)");
  if (!o.seeds.empty() && o.columns.value.empty())
    throw std::invalid_argument("--seeds needs --value COLUMN (the metric to compare)");
  const bool paired = !o.seeds.empty();
  const muft::stats::GapMethods methods{o.fa, o.fb, o.la, o.lb};
  muft::stats::GapMeta g;
  if (paired) {
    muft::stats::SeedColumns cols = o.columns;
    cols.task = split_list(o.task_columns);
    g = muft::stats::gap_meta_from_seeds(muft::stats::read_seed_table(o.seeds, cols), methods,
                                         o.tasks, o.confidence, o.seeds);
  } else {
    g = muft::stats::gap_meta_from_means(muft::stats::read_method_table(o.table), methods, o.tasks,
                                         o.confidence, o.table);
  }
  const std::vector<muft::stats::Effect>& effects = g.effects;
  const std::vector<std::string>& skipped = g.skipped;
  const std::vector<muft::stats::Interval>& task_ci = g.task_intervals;
  const MetaResult& r = g.result;
  const bool show_dl = o.interval != "hksj", show_hksj = o.interval != "dl";
  const double pct = 100 * o.confidence;

  std::size_t width = 4;
  for (const auto& e : effects) width = std::max(width, e.task.size());
  fmt::print("gap reduction y = ({} - {}) - ({} - {}) per task, {}\n", o.fa, o.fb, o.la, o.lb,
             paired ? "paired over seeds (t with n - 1 df)"
                    : "from per-method means (t with Welch-Satterthwaite df)");
  fmt::print("{:<{}} {:>12} {:>12} {:>7} {:>29} {:>8}\n", "task", width, "y", "variance", "df",
             fmt::format("{:.0f}% CI (t)", pct), "weight");
  for (std::size_t i = 0; i < effects.size(); ++i) {
    const auto& e = effects[i];
    const std::string ci = std::isfinite(task_ci[i].low)
                               ? fmt::format("[{:.6g}, {:.6g}]", task_ci[i].low, task_ci[i].high)
                               : "- (a cell has n = 1)";
    fmt::print("{:<{}} {:>12.6g} {:>12.6g} {:>7.3g} {:>29} {:>8.3f}\n", e.task, width, e.y,
               e.variance, e.df, ci, r.weights[i]);
  }
  for (const auto& s : skipped) fmt::print("skipped task '{}': not all four methods present\n", s);
  if (show_dl)
    fmt::print(
        "DerSimonian-Laird (k = {}): estimate {:.6g}, {:.0f}% CI [{:.6g}, {:.6g}] (normal), "
        "p = {:.3g}, tau2 = {:.6g}, Q = {:.6g}, I2 = {:.1f}%\n",
        r.k, r.estimate, pct, r.ci_low, r.ci_high, r.p_value, r.tau2, r.q, 100 * r.i2);
  else
    fmt::print(
        "DerSimonian-Laird estimate (k = {}): {:.6g}, tau2 = {:.6g}, Q = {:.6g}, I2 = "
        "{:.1f}%\n",
        r.k, r.estimate, r.tau2, r.q, 100 * r.i2);
  if (show_hksj) {
    const auto& h = r.hksj;
    if (!h.defined) {
      fmt::print("HKSJ: not defined for k = 1 (no degrees of freedom)\n");
    } else {
      fmt::print(
          "HKSJ (k = {}, t with {:.0f} df): estimate {:.6g}, {:.0f}% CI [{:.6g}, {:.6g}], "
          "p = {:.3g}\n",
          r.k, h.df, r.estimate, pct, h.ci_low, h.ci_high, h.p_value);
      if (h.scale < 1.0)
        fmt::print(
            "note: the tasks agree more closely than their variances predict (HKSJ scale "
            "{:.3g} < 1), where the standard HKSJ interval can be too narrow; the modified "
            "HKSJ (variance at least the DL one) gives {:.0f}% CI [{:.6g}, {:.6g}], p = {:.3g}\n",
            h.scale, pct, h.modified_ci_low, h.modified_ci_high, h.modified_p_value);
    }
  }
  if (!o.json.empty()) {
    nlohmann::json j = {{"estimate", num(r.estimate)},
                        {"k", r.k},
                        {"tau2", num(r.tau2)},
                        {"q", num(r.q)},
                        {"i2", num(r.i2)},
                        {"fixed_estimate", num(r.fixed_estimate)},
                        {"confidence", o.confidence},
                        {"interval", o.interval},
                        {"input", paired ? "paired" : "means"},
                        {"skipped", skipped}};
    if (show_dl)
      j["dl"] = {{"se", num(r.se)},
                 {"ci_low", num(r.ci_low)},
                 {"ci_high", num(r.ci_high)},
                 {"z", num(r.z)},
                 {"p_value", num(r.p_value)}};
    if (show_hksj) j["hksj"] = hksj_json(r.hksj);
    nlohmann::json tasks = nlohmann::json::array();
    for (std::size_t i = 0; i < effects.size(); ++i)
      tasks.push_back({{"task", effects[i].task},
                       {"y", effects[i].y},
                       {"variance", effects[i].variance},
                       {"df", num(effects[i].df)},
                       {"ci_low", num(task_ci[i].low)},
                       {"ci_high", num(task_ci[i].high)},
                       {"weight", r.weights[i]}});
    j["tasks"] = tasks;
    j["methods"] = {{"full_a", o.fa}, {"full_b", o.fb}, {"lora_a", o.la}, {"lora_b", o.lb}};
    write_json(o.json, j);
  }
  return 0;
}

int run_summary(const std::string& table_path, const std::string& value, const std::string& by,
                const std::string& best_lr, bool maximize, double confidence,
                const std::string& csv_path) {
  const auto table = muft::stats::read_csv(table_path);
  const auto keys = split_list(by);
  const auto groups =
      best_lr.empty()
          ? muft::stats::summarize_groups(table, keys, value, confidence)
          : muft::stats::best_lr_groups(
                table, keys, value, best_lr,
                maximize ? muft::stats::Goal::kMaximize : muft::stats::Goal::kMinimize, confidence);
  std::ostringstream csv;
  for (const auto& k : keys) csv << muft::stats::csv_escape(k) << ",";
  if (!best_lr.empty()) csv << "best_" << best_lr << ",";
  csv << "n,mean,std,ci_low,ci_high\n";
  for (const auto& g : groups) {
    std::string label;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      label += (i ? " " : "") + keys[i] + "=" + g.key[i];
      csv << muft::stats::csv_escape(g.key[i]) << ",";
    }
    if (!best_lr.empty()) csv << (g.selected ? fmt::format("{}", g.lr) : "nan") << ",";
    csv << fmt::format("{},{},{},{},{}\n", g.summary.n, g.summary.mean, g.summary.std,
                       g.summary.ci_low, g.summary.ci_high);
    std::string lr = best_lr.empty() ? ""
                     : g.selected    ? fmt::format(" best {}={}", best_lr, g.lr)
                                     : " (all learning rates diverged)";
    fmt::print("{}{}: {} = {:.6g} ± {:.3g} (n = {}, {:.0f}% CI [{:.6g}, {:.6g}])\n",
               label.empty() ? "all" : label, lr, value, g.summary.mean, g.summary.std, g.summary.n,
               100 * confidence, g.summary.ci_low, g.summary.ci_high);
  }
  if (!csv_path.empty()) {
    std::ofstream out(csv_path);
    if (!out) throw std::runtime_error("cannot write '" + csv_path + "'");
    out << csv.str();
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (!muft::app::start_platform(argv)) return muft::app::kError;
  CLI::App app{
      "muft-stats: statistics over seeds and tasks (mean ± std, Student-t CI, best "
      "learning rate, DerSimonian-Laird and HKSJ meta-analysis)"};
  app.require_subcommand(1);
  double confidence = 0.95;
  // Accepted before the subcommand and after it (`muft-stats meta --confidence 0.9 ...`, the
  // spelling docs/experiments.md uses); every spelling sets the same value.
  auto add_confidence = [&confidence](CLI::App* a) {
    a->add_option("--confidence", confidence, "confidence level of intervals")
        ->check(CLI::Range(0.5, 0.999999))
        ->capture_default_str();
  };
  add_confidence(&app);

  auto* meta = app.add_subcommand(
      "meta", "random-effects pooling of the per-task gap reduction (FullA-FullB)-(LoRAA-LoRAB)");
  MetaOptions mo;
  meta->add_option("--table", mo.table, "long CSV of per-method means: task,method,mean,std,n")
      ->check(CLI::ExistingFile);
  meta->add_option("--seeds", mo.seeds,
                   "per-run CSV (one row per task, method and seed): the gap "
                   "reduction is taken seed by seed (paired)")
      ->check(CLI::ExistingFile);
  meta->add_option("--value", mo.columns.value, "with --seeds: the metric column");
  meta->add_option("--task-column", mo.task_columns,
                   "with --seeds: column(s) naming the task, comma-separated, joined by '/'")
      ->capture_default_str();
  meta->add_option("--method-column", mo.columns.method, "with --seeds: the method column")
      ->capture_default_str();
  meta->add_option("--seed-column", mo.columns.seed, "with --seeds: the seed column")
      ->capture_default_str();
  meta->add_option("--full-a", mo.fa, "method name of full fine-tuning with optimizer A")
      ->required();
  meta->add_option("--full-b", mo.fb, "method name of full fine-tuning with optimizer B")
      ->required();
  meta->add_option("--lora-a", mo.la, "method name of LoRA with optimizer A")->required();
  meta->add_option("--lora-b", mo.lb, "method name of LoRA with optimizer B")->required();
  meta->add_option("--interval", mo.interval,
                   "pooled interval(s) to report: dl (DerSimonian-Laird, normal quantile), hksj "
                   "(Hartung-Knapp-Sidik-Jonkman, t with k-1 df) or both")
      ->check(CLI::IsMember({"dl", "hksj", "both"}))
      ->capture_default_str();
  meta->add_option("--json", mo.json,
                   "write the estimate, the dl/hksj intervals, tau2, k and per-task effects");
  add_confidence(meta);
  meta->add_option("--tasks", mo.tasks,
                   "pool only these tasks (comma-separated; default: every task with all four)")
      ->delimiter(',');

  auto* summary = app.add_subcommand(
      "summary", "mean ± std and Student-t CI of a column, grouped, optionally at the best lr");
  std::string stable, value, by, best_lr, out_csv;
  bool maximize = false;
  summary->add_option("--table", stable, "CSV, one row per run (e.g. results_runs.csv)")
      ->required()
      ->check(CLI::ExistingFile);
  summary->add_option("--value", value, "column to summarize (e.g. final_val_ppl)")->required();
  summary->add_option("--by", by, "comma-separated grouping columns (e.g. pretrain,method)");
  summary->add_option("--best-lr", best_lr,
                      "learning-rate column: select the lr with the best mean inside each group");
  summary->add_flag("--maximize", maximize, "larger values are better (accuracy)");
  summary->add_option("--csv", out_csv, "write the summary table as CSV");
  add_confidence(summary);

  return muft::app::run_app("muft-stats", app, argc, argv, [&]() -> int {
    if (*meta) {
      muft::app::check_outputs({{"--json", mo.json}},
                               {{"--table", mo.table}, {"--seeds", mo.seeds}});
      mo.confidence = confidence;
      return run_meta(mo);
    }
    muft::app::check_outputs({{"--csv", out_csv}}, {{"--table", stable}});
    return run_summary(stable, value, by, best_lr, maximize, confidence, out_csv);
  });
}

/// muft-stats: seed summaries, best-LR selection and the random-effects meta-analysis of
/// LoRA's mismatch mitigation. Flag parsing and printing only; the math is in muft::stats.

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

#include "muft/platform/startup.h"
#include "muft/stats/csv.h"
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

int run_meta(const std::string& table, const std::string& fa, const std::string& fb,
             const std::string& la, const std::string& lb, double confidence,
             const std::string& json_path, const std::vector<std::string>& tasks) {
  const auto rows = muft::stats::rows_of_tasks(muft::stats::read_method_table(table), tasks);
  std::vector<std::string> skipped;
  const auto effects = muft::stats::gap_reductions(rows, fa, fb, la, lb, &skipped);
  if (effects.empty())
    throw std::invalid_argument("no task in '" + table + "' has all four methods " + fa + ", " +
                                fb + ", " + la + ", " + lb);
  const MetaResult r = muft::stats::dersimonian_laird(effects, confidence);
  fmt::print("gap reduction y = ({} - {}) - ({} - {}) per task\n", fa, fb, la, lb);
  fmt::print("{:<20} {:>12} {:>12} {:>8}\n", "task", "y", "variance", "weight");
  for (std::size_t i = 0; i < effects.size(); ++i)
    fmt::print("{:<20} {:>12.6g} {:>12.6g} {:>8.3f}\n", effects[i].task, effects[i].y,
               effects[i].variance, r.weights[i]);
  for (const auto& s : skipped) fmt::print("skipped task '{}': not all four methods present\n", s);
  fmt::print(
      "DerSimonian-Laird (k = {}): estimate {:.6g}, {:.0f}% CI [{:.6g}, {:.6g}], p = {:.3g}, "
      "tau2 = {:.6g}, Q = {:.6g}, I2 = {:.1f}%\n",
      r.k, r.estimate, 100 * confidence, r.ci_low, r.ci_high, r.p_value, r.tau2, r.q, 100 * r.i2);
  if (!json_path.empty()) {
    nlohmann::json j = {{"estimate", num(r.estimate)},
                        {"ci_low", num(r.ci_low)},
                        {"ci_high", num(r.ci_high)},
                        {"p_value", num(r.p_value)},
                        {"tau2", num(r.tau2)},
                        {"k", r.k},
                        {"se", num(r.se)},
                        {"z", num(r.z)},
                        {"q", num(r.q)},
                        {"i2", num(r.i2)},
                        {"confidence", confidence},
                        {"skipped", skipped}};
    nlohmann::json tasks = nlohmann::json::array();
    for (std::size_t i = 0; i < effects.size(); ++i)
      tasks.push_back({{"task", effects[i].task},
                       {"y", effects[i].y},
                       {"variance", effects[i].variance},
                       {"weight", r.weights[i]}});
    j["tasks"] = tasks;
    j["methods"] = {{"full_a", fa}, {"full_b", fb}, {"lora_a", la}, {"lora_b", lb}};
    write_json(json_path, j);
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
  if (!muft::platform::start(
          argv, [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }))
    return 1;
  CLI::App app{
      "muft-stats: statistics over seeds and tasks (mean ± std, Student-t CI, best "
      "learning rate, DerSimonian-Laird meta-analysis)"};
  app.require_subcommand(1);
  double confidence = 0.95;
  app.add_option("--confidence", confidence, "confidence level of intervals")
      ->check(CLI::Range(0.5, 0.999999))
      ->capture_default_str();

  auto* meta = app.add_subcommand(
      "meta", "random-effects pooling of the per-task gap reduction (FullA-FullB)-(LoRAA-LoRAB)");
  std::string table, fa, fb, la, lb, json;
  meta->add_option("--table", table, "long CSV with columns task,method,mean,std,n")
      ->required()
      ->check(CLI::ExistingFile);
  meta->add_option("--full-a", fa, "method name of full fine-tuning with optimizer A")->required();
  meta->add_option("--full-b", fb, "method name of full fine-tuning with optimizer B")->required();
  meta->add_option("--lora-a", la, "method name of LoRA with optimizer A")->required();
  meta->add_option("--lora-b", lb, "method name of LoRA with optimizer B")->required();
  meta->add_option("--json", json,
                   "write estimate, ci_low, ci_high, p_value, tau2, k (and per-task effects)");
  std::vector<std::string> tasks;
  meta->add_option("--tasks", tasks,
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*meta) return run_meta(table, fa, fb, la, lb, confidence, json, tasks);
    return run_summary(stable, value, by, best_lr, maximize, confidence, out_csv);
  } catch (const std::exception& e) {
    std::cerr << "muft-stats: error: " << e.what() << "\n";
    return 1;
  }
}

// muft-verify: runs the named theory checks of arXiv 2605.10468 (Sec. 3.1, App. D) and prints
// a table; writes JSON / HDF5 on request. Flag parsing and printing only.
#include <fmt/core.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "muft/app/cli.h"
#include "muft/app/flags.h"
#include "muft/app/outputs.h"
#include "muft/theory/checks.h"
#include "muft/theory/polar_express.h"
#include "report.h"

namespace {

using muft::theory::CheckResult;
using muft::theory::CheckStatus;

std::string shorten(const std::string& s, std::size_t width) {
  if (s.size() <= width) return s;
  return s.substr(0, width - 3) + "...";
}

std::string num(double v) {
  if (std::isnan(v)) return "-";
  return fmt::format("{:.3e}", v);
}

void print_table(const std::vector<CheckResult>& results) {
  fmt::print("{:<22} {:<58} {:>9} {:>11} {:>11} {:>6} {:>8}\n", "check", "statement", "instances",
             "worst err", "bound", "status", "seconds");
  fmt::print("{}\n", std::string(22 + 58 + 9 + 11 + 11 + 6 + 8 + 6, '-'));
  for (const auto& r : results) {
    fmt::print("{:<22} {:<58} {:>9} {:>11} {:>11} {:>6} {:>8.2f}\n", r.name,
               shorten(r.statement, 58), r.instances, num(r.worst_error), num(r.bound),
               muft::theory::to_string(r.status), r.seconds);
  }
  bool any_note = false;
  for (const auto& r : results) {
    if (r.status == CheckStatus::kPass || r.note.empty()) continue;
    if (!any_note) fmt::print("\n");
    any_note = true;
    fmt::print("{} [{}]: {}\n", r.name, muft::theory::to_string(r.status), r.note);
  }
}

int run_coefficients(double lower, int iterations, double safety, double cushion,
                     const std::string& json_path) {
  muft::theory::PolarExpressOptions o;
  o.lower = lower;
  o.iterations = iterations;
  o.safety = safety;
  o.cushion = cushion;
  std::string why;
  if (!o.IsValid(&why)) throw std::invalid_argument(why);
  if (!json_path.empty()) muft::verify::touch_writable(json_path);
  const auto coeffs = muft::theory::polar_express_coefficients(o);
  fmt::print("# Polar Express coefficients: lower={} iterations={} safety={} cushion={}\n", lower,
             iterations, safety, cushion);
  fmt::print("{:>4} {:>24} {:>24} {:>24}\n", "step", "a", "b", "c");
  for (std::size_t k = 0; k < coeffs.size(); ++k) {
    fmt::print("{:>4} {:>24.17g} {:>24.17g} {:>24.17g}\n", k + 1, coeffs[k][0], coeffs[k][1],
               coeffs[k][2]);
  }
  if (!json_path.empty()) {
    muft::verify::write_coefficients_json(json_path, coeffs, lower, iterations, safety, cushion);
  }
  return muft::app::kSuccess;
}

int run_checks(const std::vector<std::string>& only, int instances, unsigned long long seed,
               const std::string& json_path, const std::string& h5_path) {
  muft::theory::CheckOptions opts;
  opts.instances = instances;
  opts.seed = seed;
  std::string why;
  if (!opts.IsValid(&why)) throw std::invalid_argument(why);
  std::vector<const muft::theory::CheckInfo*> selected;
  if (only.empty()) {
    for (const auto& c : muft::theory::all_checks()) selected.push_back(&c);
  } else {
    for (const auto& name : only) {
      const auto* c = muft::theory::find_check(name);
      if (c == nullptr) {
        throw std::invalid_argument("unknown check '" + name + "' (see muft-verify --list)");
      }
      if (std::find(selected.begin(), selected.end(), c) == selected.end()) selected.push_back(c);
    }
  }
  // Open the outputs before the work so that a bad path fails fast.
  std::unique_ptr<muft::verify::H5Report> h5;
  if (!h5_path.empty()) h5 = std::make_unique<muft::verify::H5Report>(h5_path);
  if (!json_path.empty()) muft::verify::touch_writable(json_path);

  const bool progress = isatty(fileno(stderr)) != 0;
  std::vector<CheckResult> results;
  for (std::size_t i = 0; i < selected.size(); ++i) {
    if (progress) {
      fmt::print(stderr, "\r[{}/{}] {:<24}", i + 1, selected.size(), selected[i]->name);
      std::fflush(stderr);
    }
    results.push_back(muft::theory::run_check(*selected[i], opts));
  }
  if (progress) fmt::print(stderr, "\r{}\r", std::string(40, ' '));
  print_table(results);
  const muft::verify::RunInfo info{instances, seed, "0.1.0"};
  if (!json_path.empty()) muft::verify::write_checks_json(json_path, info, results);
  if (h5) h5->write(info, results);
  bool all_pass = true;
  for (const auto& r : results) all_pass = all_pass && r.status != CheckStatus::kFail;
  return all_pass ? muft::app::kSuccess : muft::app::kSomeFailed;
}

}  // namespace

int main(int argc, char** argv) {
  if (!muft::app::start_platform(argv)) return muft::app::kError;
  CLI::App app{
      "muft-verify: numerical checks of the implicit-bias theory of arXiv 2605.10468 "
      "(Sec. 3.1, App. D).\nWith no arguments runs every check and prints a table; exit code 0 "
      "only if none FAILs (2 when one does, 1 on bad input; docs/cli.md)."};
  app.set_version_flag("--version", "muft-verify 0.1.0");
  bool list = false;
  std::vector<std::string> only;
  int instances = 24;
  unsigned long long seed = 2605;
  std::string json_path, h5_path;
  app.add_flag("--list", list, "List the check names and statements, then exit");
  app.add_option("--only", only, "Run only these checks (names from --list)");
  app.add_option("--instances", instances, "Random instances per check, in [1, 100000]")
      ->capture_default_str();
  app.add_option("--seed", seed, "Base random seed, in [0, 2^64 - 1]")
      ->check(muft::app::seed_check())
      ->capture_default_str();
  app.add_option("--json", json_path, "Write the results as JSON to FILE");
  app.add_option("--h5", h5_path, "Write results with full instances and trajectories to FILE");

  auto* coef = app.add_subcommand("coefficients", "Print the Polar Express coefficient table");
  double lower = 1e-3, safety = 1e-2, cushion = 0.02;
  int iterations = 10;
  std::string coef_json;
  coef->add_option("--lower", lower, "Lower end l of the singular-value interval, in (0, 1)")
      ->capture_default_str();
  coef->add_option("--iterations", iterations, "Number of quintic steps K, in [1, 1000]")
      ->capture_default_str();
  coef->add_option("--safety", safety, "Safety factor: divide by (s, s^3, s^5), s = 1 + E")
      ->capture_default_str();
  coef->add_option("--cushion", cushion, "Fit on [max(l, C u), u]")->capture_default_str();
  coef->add_option("--json", coef_json, "Also write the table as JSON: a list of [a, b, c]");

  return muft::app::run_app("muft-verify", app, argc, argv, [&]() -> int {
    if (*coef) return run_coefficients(lower, iterations, safety, cushion, coef_json);
    if (list) {
      for (const auto& c : muft::theory::all_checks())
        fmt::print("{:<22} {}\n", c.name, c.statement);
      return muft::app::kSuccess;
    }
    muft::app::check_outputs({{"--json", json_path}, {"--h5", h5_path}});
    return run_checks(only, instances, seed, json_path, h5_path);
  });
}

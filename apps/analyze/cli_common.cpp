/// \file cli_common.cpp
/// Shared flags, output and summary of muft-analyze.

#include "cli_common.h"

#include <unistd.h>

#include <cstdio>
#include <map>
#include <set>

#include <fmt/format.h>

#include "commands.h"
#include "muft/app/cli.h"
#include "muft/app/flags.h"

namespace muft::apps::analyze {

namespace an = muft::analysis;

int& exit_status() {
  static int status = 0;
  return status;
}

void add_common_flags(CLI::App* sub, CommonFlags& f) {
  sub->add_option("--out,-o", f.out,
                  "Write all rows to FILE: .csv, .jsonl (.json, .ndjson) or .h5 (.hdf5), flushed "
                  "row by row. Without it, one line per row goes to stdout.");
  sub->add_option("--jobs,-j", f.jobs, "Parallel jobs (0 = all cores)")
      ->check(app::count_check(0, app::kMaxThreads))
      ->capture_default_str();
  sub->add_option("--include", f.include, "Only tensors whose name matches REGEX (repeatable)");
  sub->add_option("--exclude", f.exclude, "Skip tensors whose name matches REGEX (repeatable)");
  sub->add_option("--svd", f.svd,
                  "Singular values: gram (eigenvalues of the smaller Gram matrix; fast, accurate "
                  "for sigma^2 above ~1e-8 sigma_1^2) or exact (bidiagonal SVD)")
      ->check(CLI::IsMember({"gram", "exact"}))
      ->capture_default_str();
  sub->add_flag("--fast", f.fast,
                "Only norms and stable rank: sigma_1 by Lanczos (Spectra), no full spectrum");
  sub->add_option("--rank-tol", f.rank_tol,
                  "Numerical rank counts sigma_i > TOL*sigma_1 (default: max(m,n)*eps for exact, "
                  "10*sqrt(max(m,n)*eps) for gram)");
  sub->add_flag("--spectrum", f.spectrum, "Add the full list of singular values to every row");
  sub->add_flag("--no-lora", f.no_lora, "Do not pair lora_A/lora_B factors into merged updates");
  sub->add_option("--lora-alpha", f.lora_alpha,
                  "LoRA alpha (default: adapter_config.json beside the file, else scale 1)");
  sub->add_option("--lora-rank", f.lora_rank,
                  "LoRA rank r in the scale alpha/r (default: adapter_config.json, else the "
                  "factors' inner dimension)");
  sub->add_option("--group", f.groups,
                  "Layer group rule NAME=REGEX (repeatable, first match wins; replaces the "
                  "defaults Q,K,V,O,MLP-up,MLP-down,embedding,head)");
  sub->add_flag("--no-progress", f.no_progress, "No progress bar even on a terminal");
  sub->add_flag("--esd", f.esd,
                "Heavy-tailed ESD metrics of the eigenvalues of W^T W, as WeightWatcher reports "
                "them: power-law alpha (Clauset-Shalizi-Newman fit, KS-minimizing xmin), "
                "alpha_weighted, KS distance, Marchenko-Pastur bulk edge, spikes, MP soft rank");
  sub->add_flag("--randomize", f.randomize,
                "With --esd: also the spectrum of an entry-shuffled copy of each matrix "
                "(rand_distance, rand_lambda_max, rand_num_spikes); doubles the work");
  sub->add_option("--randomize-seed", f.randomize_seed,
                  "Seed of the --randomize shuffle (same seed and shape: same permutation)")
      ->capture_default_str();
}

an::RecordColumns CommonFlags::columns() const {
  an::RecordColumns c;
  c.spectrum = spectrum;
  c.esd = esd;
  c.randomize = randomize;
  return c;
}

an::BatchOptions make_options(const CommonFlags& f) {
  an::BatchOptions o;
  o.metrics.method = f.fast ? an::SvdMethod::Fast : an::parse_svd_method(f.svd);
  o.metrics.rank_tol = f.rank_tol;
  o.metrics.keep_spectrum = f.spectrum;
  o.metrics.esd.enabled = f.esd;
  o.metrics.esd.randomize = f.randomize;
  o.metrics.esd.seed = f.randomize_seed;
  o.include = f.include;
  o.exclude = f.exclude;
  o.jobs = f.jobs;
  o.lora = !f.no_lora;
  o.lora_alpha = f.lora_alpha;
  o.lora_rank = f.lora_rank;
  if (!f.groups.empty()) {
    o.groups = an::LayerGroups();
    for (const auto& g : f.groups) o.groups.add_rule(g);
  }
  std::string why;
  if (!o.IsValid(&why)) throw std::invalid_argument(why);
  if (f.fast && f.spectrum)
    throw std::invalid_argument("--spectrum needs a full spectrum: drop --fast");
  return o;
}

void check_output_paths(const CommonFlags& f, const std::vector<std::string>& inputs,
                        const std::vector<app::NamedPath>& more_outputs) {
  std::vector<app::NamedPath> outs = {{"--out", f.out}};
  outs.insert(outs.end(), more_outputs.begin(), more_outputs.end());
  std::vector<app::NamedPath> ins;
  for (const auto& p : inputs) ins.push_back({"input", p});
  app::check_outputs(outs, ins);
}

Output::Output(const CommonFlags& f, an::TableKind kind, const std::string& command)
    : flags_(f), kind_(kind), layout_(an::make_record_table(kind, f.columns())) {
  tty_ = !f.no_progress && ::isatty(STDERR_FILENO);
  if (!f.out.empty()) {
    table_ = an::open_table_writer(
        f.out, an::columns_of(layout_),
        {{"command", "muft-analyze " + command}, {"svd", f.fast ? "fast" : f.svd}});
  }
}

void Output::write(const an::Record& r) {
  if (r.file != last_file_) {
    last_file_ = r.file;
    ++files_;
  }
  if (r.kind == an::RecordKind::Total) totals_.push_back(r);
  if (table_) {
    if (!write_error_.empty()) return;
    try {
      table_->write_row(an::cells_of(layout_, r));
    } catch (const std::exception& e) {
      write_error_ = e.what();  // reported by finish(); later rows are not written
    }
    return;
  }
  if (tty_) std::fprintf(stderr, "\r\033[K");
  const auto& m = r.metrics;
  std::string line;
  if (r.failed()) {
    line = fmt::format("ERROR {} {}: {}", r.file, r.tensor.empty() ? r.base_tensor : r.tensor,
                       m.reason);
  } else if (r.is_diff) {
    line = fmt::format(
        "{} {} [{}] l2={:.6g} rel={:.6g} cos={:.6g} dW: sigma1={:.6g} srank={:.6g} "
        "H={:.6g}",
        r.file, r.tensor, kind_name(r.kind), r.diff.l2_distance, r.diff.relative_distance,
        r.diff.cosine_distance, m.spectral_norm, m.stable_rank, m.svd_entropy);
    if (!std::isnan(r.l2_ratio)) line += fmt::format(" l2_ratio={:.6g}", r.l2_ratio);
    if (!std::isnan(r.intruders)) line += fmt::format(" intruders={:g}", r.intruders);
  } else {
    line = fmt::format(
        "{}{} {} {}x{} [{}] sigma1={:.6g} fro={:.6g} srank={:.6g} H={:.6g} "
        "erank={:.6g} {}",
        r.run.empty() ? "" : fmt::format("{}@{} ", r.run, r.step), r.file, r.tensor, m.rows, m.cols,
        r.group, m.spectral_norm, m.frobenius_norm, m.stable_rank, m.svd_entropy, m.effective_rank,
        an::status_name(m.status));
  }
  if (flags_.esd && !r.failed()) {
    const auto& e = m.esd;
    line += fmt::format(" alpha={:.4g} alpha_w={:.4g} D={:.3g} spikes={:.0f} mp_softrank={:.3g}",
                        e.power_law.alpha, e.alpha_weighted, e.power_law.ks_distance,
                        std::isnan(e.mp.lambda_plus) ? NAN : static_cast<double>(e.mp.num_spikes),
                        e.mp.softrank);
    if (flags_.randomize) line += fmt::format(" rand_distance={:.3g}", e.rand_distance);
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void Output::progress(std::size_t done, std::size_t total) {
  if (!tty_ || total == 0) return;
  const int width = 30;
  const int fill = static_cast<int>(width * done / total);
  std::fprintf(stderr, "\r[%s%s] %zu/%zu matrices", std::string(fill, '#').c_str(),
               std::string(width - fill, '.').c_str(), done, total);
  if (done == total) std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

namespace {

// "  skipped in FILE (REASON): a, b, c" per (file, reason), in the order first seen; at most
// `limit` names per line.
void print_skipped(const std::vector<an::SkippedTensor>& skipped, std::size_t limit = 12) {
  std::vector<std::pair<std::string, std::string>> keys;
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> names;
  for (const auto& t : skipped) {
    const auto key = std::make_pair(t.file, t.reason);
    if (names.find(key) == names.end()) keys.push_back(key);
    names[key].push_back(t.tensor);
  }
  for (const auto& key : keys) {
    const auto& list = names[key];
    std::string joined;
    for (std::size_t i = 0; i < list.size() && i < limit; ++i) joined += (i ? ", " : "") + list[i];
    if (list.size() > limit) joined += fmt::format(" and {} more", list.size() - limit);
    std::printf("  skipped in %s (%s): %s\n", key.first.c_str(), key.second.c_str(),
                joined.c_str());
  }
}

}  // namespace

int Output::finish(const an::BatchSummary& s) {
  if (table_) {
    try {
      table_->close();
    } catch (const std::exception& e) {
      const std::string what = e.what();
      if (write_error_.empty()) {
        write_error_ = what;
      } else if (what.find("(incomplete file removed)") != std::string::npos) {
        write_error_ += " (incomplete file removed)";
      }
    }
  }
  if (tty_) std::fprintf(stderr, "\r\033[K");
  std::string statuses;
  for (const auto& [k, v] : s.by_status)
    statuses += fmt::format("{}{} {}", statuses.empty() ? "" : ", ", v, k);
  std::printf("muft-analyze: %zu rows in %.2f s (%s); %zu tensors skipped\n", s.rows, s.seconds,
              statuses.empty() ? "none" : statuses.c_str(), s.skipped);
  print_skipped(s.skipped_tensors);
  for (const auto& n : s.notes) std::printf("  note: %s\n", n.c_str());
  for (const auto& t : totals_) {
    std::printf("  total %s: l2=%.6g relative=%.6g cosine=%.6g over %s\n", t.file.c_str(),
                t.diff.l2_distance, t.diff.relative_distance, t.diff.cosine_distance,
                t.metrics.reason.c_str());
  }
  if (!flags_.out.empty() && write_error_.empty()) std::printf("  wrote %s\n", flags_.out.c_str());
  std::fflush(stdout);
  for (const auto& e : s.errors) std::fprintf(stderr, "  error: %s\n", e.c_str());
  if (s.failed > s.errors.size()) {
    std::fprintf(stderr, "  ... and %zu more errors\n", s.failed - s.errors.size());
  }
  if (!write_error_.empty()) {
    std::fprintf(stderr, "muft-analyze: error: writing %s failed: %s\n", flags_.out.c_str(),
                 write_error_.c_str());
    return app::kError;
  }
  return s.failed > 0 ? app::kSomeFailed : app::kSuccess;
}

}  // namespace muft::apps::analyze

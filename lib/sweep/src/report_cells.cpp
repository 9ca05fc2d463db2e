#include "report_cells.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include <fmt/core.h>

namespace muft::sweep::report {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Contrast finish(const std::vector<double>& d, const std::vector<long>& seeds, std::size_t dropped) {
  Contrast c;
  c.seeds = seeds;
  c.dropped = dropped;
  if (!d.empty()) c.s = stats::summarize(d, 0.95);
  if (d.empty()) c.s.mean = c.s.ci_low = c.s.ci_high = kNaN;
  return c;
}

/// Seeds present in every cell, and how many seeds of the union are not.
std::vector<long> common_seeds(const std::vector<const Cell*>& cells, std::size_t* dropped) {
  std::set<long> all;
  for (const Cell* c : cells)
    for (const auto& kv : c->seeds) all.insert(kv.first);
  std::vector<long> out;
  for (long s : all) {
    bool everywhere = true;
    for (const Cell* c : cells) everywhere = everywhere && c->seeds.count(s);
    if (everywhere) out.push_back(s);
  }
  *dropped = all.size() - out.size();
  return out;
}
}  // namespace

std::string num(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  return fmt::format("{}", x);
}

std::string pm(const stats::Summary& s) {
  if (s.n == 0 || !std::isfinite(s.mean)) return "—";
  return fmt::format("{:.4f} ± {:.4f}", s.mean, s.std);
}

stats::Summary Cell::summary(double Values::*field) const {
  std::vector<double> v;
  for (const auto& [seed, vals] : seeds) {
    (void)seed;
    if (std::isfinite(vals.*field)) v.push_back(vals.*field);
  }
  if (v.empty()) {
    stats::Summary s;
    s.mean = s.std = s.ci_low = s.ci_high = kNaN;
    return s;
  }
  return stats::summarize(v, 0.95);
}

std::string Cell::excluded_text() const {
  std::vector<std::string> parts;
  if (diverged) parts.push_back(std::to_string(diverged) + " diverged");
  if (collapsed) parts.push_back(std::to_string(collapsed) + " collapsed");
  if (unfinished) parts.push_back(std::to_string(unfinished) + " unfinished");
  if (parts.empty()) return "—";
  std::string s;
  for (const auto& p : parts) s += (s.empty() ? "" : ", ") + p;
  return s;
}

std::string Contrast::seeds_text() const {
  return dropped ? fmt::format("{} ({} dropped)", seeds.size(), dropped)
                 : std::to_string(seeds.size());
}

Contrast contrast(const Cell& a, const Cell& b, double Cell::Values::*field, double sign) {
  std::size_t dropped = 0;
  const auto seeds = common_seeds({&a, &b}, &dropped);
  std::vector<double> d;
  for (long s : seeds) d.push_back(sign * (a.seeds.at(s).*field - b.seeds.at(s).*field));
  return finish(d, seeds, dropped);
}

Contrast reduction(const Cell& fx, const Cell& fp, const Cell& lx, const Cell& lp,
                   double Cell::Values::*field, double sign) {
  std::size_t dropped = 0;
  const auto seeds = common_seeds({&fx, &fp, &lx, &lp}, &dropped);
  std::vector<double> d;
  for (long s : seeds) {
    const double full = fx.seeds.at(s).*field - fp.seeds.at(s).*field;
    const double lora = lx.seeds.at(s).*field - lp.seeds.at(s).*field;
    d.push_back(sign * (full - lora));
  }
  return finish(d, seeds, dropped);
}

Contrast log_ratio(const Cell& a, const Cell& b, double Cell::Values::*field) {
  std::size_t dropped = 0;
  const auto seeds = common_seeds({&a, &b}, &dropped);
  std::vector<double> d;
  std::vector<long> used;
  for (long s : seeds) {
    const double x = a.seeds.at(s).*field, y = b.seeds.at(s).*field;
    if (std::isfinite(x) && std::isfinite(y) && x > 0 && y > 0) {
      d.push_back(std::log(x / y));
      used.push_back(s);
    }
  }
  return finish(d, used, dropped + (seeds.size() - used.size()));
}

Contrast rank_slope(const std::vector<const Cell*>& cells, const std::vector<long>& ranks,
                    double Cell::Values::*field) {
  if (cells.size() != ranks.size() || cells.size() < 2) return finish({}, {}, 0);
  std::size_t dropped = 0;
  const auto seeds = common_seeds(cells, &dropped);
  std::vector<double> x;
  for (long r : ranks) x.push_back(std::log2(static_cast<double>(r)));
  double mx = 0;
  for (double v : x) mx += v / static_cast<double>(x.size());
  double sxx = 0;
  for (double v : x) sxx += (v - mx) * (v - mx);
  std::vector<double> slopes;
  for (long s : seeds) {
    double my = 0;
    for (const Cell* c : cells) my += c->seeds.at(s).*field / static_cast<double>(cells.size());
    double sxy = 0;
    for (std::size_t i = 0; i < cells.size(); ++i)
      sxy += (x[i] - mx) * (cells[i]->seeds.at(s).*field - my);
    slopes.push_back(sxy / sxx);
  }
  return finish(slopes, seeds, dropped);
}

Cells::Cells(const std::vector<CollectedRun>& runs) : runs_(runs) {
  for (const auto& r : runs) {
    if (r.spec.kind != RunKind::kFinetune || r.spec.role != RunRole::kReport) continue;
    Cell& c = cells_[{r.spec.study, r.spec.pretrain_optimizer, r.spec.method_name, r.spec.rank}];
    c.lr = r.spec.lr;
    ++c.runs;
    switch (r.status.state) {
      case rundir::RunState::kCompleted:
        break;
      case rundir::RunState::kDiverged:
        ++c.diverged;
        continue;
      case rundir::RunState::kCollapsed:
        ++c.collapsed;
        continue;
      default:
        ++c.unfinished;
        continue;
    }
    const RunSummaryRow d = summarize_run(r);
    const bool acc = r.column("val_acc") != nullptr;
    Cell::Values v;
    v.new_metric = acc ? d.final_val_acc : d.norm_val_ppl;
    v.old_metric = acc ? d.final_old_val_acc : d.norm_old_val_ppl;
    v.new_loss = d.final_val_loss;
    v.start_loss = r.initial_value("val_loss");
    v.l2 = r.l2_distance;
    c.seeds[r.spec.seed] = v;
  }
}

const Cell* Cells::find(const std::string& study, const std::string& pretrain,
                        const std::string& method, long rank) const {
  const auto it = cells_.find({study, pretrain, method, rank});
  return it == cells_.end() ? nullptr : &it->second;
}

double Cells::starting_loss(const std::string& study, const std::string& pretrain) const {
  double sum = 0;
  int n = 0;
  for (const auto& [key, c] : cells_) {
    if (std::get<0>(key) != study || std::get<1>(key) != pretrain) continue;
    for (const auto& [seed, v] : c.seeds) {
      (void)seed;
      if (std::isfinite(v.start_loss)) {
        sum += v.start_loss;
        ++n;
      }
    }
  }
  return n ? sum / n : kNaN;
}

std::vector<std::string> Cells::length_control(const std::string& long_study,
                                               const std::string& short_study) const {
  std::vector<std::string> rows;
  for (const auto& [key, lc] : cells_) {
    if (std::get<0>(key) != long_study) continue;
    const Cell* sc = find(short_study, std::get<1>(key), std::get<2>(key), std::get<3>(key));
    if (!sc) continue;
    for (const auto& [seed, lv] : lc.seeds) {
      const auto it = sc->seeds.find(seed);
      if (it == sc->seeds.end()) continue;
      const auto& sv = it->second;
      const double gain = sv.start_loss - sv.new_loss;
      rows.push_back(fmt::format(
          "| {} | {} | {} | {:.4f} | {:.4f} | {:+.4f} | {} |\n", std::get<1>(key), std::get<2>(key),
          seed, sv.new_loss, lv.new_loss, lv.new_loss - sv.new_loss,
          gain > 0 ? fmt::format("{:.1f} %", 100.0 * (sv.new_loss - lv.new_loss) / gain) : "—"));
    }
  }
  return rows;
}

std::string Cells::spectra_table(const ExperimentSpec& spec, int* higher_out,
                                 int* total_out) const {
  *higher_out = *total_out = 0;
  std::set<std::string> parents;
  for (const auto& r : runs_)
    if (r.spec.kind == RunKind::kFinetune) parents.insert(r.spec.depends_on);
  std::string out;
  for (const auto& g : spec.pretrain) {
    std::map<std::string, std::map<std::string, std::pair<double, double>>> by_group;  // grp→opt
    for (const auto& r : runs_) {
      if (r.spec.kind != RunKind::kPretrain || r.spec.group != g.name || !parents.count(r.spec.id))
        continue;
      for (const auto& [grp, pts] : r.series) {
        if (pts.empty() || grp.find("lora") != std::string::npos) continue;
        const auto& last = pts.back();
        const auto sr = last.mean.find("stable_rank"), se = last.mean.find("svd_entropy");
        by_group[grp][r.spec.optimizer] = {sr == last.mean.end() ? kNaN : sr->second,
                                           se == last.mean.end() ? kNaN : se->second};
      }
    }
    if (by_group.empty()) continue;
    out += "## Pretrained weights: stable rank and SVD entropy (group `" + g.name +
           "`)\n\nMean over the matrices of each layer group at the last checkpoint of the "
           "pretrained models that were fine-tuned (one run each: descriptive, no interval).\n\n"
           "| layer group | stable rank (adam) | stable rank (muon) | SVD entropy (adam) | SVD "
           "entropy (muon) |\n|---|---|---|---|---|\n";
    int higher = 0, total = 0;
    for (const auto& [grp, by_opt_binding] : by_group) {
      // A named reference: C++17 lambdas cannot capture a structured binding (clang refuses).
      const auto& by_opt = by_opt_binding;
      auto get = [&](const char* o, bool entropy) {
        const auto it = by_opt.find(o);
        if (it == by_opt.end()) return kNaN;
        return entropy ? it->second.second : it->second.first;
      };
      const double ra = get("adam", false), rm = get("muon", false);
      if (std::isfinite(ra) && std::isfinite(rm)) {
        ++total;
        higher += rm > ra;
      }
      out += fmt::format("| {} | {:.3f} | {:.3f} | {:.4f} | {:.4f} |\n", grp, ra, rm,
                         get("adam", true), get("muon", true));
    }
    out +=
        fmt::format("\nMuon's stable rank is higher in {} of {} layer groups.\n\n", higher, total);
    *higher_out += higher;
    *total_out += total;
  }
  return out;
}

}  // namespace muft::sweep::report

#include "muft/sweep/report.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include <fmt/core.h>

namespace muft::sweep {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// "+0.1234", or "—" for a value that could not be computed.
std::string signed4(double x) {
  return std::isfinite(x) ? fmt::format("{:+.4f}", x) : "—";
}

std::string pm(const stats::Summary& s) {
  if (s.n == 0 || !std::isfinite(s.mean)) return "—";
  return fmt::format("{:.4f} ± {:.4f} (n={})", s.mean, s.std, s.n);
}

const FinetuneStudy* find_study(const ExperimentSpec& spec, const std::string& name) {
  for (const auto& s : spec.finetune)
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace

std::vector<MethodResult> study_results(const ExperimentSpec& spec,
                                        const std::vector<CollectedRun>& runs,
                                        const std::string& study, long only_rank) {
  const FinetuneStudy* st = find_study(spec, study);
  if (!st) throw std::invalid_argument("report: no fine-tuning study named '" + study + "'");
  std::vector<std::string> popts;
  for (const auto& r : runs)
    if (r.spec.study == study &&
        std::find(popts.begin(), popts.end(), r.spec.pretrain_optimizer) == popts.end())
      popts.push_back(r.spec.pretrain_optimizer);
  std::vector<MethodResult> out;
  for (const auto& p : popts) {
    for (const auto& m : st->methods) {
      std::vector<long> ranks = m.ranks;
      if (ranks.empty()) ranks = {0};
      // A study without the requested rank (the digits study, say) reports its first rank.
      const long want =
          only_rank > 0 && std::find(ranks.begin(), ranks.end(), only_rank) == ranks.end()
              ? 0
              : only_rank;
      for (long rank : ranks) {
        if (want > 0 && m.method == "lora" && rank != want) continue;
        if (want == 0 && m.method == "lora" && rank != ranks.front()) continue;
        MethodResult res;
        res.pretrain_optimizer = p;
        res.method_name = m.name;
        res.method = m.method;
        res.optimizer = m.optimizer;
        res.rank = rank;
        std::vector<const CollectedRun*> sel;
        // Selection-seed runs chose the rate; they never enter a table (study_report.h).
        for (const auto& r : runs)
          if (r.spec.study == study && r.spec.pretrain_optimizer == p &&
              r.spec.method_name == m.name && r.spec.rank == rank &&
              r.spec.role != RunRole::kSelect)
            sel.push_back(&r);
        if (sel.empty()) continue;
        std::vector<RunSummaryRow> sums;
        for (const auto* r : sel) {
          sums.push_back(summarize_run(*r));
          if (r->status.state == rundir::RunState::kCompleted &&
              !std::isfinite(sums.back().norm_val_ppl))
            res.normalized = false;
          if (r->column("val_acc")) res.accuracy = true;
        }
        if (res.accuracy) res.normalized = false;
        const double worst = res.accuracy ? -std::numeric_limits<double>::infinity()
                                          : std::numeric_limits<double>::infinity();
        std::vector<stats::LrObservation> obs_new;
        std::map<double, std::vector<double>> old_by_lr;
        for (std::size_t i = 0; i < sel.size(); ++i) {
          const CollectedRun* r = sel[i];
          const RunSummaryRow& d = sums[i];
          ++res.runs;
          double v = res.accuracy     ? d.final_val_acc
                     : res.normalized ? d.norm_val_ppl
                                      : d.final_val_ppl;
          double o = res.accuracy     ? d.final_old_val_acc
                     : res.normalized ? d.norm_old_val_ppl
                                      : d.final_old_val_ppl;
          if (r->status.state == rundir::RunState::kDiverged) ++res.diverged;
          if (r->status.state == rundir::RunState::kCollapsed) ++res.collapsed;
          if (r->status.state != rundir::RunState::kCompleted) {
            if (!rundir::is_unhealthy(r->status.state)) ++res.unfinished;
            v = o = worst;
          }
          obs_new.push_back({r->spec.lr, r->spec.seed, v});
          old_by_lr[r->spec.lr].push_back(o);
        }
        res.new_task = stats::select_best_lr(
            obs_new, res.accuracy ? stats::Goal::kMaximize : stats::Goal::kMinimize);
        if (res.new_task.status == stats::SelectionStatus::kSuccessful)
          res.old_task = stats::summarize(old_by_lr[res.new_task.lr]);
        out.push_back(std::move(res));
      }
    }
  }
  return out;
}

std::vector<GapRow> mismatch_gaps(const std::vector<MethodResult>& results) {
  auto mean_of = [&](const std::string& p, const std::string& method, const std::string& opt) {
    for (const auto& r : results)
      if (r.pretrain_optimizer == p && r.method == method && r.optimizer == opt &&
          r.new_task.status == stats::SelectionStatus::kSuccessful)
        return r.new_task.summary.mean;
    return kNaN;
  };
  std::vector<GapRow> out;
  std::vector<std::pair<std::string, std::string>> seen;
  for (const auto& r : results) {
    if (r.optimizer == r.pretrain_optimizer || r.method != "full") continue;
    const std::pair<std::string, std::string> key{r.pretrain_optimizer, r.optimizer};
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    seen.push_back(key);
    GapRow g;
    g.pretrain_optimizer = r.pretrain_optimizer;
    g.mismatched_optimizer = r.optimizer;
    g.full_gap = mean_of(key.first, "full", key.second) - mean_of(key.first, "full", key.first);
    g.lora_gap = mean_of(key.first, "lora", key.second) - mean_of(key.first, "lora", key.first);
    const bool penalty = r.accuracy ? g.full_gap < 0 : g.full_gap > 0;
    g.shrink_percent = penalty ? 100.0 * (1.0 - g.lora_gap / g.full_gap) : kNaN;
    out.push_back(g);
  }
  return out;
}

std::string methods_csv(const ExperimentSpec& spec, const std::vector<CollectedRun>& runs) {
  std::ostringstream csv;
  csv << "task,method,mean,std,n,lr\n";
  for (const auto& st : spec.finetune) {
    for (const auto& r : study_results(spec, runs, st.name, -1)) {
      if (r.new_task.status != stats::SelectionStatus::kSuccessful) continue;
      std::size_t nranks = 1;
      for (const auto& m : st.methods)
        if (m.name == r.method_name) nranks = m.ranks.size();
      const std::string method =
          nranks > 1 ? fmt::format("{}-r{}", r.method_name, r.rank) : r.method_name;
      csv << fmt::format("{}/{},{},{},{},{},{}\n", st.name, r.pretrain_optimizer, method,
                         r.new_task.summary.mean, r.new_task.summary.std, r.new_task.summary.n,
                         r.new_task.lr);
    }
  }
  return csv.str();
}

namespace {

/// Table 1 analogue, mismatch gaps and Table 5 analogue of one study.
void study_tables(std::ostringstream& md, const std::vector<MethodResult>& results,
                  const std::string& study) {
  const bool accuracy =
      std::any_of(results.begin(), results.end(), [](const MethodResult& r) { return r.accuracy; });
  const bool normalized =
      !accuracy && std::all_of(results.begin(), results.end(),
                               [](const MethodResult& r) { return r.normalized; });
  const std::string unit = accuracy     ? "accuracy"
                           : normalized ? "val ppl / pretrained val ppl"
                                        : "val ppl (not normalized: "
                                          "no step-0 evaluation)";
  const std::string better = accuracy ? "higher is better" : "lower is better";

  md << "## Table 1 analogue: fine-tuning (study `" << study << "`)\n\n"
     << "New-task " << unit << " at the best learning rate (selected on the mean over seeds; "
     << better
     << "), mean ± sample std over seeds. Gap = this method − the same kind of "
        "fine-tuning with the pretraining optimizer.\n\n";
  md << "| pretrain | method | rank | best lr | "
     << (accuracy     ? "val accuracy"
         : normalized ? "norm. val ppl"
                      : "val ppl")
     << " | gap to matched | runs (diverged, collapsed) |\n|---|---|---|---|---|---|---|\n";
  auto matched_mean = [&](const MethodResult& r) {
    for (const auto& q : results)
      if (q.pretrain_optimizer == r.pretrain_optimizer && q.method == r.method &&
          q.optimizer == r.pretrain_optimizer &&
          q.new_task.status == stats::SelectionStatus::kSuccessful)
        return q.new_task.summary.mean;
    return kNaN;
  };
  for (const auto& r : results) {
    const bool ok = r.new_task.status == stats::SelectionStatus::kSuccessful;
    const double gap = ok ? r.new_task.summary.mean - matched_mean(r) : kNaN;
    const std::string excluded =
        fmt::format("{}, {}{}", r.diverged, r.collapsed,
                    r.unfinished ? fmt::format(", {} unfinished", r.unfinished) : "");
    md << fmt::format("| {} | {} | {} | {} | {} | {} | {} ({}) |\n", r.pretrain_optimizer,
                      r.method_name, r.rank > 0 ? std::to_string(r.rank) : "—",
                      ok                                   ? fmt::format("{}", r.new_task.lr)
                      : r.diverged + r.collapsed == r.runs ? "all diverged or collapsed"
                      : r.unfinished > 0                   ? "incomplete"
                                                           : "none selectable",
                      ok ? pm(r.new_task.summary) : "—", signed4(gap), r.runs, excluded);
  }
  const auto gaps = mismatch_gaps(results);
  if (!gaps.empty()) {
    md << "\nMismatch gap and LoRA's mitigation (gap = mismatched − matched; shrink = 1 − "
          "LoRA gap / Full gap):\n\n| pretrain | mismatched optimizer | Full gap | LoRA gap | "
          "LoRA shrinks the gap by |\n|---|---|---|---|---|\n";
    for (const auto& g : gaps)
      md << fmt::format("| {} | {} | {} | {} | {} |\n", g.pretrain_optimizer,
                        g.mismatched_optimizer, signed4(g.full_gap), signed4(g.lora_gap),
                        std::isfinite(g.shrink_percent) ? fmt::format("{:.1f}%", g.shrink_percent)
                        : std::isfinite(g.full_gap)     ? "— (no Full-FT penalty)"
                                                        : "—");
  }

  md << "\n## Table 5 analogue: old task after fine-tuning (study `" << study << "`)\n\n"
     << "Old-task (pretraining task) "
     << (accuracy     ? "accuracy"
         : normalized ? "val ppl / pretrained old val ppl"
                      : "val ppl")
     << " at the learning rate selected on the new task; " << (accuracy ? "lower" : "higher")
     << " means more forgetting.\n\n"
     << "| pretrain | method | rank | lr | old-task " << (accuracy ? "accuracy" : "ppl")
     << " |\n|---|---|---|---|---|\n";
  for (const auto& r : results) {
    const bool ok = r.new_task.status == stats::SelectionStatus::kSuccessful;
    md << fmt::format("| {} | {} | {} | {} | {} |\n", r.pretrain_optimizer, r.method_name,
                      r.rank > 0 ? std::to_string(r.rank) : "—",
                      ok ? fmt::format("{}", r.new_task.lr) : "—", ok ? pm(r.old_task) : "—");
  }
}
}  // namespace

std::string markdown_report(const ExperimentSpec& spec, const std::vector<CollectedRun>& runs) {
  std::ostringstream md;
  md << "# Results of experiment `" << spec.name << "`\n\n";
  std::map<std::string, std::size_t> states;
  for (const auto& r : runs) ++states[rundir::to_string(r.status.state)];
  md << "Runs: " << runs.size();
  for (const auto& [k, v] : states) md << ", " << v << " " << k;
  md << ".\n\n";

  // Pretraining.
  md << "## Pretraining\n\nFinal validation loss and perplexity on the pretraining corpus "
        "(mean ± sample std over seeds).\n\n";
  md << "| group | optimizer | val loss | val ppl | completed |\n|---|---|---|---|---|\n";
  for (const auto& g : spec.pretrain) {
    for (const auto& o : g.optimizers) {
      std::vector<double> loss, ppl;
      std::size_t n = 0, done = 0;
      for (const auto& r : runs) {
        if (r.spec.kind != RunKind::kPretrain || r.spec.group != g.name || r.spec.optimizer != o)
          continue;
        ++n;
        if (r.status.state != rundir::RunState::kCompleted) continue;
        ++done;
        loss.push_back(r.final_value("val_loss"));
        ppl.push_back(r.final_value("val_ppl"));
      }
      md << fmt::format("| {} | {} | {} | {} | {}/{} |\n", g.name, o,
                        loss.empty() ? "—" : pm(stats::summarize(loss)),
                        ppl.empty() ? "—" : pm(stats::summarize(ppl)), done, n);
    }
  }
  md << "\n";
  if (spec.finetune.empty()) return md.str();

  const std::string study =
      spec.report.study.empty() ? spec.finetune.front().name : spec.report.study;
  const auto results = study_results(spec, runs, study, spec.report.lora_rank);
  study_tables(md, results, study);
  // Every other study that compares full fine-tuning methods (the digits analogue, say).
  for (const auto& st : spec.finetune) {
    if (st.name == study ||
        std::none_of(st.methods.begin(), st.methods.end(),
                     [](const FinetuneMethod& m) { return m.method == "full"; }))
      continue;
    md << "\n";
    study_tables(md, study_results(spec, runs, st.name, spec.report.lora_rank), st.name);
  }

  // LoRA rank study: every study whose LoRA methods have several ranks.
  for (const auto& st : spec.finetune) {
    bool multi = false;
    for (const auto& m : st.methods) multi = multi || (m.method == "lora" && m.ranks.size() > 1);
    if (!multi) continue;
    const auto rr = study_results(spec, runs, st.name, -1);
    md << "\n## LoRA rank (study `" << st.name << "`, α = as in the spec)\n\n"
       << "| pretrain | method | rank | best lr | new-task ppl | old-task ppl |\n"
          "|---|---|---|---|---|---|\n";
    for (const auto& r : rr) {
      if (r.method != "lora") continue;
      const bool ok = r.new_task.status == stats::SelectionStatus::kSuccessful;
      md << fmt::format("| {} | {} | {} | {} | {} | {} |\n", r.pretrain_optimizer, r.method_name,
                        r.rank, ok ? fmt::format("{}", r.new_task.lr) : "—",
                        ok ? pm(r.new_task.summary) : "—", ok ? pm(r.old_task) : "—");
    }
  }

  // Table 17 analogue: distances at the selected lr, normalized by the Adam method of the same
  // kind (Full-X / Full-Adam, LoRA-X / LoRA-Adam) from the same pretrained model.
  md << "\n## Table 17 analogue: distance to the pretrained weights (study `" << study << "`)\n\n";
  bool any = false;
  for (const auto& r : runs) any = any || std::isfinite(r.l2_distance);
  if (!any) {
    md << "No distances: run `muft-sweep report` from a build with muft::analysis, on runs "
          "with readable checkpoints.\n";
    return md.str();
  }
  md << "L2 and cosine distance of the fine-tuned weights from the pretrained ones at the "
        "learning rate selected on the new task, mean over seeds, relative to the Adam method "
        "of the same kind (= 1.0×); raw values in parentheses.\n\n"
        "| pretrain | method | lr | L2 distance | cosine distance |\n|---|---|---|---|---|\n";
  auto mean_distance = [&](const MethodResult& m, bool cosine) {
    std::vector<double> v;
    for (const auto& r : runs)
      if (r.spec.study == study && r.spec.pretrain_optimizer == m.pretrain_optimizer &&
          r.spec.method_name == m.method_name && r.spec.rank == m.rank &&
          r.spec.lr == m.new_task.lr && r.status.state == rundir::RunState::kCompleted &&
          r.spec.role != RunRole::kSelect)
        v.push_back(cosine ? r.cosine_distance : r.l2_distance);
    return v.empty() ? kNaN : stats::summarize(v).mean;
  };
  for (const auto& m : results) {
    if (m.new_task.status != stats::SelectionStatus::kSuccessful) continue;
    const MethodResult* ref = nullptr;
    for (const auto& q : results)
      if (q.pretrain_optimizer == m.pretrain_optimizer && q.method == m.method &&
          q.optimizer == "adam" && q.new_task.status == stats::SelectionStatus::kSuccessful)
        ref = &q;
    std::string cells[2];
    for (int c = 0; c < 2; ++c) {
      const double v = mean_distance(m, c == 1);
      const double base = ref ? mean_distance(*ref, c == 1) : kNaN;
      cells[c] = !std::isfinite(v)     ? "—"
                 : std::isfinite(base) ? fmt::format("{:.2f}× ({:.4g})", v / base, v)
                                       : fmt::format("({:.4g})", v);
    }
    md << fmt::format("| {} | {} | {} | {} | {} |\n", m.pretrain_optimizer, m.method_name,
                      m.new_task.lr, cells[0], cells[1]);
  }
  return md.str();
}

}  // namespace muft::sweep

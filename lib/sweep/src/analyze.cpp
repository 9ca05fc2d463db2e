#include "muft/sweep/analyze.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "muft/rundir/inspect.h"

#if MUFT_SWEEP_HAVE_ANALYSIS
#include "muft/analysis/batch.h"
#endif

namespace muft::sweep {

#if MUFT_SWEEP_HAVE_ANALYSIS

bool analysis_available() {
  return true;
}

void analyze_runs(std::vector<CollectedRun>* runs, const AnalyzeOptions& options) {
  std::map<std::string, const CollectedRun*> by_id;
  for (const auto& r : *runs) by_id[r.spec.id] = &r;
  analysis::BatchOptions bo;
  bo.jobs = options.jobs;
  std::size_t done = 0;
  for (auto& r : *runs) {
    if (options.progress) options.progress(done++, runs->size());
    if (r.status.state != rundir::RunState::kCompleted || r.status.last_checkpoint.empty())
      continue;
    try {
      if (options.distances && r.spec.kind == RunKind::kFinetune) {
        auto it = by_id.find(r.spec.depends_on);
        const std::string base = it == by_id.end() ? "" : it->second->status.last_checkpoint;
        if (base.empty()) throw std::runtime_error("pretraining run has no checkpoint");
        analysis::DiffOptions d;
        d.base = base;
        std::string total_problem;
        const auto sum =
            analysis::run_diff({r.status.last_checkpoint}, d, bo, [&](const analysis::Record& rec) {
              if (rec.kind != analysis::RecordKind::Total) return;
              r.l2_distance = rec.diff.l2_distance;
              r.cosine_distance = rec.diff.cosine_distance;
              r.relative_distance = rec.diff.relative_distance;
            });
        if (!sum.ok() && !sum.errors.empty()) r.analysis_problem = "diff: " + sum.errors.front();
      }
      if (options.series &&
          (!options.series_pretraining_only || r.spec.kind == RunKind::kPretrain)) {
        const auto sum =
            analysis::run_series({r.spec.dir}, analysis::SeriesOptions{}, bo,
                                 analysis::RecordSink{}, [&](const analysis::GroupRecord& g) {
                                   CollectedRun::SeriesPoint p;
                                   p.step = g.step;
                                   p.tensors = g.tensors;
                                   for (const auto& [name, ms] : g.stats) {
                                     p.mean[name] = ms.first;
                                     p.std[name] = ms.second;
                                   }
                                   r.series[g.group].push_back(std::move(p));
                                 });
        for (auto& [group, pts] : r.series)
          std::stable_sort(pts.begin(), pts.end(),
                           [](const auto& a, const auto& b) { return a.step < b.step; });
        if (!sum.ok() && !sum.errors.empty() && r.analysis_problem.empty())
          r.analysis_problem = "series: " + sum.errors.front();
      }
    } catch (const std::exception& e) {
      r.analysis_problem = e.what();
    }
  }
  if (options.progress) options.progress(done, runs->size());
}

#else

bool analysis_available() {
  return false;
}

void analyze_runs(std::vector<CollectedRun>*, const AnalyzeOptions&) {
  throw std::runtime_error("muft-sweep was built without muft::analysis: no checkpoint analysis");
}

#endif

}  // namespace muft::sweep

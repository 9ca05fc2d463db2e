/// \file batch.cpp
/// The entry points of the batch runner: option checks, then for each checkpoint open, plan
/// (plan.cpp) and run (runner.cpp).

#include "muft/analysis/batch.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "muft/analysis/inputs.h"
#include "muft/checkpoint/checkpoint.h"
#include "plan.h"
#include "runner.h"

namespace muft::analysis {

bool BatchOptions::IsValid(std::string* error) const {
  std::string why;
  if (!metrics.IsValid(&why)) {
    // why is set
  } else if (jobs < 0) {
    why = "--jobs must be >= 0 (0 = all cores), got " + std::to_string(jobs);
  } else if (!std::isnan(lora_alpha) && !std::isfinite(lora_alpha)) {
    why = "--lora-alpha must be finite";
  } else if (!std::isnan(lora_rank) && !(lora_rank > 0)) {
    why = "--lora-rank must be > 0";
  } else {
    try {
      TensorFilter f(include, exclude);
    } catch (const std::invalid_argument& e) {
      why = e.what();
    }
  }
  if (!why.empty() && error) *error = why;
  return why.empty();
}

int BatchOptions::resolved_jobs() const {
  if (jobs > 0) return jobs;
  return std::max(1u, std::thread::hardware_concurrency());
}

namespace {

using detail::FileContext;
using detail::Runner;
namespace ck = muft::checkpoint;

void check_options(const BatchOptions& opts) {
  std::string why;
  if (!opts.IsValid(&why)) throw std::invalid_argument(why);
}

/// A new unit for `path`, opened (an error row when it cannot be) with its adapter_config.json.
bool open_unit(Runner& runner, FileContext& fc, const std::string& path, const BatchOptions& opts) {
  fc.path = path;
  fc.unit = runner.add_unit();
  if (!detail::open_or_report(runner, fc, opts)) return false;
  if (opts.lora) detail::resolve_adapter_config(runner, fc);
  return true;
}

/// Base (and reference) opened once; diff of each path planned against it.
BatchSummary diff_pass(const std::vector<std::string>& paths, const DiffOptions& dopts,
                       const std::shared_ptr<const ck::TensorSource>& base,
                       const BatchOptions& opts, const RecordSink& sink) {
  const TensorFilter filter(opts.include, opts.exclude);
  const NameMap map(dopts.map_rules);
  Runner runner(opts, sink);
  for (const std::string& path : paths) {
    FileContext fc;
    if (!open_unit(runner, fc, path, opts)) continue;
    const std::string base_path = base->path();
    runner.set_on_done(fc.unit, [fc, base_path](const std::vector<Record>& recs) {
      return std::vector<Record>{detail::total_record(fc, recs, base_path)};
    });
    detail::plan_diff(runner, fc, base, map, dopts, opts, filter);
  }
  return runner.run();
}

std::shared_ptr<const ck::TensorSource> open_base(const std::string& path, const char* what) {
  try {
    return ck::open_source(path);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string(what) + ": " + e.what());
  }
}

double ratio(double x, double ref) {
  return ref != 0 ? x / ref : NAN;
}

}  // namespace

BatchSummary run_spectra(const std::vector<std::string>& paths, const BatchOptions& opts,
                         const RecordSink& sink, const std::vector<std::string>& input_errors) {
  check_options(opts);
  const TensorFilter filter(opts.include, opts.exclude);
  Runner runner(opts, sink);
  for (const std::string& path : paths) {
    FileContext fc;
    if (open_unit(runner, fc, path, opts)) detail::plan_spectra(runner, fc, opts, filter);
  }
  for (const std::string& e : input_errors) {
    FileContext fc;
    fc.path = e.substr(0, e.find(": "));
    fc.unit = runner.add_unit();
    Record r = detail::proto_record(fc, "", RecordKind::File, opts);
    r.group = "";
    runner.emit_last(fc.unit, detail::error_record(r, e));
  }
  return runner.run();
}

BatchSummary run_diff(const std::vector<std::string>& paths, const DiffOptions& dopts,
                      const BatchOptions& opts, const RecordSink& sink) {
  check_options(opts);
  NameMap check_map(dopts.map_rules);  // validate before any work
  if (dopts.base.empty()) throw std::invalid_argument("diff needs --base BASE");
  std::string why;
  if (dopts.intruders && !dopts.intruder.IsValid(&why)) throw std::invalid_argument(why);
  const auto base = open_base(dopts.base, "cannot open base");
  if (dopts.relative_to.empty()) return diff_pass(paths, dopts, base, opts, sink);

  // Reference pass: its distances are the denominators of the ratio columns (its intruder
  // counts would not be used).
  std::unordered_map<std::string, DiffMetrics> ref;
  BatchOptions quiet = opts;
  quiet.progress = nullptr;
  DiffOptions ref_opts = dopts;
  ref_opts.intruders = false;
  BatchSummary summary =
      diff_pass({dopts.relative_to}, ref_opts, base, quiet, [&](const Record& r) {
        if (!r.failed()) ref[r.tensor] = r.diff;
      });
  if (summary.failed > 0 || ref.find("__total__") == ref.end()) {
    throw std::runtime_error("--relative-to " + dopts.relative_to + ": reference diff failed (" +
                             (summary.errors.empty() ? "no tensors" : summary.errors.front()) +
                             ")");
  }
  BatchSummary main = diff_pass(paths, dopts, base, opts, [&](const Record& r) {
    Record out = r;
    const auto it = ref.find(r.tensor);
    if (it != ref.end() && !r.failed()) {
      out.l2_ratio = ratio(r.diff.l2_distance, it->second.l2_distance);
      out.relative_ratio = ratio(r.diff.relative_distance, it->second.relative_distance);
      out.cosine_ratio = ratio(r.diff.cosine_distance, it->second.cosine_distance);
    }
    sink(out);
  });
  main.seconds += summary.seconds;
  return main;
}

BatchSummary run_series(const std::vector<std::string>& run_dirs, const SeriesOptions& sopts,
                        const BatchOptions& opts, const RecordSink& tensor_sink,
                        const std::function<void(const GroupRecord&)>& group_sink) {
  check_options(opts);
  const TensorFilter filter(opts.include, opts.exclude);
  const NameMap map(sopts.map_rules);
  const bool is_diff = !sopts.base.empty();
  std::shared_ptr<const ck::TensorSource> base;
  if (is_diff) base = open_base(sopts.base, "cannot open base");
  DiffOptions dopts;
  dopts.base = sopts.base;
  dopts.map_rules = sopts.map_rules;
  Runner runner(opts, tensor_sink);
  for (const std::string& dir : run_dirs) {
    std::vector<std::string> errors;
    const std::vector<std::string> files = run_checkpoints(dir, &errors);
    const std::string run = std::filesystem::path(dir).lexically_normal().filename().string();
    for (const std::string& e : errors) {
      FileContext fc;
      fc.path = dir;
      fc.run = run;
      fc.unit = runner.add_unit();
      Record r = detail::proto_record(fc, "", RecordKind::File, opts);
      r.group = "";
      runner.emit_now(fc.unit, detail::error_record(r, e));
    }
    for (const std::string& path : files) {
      FileContext fc;
      fc.run = run.empty() ? dir : run;
      if (!open_unit(runner, fc, path, opts)) continue;
      // The step attribute of a muft checkpoint is authoritative; otherwise the file name.
      if (std::string(fc.src->format()) == "muft-hdf5") {
        try {
          fc.step = static_cast<double>(ck::read_checkpoint_metadata(path).step);
        } catch (const std::exception&) {
        }
      }
      if (std::isnan(fc.step)) {
        if (const auto step = step_from_name(path)) fc.step = static_cast<double>(*step);
      }
      runner.set_on_done(fc.unit, [fc, is_diff, &group_sink, base_path = sopts.base,
                                   esd = opts.metrics.esd](const std::vector<Record>& recs) {
        std::map<std::string, std::vector<const Record*>> groups;
        for (const Record& r : recs) {
          if (r.kind != RecordKind::Total && r.kind != RecordKind::File)
            groups[r.group].push_back(&r);
        }
        if (group_sink) {
          for (const auto& [name, members] : groups)
            group_sink(detail::aggregate(fc, name, members, is_diff, esd.enabled, esd.randomize));
        }
        return is_diff ? std::vector<Record>{detail::total_record(fc, recs, base_path)}
                       : std::vector<Record>{};
      });
      if (is_diff) {
        detail::plan_diff(runner, fc, base, map, dopts, opts, filter);
      } else {
        detail::plan_spectra(runner, fc, opts, filter);
      }
    }
  }
  return runner.run();
}

}  // namespace muft::analysis

/// \file runner.cpp
/// The batch runner's thread pool and bookkeeping (runner.h).

#include "runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "muft/analysis/spectrum.h"

namespace muft::analysis::detail {

Runner::Runner(const BatchOptions& opts, RecordSink sink) : opts_(opts), sink_(std::move(sink)) {}

std::size_t Runner::add_unit() {
  units_.emplace_back();
  return units_.size() - 1;
}

void Runner::set_on_done(std::size_t unit, OnDone on_done) {
  units_[unit].on_done = std::move(on_done);
}

void Runner::set_note(std::size_t unit, const std::string& file, const std::string& note) {
  if (note.empty()) return;
  std::string& n = units_[unit].note;
  n += (n.empty() ? "" : "; ") + note;
  summary_.notes.push_back(file + ": " + note);
}

void Runner::add_job(Job j) {
  ++units_[j.unit].pending;
  jobs_.push_back(std::move(j));
}

void Runner::emit_now(std::size_t unit, const Record& r) {
  std::lock_guard<std::mutex> lock(mu_);
  deliver(unit, r);  // planning runs on the caller's thread: exceptions reach the caller
}

void Runner::emit_last(std::size_t unit, const Record& r) {
  last_.emplace_back(unit, r);
}

void Runner::skip(const std::string& file, const std::string& tensor, const std::string& reason) {
  ++summary_.skipped;
  summary_.skipped_tensors.push_back({file, tensor, reason});
}

BatchSummary Runner::run() {
  const auto t0 = std::chrono::steady_clock::now();
  total_ = jobs_.size();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::size_t u = 0; u < units_.size(); ++u) maybe_finish(u);
  }
  const int jobs = opts_.resolved_jobs();
  double total_cost = 0;
  for (const Job& j : jobs_) total_cost += j.cost;
  std::vector<std::size_t> big, small;
  for (std::size_t i = 0; i < jobs_.size(); ++i) {
    (jobs > 1 && jobs_[i].cost * jobs >= total_cost ? big : small).push_back(i);
  }
  auto by_cost = [&](std::size_t a, std::size_t b) { return jobs_[a].cost > jobs_[b].cost; };
  std::sort(big.begin(), big.end(), by_cost);
  std::sort(small.begin(), small.end(), by_cost);
  // Dominant matrices: one at a time, all cores inside BLAS.
  set_blas_threads(jobs);
  for (std::size_t i : big) execute(i);
  // The rest: `jobs` at a time, one BLAS thread each.
  set_blas_threads(1);
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t k = next++; k < small.size(); k = next++) execute(small[k]);
  };
  const int nthreads = std::min<int>(jobs, static_cast<int>(small.size()));
  std::vector<std::thread> pool;
  for (int t = 1; t < nthreads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  set_blas_threads(jobs);
  if (sink_error_) std::rethrow_exception(sink_error_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [unit, r] : last_) deliver(unit, r);
  }
  summary_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary_;
}

void Runner::execute(std::size_t i) {
  Job& j = jobs_[i];
  std::vector<Record> out;
  try {
    out = j.fn();
  } catch (const std::exception& e) {
    Record r = j.proto;
    r.metrics.status = MetricStatus::Error;
    r.metrics.reason = e.what();
    out = {r};
  }
  j.fn = nullptr;  // release captured buffers early
  std::lock_guard<std::mutex> lock(mu_);
  try {
    for (const Record& r : out) deliver(j.unit, r);
    --units_[j.unit].pending;
    maybe_finish(j.unit);
    ++done_;
    if (opts_.progress) opts_.progress(done_, total_);
  } catch (...) {
    // A sink that throws (e.g. the disk is full) must not terminate a worker thread: keep the
    // first exception and rethrow it from run() once the pool has stopped.
    if (!sink_error_) sink_error_ = std::current_exception();
  }
}

void Runner::deliver(std::size_t unit, const Record& in) {
  const std::string& note = units_[unit].note;
  Record noted;
  if (!note.empty()) {
    noted = in;
    noted.metrics.reason += (noted.metrics.reason.empty() ? "" : "; ") + note;
  }
  const Record& r = note.empty() ? in : noted;
  ++summary_.rows;
  ++summary_.by_status[status_name(r.metrics.status)];
  if (r.failed()) {
    ++summary_.failed;
    if (summary_.errors.size() < 20) {
      const std::string where =
          r.file + (r.tensor.empty() ? (r.base_tensor.empty() ? "" : ": " + r.base_tensor)
                                     : ": " + r.tensor);
      const bool has_where = r.metrics.reason.compare(0, where.size(), where) == 0;
      summary_.errors.push_back(has_where ? r.metrics.reason : where + ": " + r.metrics.reason);
    }
  }
  if (sink_) sink_(r);
  if (units_[unit].on_done) {
    Record kept = in;  // without the note: on_done builds rows that get it on delivery
    kept.metrics.singular_values.clear();
    units_[unit].records.push_back(std::move(kept));
  }
}

void Runner::maybe_finish(std::size_t u) {
  Unit& unit = units_[u];
  if (unit.done || unit.pending > 0) return;
  unit.done = true;
  OnDone cb = std::move(unit.on_done);
  unit.on_done = nullptr;
  std::vector<Record> extra;
  if (cb) extra = cb(unit.records);
  unit.records.clear();
  for (const Record& r : extra) deliver(u, r);
}

}  // namespace muft::analysis::detail

#pragma once
/// \file runner.h
/// Private: the thread pool behind run_spectra / run_diff / run_series. It knows jobs (each
/// produces records for one matrix or LoRA pair), units (one checkpoint: its jobs, a note for
/// its rows, a callback once all of them are done) and the summary; it knows nothing about
/// files, metrics or tables.

#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "muft/analysis/batch.h"

namespace muft::analysis::detail {

/// One planned job: computes the records of one matrix or LoRA pair.
struct Job {
  double cost = 0;       ///< relative cost (m·n·min(m, n)), for scheduling
  std::size_t unit = 0;  ///< the checkpoint it belongs to
  Record proto;          ///< identifying fields, used for the error row if fn throws
  std::function<std::vector<Record>()> fn;
};

/// Runs jobs on a thread pool and serializes the sink, the counts and per-unit completion.
/// A job whose cost is at least 1/jobs of the whole batch runs alone with `jobs` BLAS threads;
/// the others run `jobs` at a time with one BLAS thread each.
class Runner {
 public:
  /// Gets a unit's records once all of its jobs are finished (serialized with the sink); the
  /// records it returns are delivered after them.
  using OnDone = std::function<std::vector<Record>(const std::vector<Record>&)>;

  Runner(const BatchOptions& opts, RecordSink sink);

  /// A new unit (one checkpoint).
  std::size_t add_unit();
  void set_on_done(std::size_t unit, OnDone on_done);
  /// A remark appended to the reason of every row of the unit and listed once in the summary
  /// (several remarks of one unit are joined with "; ").
  void set_note(std::size_t unit, const std::string& file, const std::string& note);
  void add_job(Job j);
  /// A record known at planning time (error rows), delivered at once on the caller's thread.
  void emit_now(std::size_t unit, const Record& r);
  /// A record delivered after every job has run (rows the caller knew of but that belong last).
  void emit_last(std::size_t unit, const Record& r);
  /// A tensor the plan leaves out, and why.
  void skip(const std::string& file, const std::string& tensor, const std::string& reason);

  /// Runs every job; rethrows the first exception of the sink once the pool has stopped.
  BatchSummary run();

 private:
  struct Unit {
    std::size_t pending = 0;
    std::vector<Record> records;
    OnDone on_done;
    std::string note;
    bool done = false;
  };

  void execute(std::size_t i);
  void deliver(std::size_t unit, const Record& r);
  void maybe_finish(std::size_t u);

  const BatchOptions& opts_;
  RecordSink sink_;
  std::vector<Job> jobs_;
  std::vector<Unit> units_;
  std::vector<std::pair<std::size_t, Record>> last_;
  std::mutex mu_;
  BatchSummary summary_;
  std::size_t done_ = 0, total_ = 0;
  std::exception_ptr sink_error_;
};

}  // namespace muft::analysis::detail

/// \file plan.cpp
/// Planning the per-matrix jobs of one checkpoint (plan.h): which tensors, which kind of row,
/// what each job reads and computes.

#include "plan.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <unordered_map>

namespace muft::analysis::detail {
namespace {

/// A matrix read from a source: float for F32/F16/BF16 (lossless), double for F64.
struct Loaded {
  std::vector<float> f;
  std::vector<double> d;
  bool is_double = false;
};

Loaded load(const ck::TensorSource& src, const ck::TensorInfo& info) {
  Loaded l;
  l.is_double = info.dtype == ck::DType::F64;
  if (l.is_double) {
    src.read(info.name, l.d);
  } else {
    src.read(info.name, l.f);
  }
  return l;
}

/// The tensors of fc that pass the filter and are matrices, in source order; the others that
/// pass the filter are reported to the runner as skipped, with the reason. With LoRA pairing on,
/// an adapter's own vectors (lora_E, magnitude, ranknum) are skipped as parts of the merged
/// update and their names added to *parts.
std::vector<const ck::TensorInfo*> selected_matrices(Runner& runner, const FileContext& fc,
                                                     const TensorFilter& filter,
                                                     const BatchOptions& opts,
                                                     std::vector<std::string>* parts) {
  std::vector<const ck::TensorInfo*> out;
  for (const auto& info : fc.src->tensors()) {
    if (!filter.accepts(info.name)) continue;
    const std::string part = opts.lora ? adapter_part_reason(info.name) : "";
    if (!part.empty()) {
      runner.skip(fc.path, info.name, part);
      parts->push_back(info.name);
      continue;
    }
    const std::string why = skip_reason(info);
    if (!why.empty()) {
      runner.skip(fc.path, info.name, why);
      continue;
    }
    out.push_back(&info);
  }
  return out;
}

/// The adapted modules among the matrices (with their parts).
std::vector<LoraPair> adapter_pairs(const std::vector<const ck::TensorInfo*>& matrices,
                                    const std::vector<std::string>& parts) {
  std::vector<std::string> names = parts;
  for (const ck::TensorInfo* t : matrices) names.push_back(t->name);
  return find_lora_pairs(names, nullptr);
}

/// Spectral metrics of one matrix (its own metrics: spectra rows and LoRA factors in a diff).
Job matrix_job(const FileContext& fc, const ck::TensorInfo& info, Record proto,
               const BatchOptions& opts) {
  const auto [rows, cols] = info.matrix_shape();
  Job j{job_cost(rows, cols), fc.unit, proto, nullptr};
  j.fn = [src = fc.src, info, rows = rows, cols = cols, proto, &opts]() {
    Loaded l = load(*src, info);
    Record r = proto;
    r.metrics = l.is_double ? compute_metrics(l.d.data(), rows, cols, opts.metrics)
                            : compute_metrics(l.f.data(), rows, cols, opts.metrics);
    return std::vector<Record>{r};
  };
  return j;
}

}  // namespace

double job_cost(int64_t rows, int64_t cols) {
  return static_cast<double>(rows) * static_cast<double>(cols) *
         static_cast<double>(std::max<int64_t>(1, std::min(rows, cols)));
}

std::string shape_text(const std::pair<int64_t, int64_t>& s) {
  return std::to_string(s.first) + "x" + std::to_string(s.second);
}

Eigen::MatrixXd load_eigen(const ck::TensorSource& src, const ck::TensorInfo& info) {
  const auto [rows, cols] = info.matrix_shape();
  std::vector<double> d;
  src.read(info.name, d);
  return Eigen::Map<const RowMatrixXd>(d.data(), rows, cols);
}

const ck::TensorInfo* find_info(const ck::TensorSource& src, const std::string& name) {
  for (const auto& t : src.tensors()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

void add_reason(Record& r, const std::string& text) {
  if (text.empty()) return;
  r.metrics.reason += (r.metrics.reason.empty() ? "" : "; ") + text;
}

void set_intruders(Record& r, const IntruderResult& res, const IntruderOptions& opts) {
  r.intruders = res.count;
  if (std::isfinite(res.count) && res.examined < opts.top_k) {
    add_reason(r, "intruders among the top " + std::to_string(res.examined) +
                      " singular vectors (min(m, n) < --top-k " + std::to_string(opts.top_k) + ")");
  }
}

Record proto_record(const FileContext& fc, const std::string& tensor, RecordKind kind,
                    const BatchOptions& opts) {
  Record r;
  r.file = fc.path;
  r.format = fc.format;
  r.run = fc.run;
  r.step = fc.step;
  r.tensor = tensor;
  r.kind = kind;
  r.group = opts.groups.classify(tensor);
  return r;
}

Record error_record(Record r, const std::string& reason) {
  r.metrics.status = MetricStatus::Error;
  r.metrics.reason = reason;
  return r;
}

std::string skip_reason(const ck::TensorInfo& info) {
  if (!info.skip_reason.empty()) return info.skip_reason;
  if (info.shape.empty()) return "a scalar (rank 0), not a matrix";
  if (info.shape.size() < 2) return "rank 1, not a matrix";
  if (!ck::is_floating(info.dtype)) {
    return std::string("dtype ") + ck::dtype_name(info.dtype) + " is not floating";
  }
  return "";
}

bool open_or_report(Runner& runner, FileContext& fc, const BatchOptions& opts) {
  try {
    fc.src = ck::open_source(fc.path);
    fc.format = fc.src->format();
    runner.set_note(fc.unit, fc.path, fc.src->note());
    return true;
  } catch (const std::exception& e) {
    Record r = proto_record(fc, "", RecordKind::File, opts);
    r.group = "";
    runner.emit_now(fc.unit, error_record(r, e.what()));
    fc.src = nullptr;
    return false;
  }
}

void resolve_adapter_config(Runner& runner, FileContext& fc) {
  namespace fs = std::filesystem;
  fs::path p(fc.path);
  const fs::path dir = fs::is_directory(p) ? p : p.parent_path();
  try {
    if (auto cfg = read_adapter_config((dir / "adapter_config.json").string())) {
      fc.adapter = std::make_shared<const AdapterConfig>(std::move(*cfg));
      runner.set_note(fc.unit, fc.path, fc.adapter->unsupported_type_note());
    }
  } catch (const std::exception& e) {
    fc.lora_note = e.what();
  }
}

void plan_spectra(Runner& runner, const FileContext& fc, const BatchOptions& opts,
                  const TensorFilter& filter) {
  std::vector<std::string> parts;
  const std::vector<const ck::TensorInfo*> matrices =
      selected_matrices(runner, fc, filter, opts, &parts);
  for (const ck::TensorInfo* m : matrices) {
    const ck::TensorInfo& info = *m;
    const auto [rows, cols] = info.matrix_shape();
    std::string module;
    char role = 0;
    const RecordKind kind = !parse_lora_name(info.name, &module, &role) ? RecordKind::Matrix
                            : role == 'A'                               ? RecordKind::LoraA
                                                                        : RecordKind::LoraB;
    Record proto = proto_record(fc, info.name, kind, opts);
    proto.dtype = ck::dtype_name(info.dtype);
    proto.metrics.rows = rows;
    proto.metrics.cols = cols;
    runner.add_job(matrix_job(fc, info, proto, opts));
  }
  if (opts.lora) plan_adapter_spectra(runner, fc, adapter_pairs(matrices, parts), opts);
}

void plan_diff(Runner& runner, const FileContext& fc,
               const std::shared_ptr<const ck::TensorSource>& base, const NameMap& map,
               const DiffOptions& dopts, const BatchOptions& opts, const TensorFilter& filter) {
  const auto src = fc.src;
  std::unordered_map<std::string, const ck::TensorInfo*> base_index;
  for (const auto& t : base->tensors()) base_index[t.name] = &t;
  std::set<std::string> matched_base;
  std::vector<std::string> parts;
  const std::vector<const ck::TensorInfo*> matrices =
      selected_matrices(runner, fc, filter, opts, &parts);
  const std::vector<LoraPair> pairs =
      opts.lora ? adapter_pairs(matrices, parts) : std::vector<LoraPair>{};
  for (const ck::TensorInfo* m : matrices) {
    const ck::TensorInfo& info = *m;
    const std::string& name = info.name;
    const auto [rows, cols] = info.matrix_shape();
    std::string module;
    char role = 0;
    Record proto = proto_record(fc, name, RecordKind::Matrix, opts);
    proto.is_diff = true;
    proto.dtype = ck::dtype_name(info.dtype);
    proto.metrics.rows = rows;
    proto.metrics.cols = cols;
    proto.base_file = base->path();
    if (opts.lora && parse_lora_name(name, &module, &role)) {
      // A LoRA factor has no counterpart in the base: its own metrics, no distances.
      proto.kind = role == 'A' ? RecordKind::LoraA : RecordKind::LoraB;
      runner.add_job(matrix_job(fc, info, proto, opts));
      continue;
    }
    std::string base_name = map.apply(name);
    auto it = base_index.find(base_name);
    const std::string key = peft_module_key(name);
    if (it == base_index.end() && key != name && base_index.count(map.apply(key))) {
      // A full matrix saved in a PEFT adapter (modules_to_save) under PEFT's prefix.
      base_name = map.apply(key);
      it = base_index.find(base_name);
    }
    proto.base_tensor = base_name;
    if (it == base_index.end()) {
      runner.emit_now(fc.unit, error_record(proto, "tensor '" + base_name + "' not in base"));
      continue;
    }
    matched_base.insert(base_name);
    const ck::TensorInfo binfo = *it->second;
    if (binfo.matrix_shape() != info.matrix_shape() || !ck::is_floating(binfo.dtype) ||
        !binfo.skip_reason.empty()) {
      runner.emit_now(
          fc.unit, error_record(proto, "shape mismatch: " + shape_text(info.matrix_shape()) +
                                           " vs base " + shape_text(binfo.matrix_shape()) + " (" +
                                           ck::dtype_name(binfo.dtype) + ")"));
      continue;
    }
    Job j{job_cost(rows, cols), fc.unit, proto, nullptr};
    j.fn = [src, base, info, binfo, rows = rows, cols = cols, proto, &opts,
            intruders = dopts.intruders && rows > 0 && cols > 0, iopts = dopts.intruder]() {
      Record r = proto;
      DiffMetrics d;
      IntruderResult ir;
      if (info.dtype == ck::DType::F64 || binfo.dtype == ck::DType::F64) {
        std::vector<double> w, w0;
        src->read(info.name, w);
        base->read(binfo.name, w0);
        d = compute_diff(w.data(), w0.data(), rows, cols, opts.metrics);
        if (intruders) ir = intruder_dimensions(w.data(), w0.data(), rows, cols, iopts);
      } else {
        std::vector<float> w, w0;
        src->read(info.name, w);
        base->read(binfo.name, w0);
        d = compute_diff(w.data(), w0.data(), rows, cols, opts.metrics);
        if (intruders) ir = intruder_dimensions(w.data(), w0.data(), rows, cols, iopts);
      }
      r.metrics = std::move(d.delta);
      d.delta = MatrixMetrics{};
      r.diff = d;
      if (intruders) set_intruders(r, ir, iopts);
      return std::vector<Record>{r};
    };
    runner.add_job(std::move(j));
  }
  plan_adapter_diff(runner, fc, pairs, base, base_index, map, dopts, opts, &matched_base);
  if (dopts.report_missing && pairs.empty()) {
    for (const auto& t : base->tensors()) {
      if (!skip_reason(t).empty() || !filter.accepts(t.name) || matched_base.count(t.name)) {
        continue;
      }
      Record proto = proto_record(fc, "", RecordKind::Matrix, opts);
      proto.is_diff = true;
      proto.base_file = base->path();
      proto.base_tensor = t.name;
      proto.group = opts.groups.classify(t.name);
      runner.emit_now(fc.unit,
                      error_record(proto, "base tensor '" + t.name + "' missing from checkpoint"));
    }
  }
}

}  // namespace muft::analysis::detail

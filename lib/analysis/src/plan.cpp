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

/// A row-major (rows, cols) matrix as an Eigen (col-major) matrix, in double.
Eigen::MatrixXd load_eigen(const ck::TensorSource& src, const ck::TensorInfo& info) {
  const auto [rows, cols] = info.matrix_shape();
  std::vector<double> d;
  src.read(info.name, d);
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  return Eigen::Map<const RowMajor>(d.data(), rows, cols);
}

double job_cost(int64_t rows, int64_t cols) {
  return static_cast<double>(rows) * static_cast<double>(cols) *
         static_cast<double>(std::max<int64_t>(1, std::min(rows, cols)));
}

std::string shape_text(const std::pair<int64_t, int64_t>& s) {
  return std::to_string(s.first) + "x" + std::to_string(s.second);
}

/// B (out × r) and A (r × in) of a pair; accepts the transposed convention (A in × r, B r × out).
std::pair<Eigen::MatrixXd, Eigen::MatrixXd> load_lora(const ck::TensorSource& src,
                                                      const ck::TensorInfo& a_info,
                                                      const ck::TensorInfo& b_info) {
  Eigen::MatrixXd A = load_eigen(src, a_info), B = load_eigen(src, b_info);
  if (B.cols() == A.rows()) return {B, A};
  if (A.cols() == B.rows()) return {B.transpose(), A.transpose()};
  throw std::runtime_error("LoRA factors do not chain: A is " + shape_text(a_info.matrix_shape()) +
                           ", B is " + shape_text(b_info.matrix_shape()));
}

const ck::TensorInfo* find_info(const ck::TensorSource& src, const std::string& name) {
  for (const auto& t : src.tensors()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

/// The tensors of fc that pass the filter and are matrices, in source order; the others that
/// pass the filter are reported to the runner as skipped, with the reason.
std::vector<const ck::TensorInfo*> selected_matrices(Runner& runner, const FileContext& fc,
                                                     const TensorFilter& filter) {
  std::vector<const ck::TensorInfo*> out;
  for (const auto& info : fc.src->tensors()) {
    if (!filter.accepts(info.name)) continue;
    const std::string why = skip_reason(info);
    if (!why.empty()) {
      runner.skip(fc.path, info.name, why);
      continue;
    }
    out.push_back(&info);
  }
  return out;
}

std::vector<std::string> names_of(const std::vector<const ck::TensorInfo*>& infos) {
  std::vector<std::string> names;
  names.reserve(infos.size());
  for (const ck::TensorInfo* t : infos) names.push_back(t->name);
  return names;
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

void resolve_lora_scale(FileContext& fc, const BatchOptions& opts) {
  fc.lora_scale.alpha = opts.lora_alpha;
  fc.lora_scale.rank = opts.lora_rank;
  if (!std::isnan(opts.lora_alpha)) return;
  namespace fs = std::filesystem;
  fs::path p(fc.path);
  const fs::path dir = fs::is_directory(p) ? p : p.parent_path();
  std::optional<LoraScale> cfg;
  try {
    cfg = read_adapter_config((dir / "adapter_config.json").string());
  } catch (const std::exception& e) {
    fc.lora_note = e.what();
  }
  if (cfg) {
    fc.lora_scale.alpha = cfg->alpha;
    fc.lora_scale.rslora = cfg->rslora;
    if (std::isnan(opts.lora_rank)) fc.lora_scale.rank = cfg->rank;
  }
  if (std::isnan(fc.lora_scale.alpha)) {
    fc.lora_note = "LoRA scale unknown (no --lora-alpha, no adapter_config.json): s = 1 assumed";
  }
}

void plan_spectra(Runner& runner, const FileContext& fc, const BatchOptions& opts,
                  const TensorFilter& filter) {
  const auto src = fc.src;
  const std::vector<const ck::TensorInfo*> matrices = selected_matrices(runner, fc, filter);
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
  if (!opts.lora) return;
  for (const LoraPair& p : find_lora_pairs(names_of(matrices), nullptr)) {
    const ck::TensorInfo* a = find_info(*src, p.a_name);
    const ck::TensorInfo* b = find_info(*src, p.b_name);
    Job j;
    j.cost = job_cost(b->matrix_shape().first, a->matrix_shape().second) / 64;
    j.unit = fc.unit;
    j.proto = proto_record(fc, p.module + ".lora_delta", RecordKind::LoraDelta, opts);
    j.proto.group = opts.groups.classify(p.module) + ".lora_delta";
    j.proto.dtype = ck::dtype_name(a->dtype);
    j.fn = [src, a = *a, b = *b, proto = j.proto, fc, &opts]() {
      auto [B, A] = load_lora(*src, a, b);
      Record r = proto;
      r.metrics = lora_delta_metrics(B, A, fc.lora_scale.scale(A.rows()), opts.metrics);
      if (r.metrics.reason.empty()) r.metrics.reason = fc.lora_note;
      return std::vector<Record>{r};
    };
    runner.add_job(std::move(j));
  }
}

void plan_diff(Runner& runner, const FileContext& fc,
               const std::shared_ptr<const ck::TensorSource>& base, const NameMap& map,
               const DiffOptions& dopts, const BatchOptions& opts, const TensorFilter& filter) {
  const auto src = fc.src;
  std::unordered_map<std::string, const ck::TensorInfo*> base_index;
  for (const auto& t : base->tensors()) base_index[t.name] = &t;
  std::set<std::string> matched_base;
  const std::vector<const ck::TensorInfo*> matrices = selected_matrices(runner, fc, filter);
  const std::vector<LoraPair> pairs =
      opts.lora ? find_lora_pairs(names_of(matrices), nullptr) : std::vector<LoraPair>{};
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
    const std::string base_name = map.apply(name);
    proto.base_tensor = base_name;
    const auto it = base_index.find(base_name);
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
    j.fn = [src, base, info, binfo, rows = rows, cols = cols, proto, &opts]() {
      Record r = proto;
      DiffMetrics d;
      if (info.dtype == ck::DType::F64 || binfo.dtype == ck::DType::F64) {
        std::vector<double> w, w0;
        src->read(info.name, w);
        base->read(binfo.name, w0);
        d = compute_diff(w.data(), w0.data(), rows, cols, opts.metrics);
      } else {
        std::vector<float> w, w0;
        src->read(info.name, w);
        base->read(binfo.name, w0);
        d = compute_diff(w.data(), w0.data(), rows, cols, opts.metrics);
      }
      r.metrics = std::move(d.delta);
      d.delta = MatrixMetrics{};
      r.diff = d;
      return std::vector<Record>{r};
    };
    runner.add_job(std::move(j));
  }
  for (const LoraPair& p : pairs) {
    const ck::TensorInfo a = *find_info(*src, p.a_name);
    const ck::TensorInfo b = *find_info(*src, p.b_name);
    Record proto = proto_record(fc, p.module + ".lora_delta", RecordKind::LoraDelta, opts);
    proto.group = opts.groups.classify(p.module) + ".lora_delta";
    proto.is_diff = true;
    proto.dtype = ck::dtype_name(a.dtype);
    proto.base_file = base->path();
    proto.base_tensor = map.apply(p.base_name);
    const auto it = base_index.find(proto.base_tensor);
    if (it == base_index.end()) {
      runner.emit_now(
          fc.unit, error_record(proto, "LoRA base weight '" + proto.base_tensor + "' not in base"));
      continue;
    }
    matched_base.insert(proto.base_tensor);
    const ck::TensorInfo binfo = *it->second;
    const auto [rows, cols] = binfo.matrix_shape();
    proto.metrics.rows = rows;
    proto.metrics.cols = cols;
    Job j{job_cost(rows, cols) / 64, fc.unit, proto, nullptr};
    j.fn = [src, base, a, b, binfo, proto, fc, &opts]() {
      auto [B, A] = load_lora(*src, a, b);
      const auto [rows, cols] = binfo.matrix_shape();
      if (B.rows() != rows || A.cols() != cols) {
        throw std::runtime_error("LoRA update is " + std::to_string(B.rows()) + "x" +
                                 std::to_string(A.cols()) + " but base weight is " +
                                 shape_text(binfo.matrix_shape()));
      }
      std::vector<double> w0;
      base->read(binfo.name, w0);
      DiffMetrics d = lora_diff(w0.data(), B, A, fc.lora_scale.scale(A.rows()), opts.metrics);
      Record r = proto;
      r.metrics = std::move(d.delta);
      if (r.metrics.reason.empty()) r.metrics.reason = fc.lora_note;
      d.delta = MatrixMetrics{};
      r.diff = d;
      return std::vector<Record>{r};
    };
    runner.add_job(std::move(j));
  }
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

/// \file plan_adapter.cpp
/// Planning the merged update of each adapted module (plan.h): LoRA and rsLoRA with PEFT's
/// rank/alpha patterns, AdaLoRA, DoRA, fan_in_fan_out and embedding tables, with the notes and
/// warnings adapter_config.json calls for.

#include <cmath>
#include <stdexcept>

#include "plan.h"

namespace muft::analysis::detail {
namespace {

/// How one module's factors act on its weight as stored: ΔW = scale·B·A with B (rows × r) and
/// A (r × cols) of the stored weight, and DoRA's magnitudes.
struct Update {
  Eigen::MatrixXd B, A;
  double scale = 1;
  bool transposed = false;    ///< the stored weight is [in, out] (fan_in_fan_out, embeddings)
  Eigen::VectorXd magnitude;  ///< DoRA: one per output feature; empty otherwise
  std::string note;           ///< for the reason column
};

Eigen::VectorXd load_vector(const ck::TensorSource& src, const std::string& name) {
  std::vector<double> d;
  src.read(name, d);
  return Eigen::Map<const Eigen::VectorXd>(d.data(), static_cast<Eigen::Index>(d.size()));
}

void append(std::string& s, const std::string& text) {
  if (!text.empty()) s += (s.empty() ? "" : "; ") + text;
}

/// The scale of p: adapter_config.json (with its patterns), then --lora-alpha / --lora-rank.
LoraScale module_scale(const FileContext& fc, const LoraPair& p, const BatchOptions& opts) {
  LoraScale s = fc.adapter ? fc.adapter->scale_for(peft_module_key(p.module)) : LoraScale{};
  if (!std::isnan(opts.lora_alpha)) s.alpha = opts.lora_alpha;
  if (!std::isnan(opts.lora_rank)) s.rank = opts.lora_rank;
  if (!p.e_name.empty()) s.adalora = true;  // lora_E: AdaLoRA's scale, with or without a config
  return s;
}

/// The notes on p's row known before anything is read.
std::string planning_notes(const FileContext& fc, const LoraPair& p) {
  std::string notes = fc.lora_note;
  if (!fc.adapter) return notes;
  append(notes, fc.adapter->base_change_warning());
  if (!fc.adapter->targets(peft_module_key(p.module))) {
    append(notes, "module not selected by target_modules/exclude_modules of adapter_config.json");
  }
  if (!fc.adapter->use_dora && !p.magnitude_name.empty()) {
    append(notes,
           "lora_magnitude_vector present though adapter_config.json has use_dora=false: "
           "merged as DoRA");
  }
  return notes;
}

/// Why p cannot be merged at all ("" when it can): DoRA announced but its magnitudes missing.
std::string unmergeable(const FileContext& fc, const LoraPair& p) {
  if (fc.adapter && fc.adapter->use_dora && p.magnitude_name.empty()) {
    return "adapter_config.json has use_dora=true but the adapter holds no lora_magnitude_vector "
           "for this module";
  }
  return "";
}

/// p's factors, oriented on a stored weight of (rows, cols); rows < 0 when no weight is known
/// (the orientation then follows fan_in_fan_out and the embedding names).
Update load_update(const ck::TensorSource& src, const LoraPair& p, const FileContext& fc,
                   const BatchOptions& opts, int64_t rows, int64_t cols) {
  const ck::TensorInfo* a_info = find_info(src, p.a_name);
  const ck::TensorInfo* b_info = find_info(src, p.b_name);
  Eigen::MatrixXd A = load_eigen(src, *a_info), B = load_eigen(src, *b_info);
  if (B.cols() != A.rows()) {
    // The transposed convention (A in × r, B r × out).
    if (A.cols() != B.rows()) {
      throw std::runtime_error("LoRA factors do not chain: A is " +
                               shape_text(a_info->matrix_shape()) + ", B is " +
                               shape_text(b_info->matrix_shape()));
    }
    A.transposeInPlace();
    B.transposeInPlace();
  }
  Update u;
  if (!p.e_name.empty()) {
    const Eigen::VectorXd e = load_vector(src, p.e_name);
    if (e.size() != A.rows()) {
      throw std::runtime_error("AdaLoRA lora_E has " + std::to_string(e.size()) +
                               " values but the factors have rank " + std::to_string(A.rows()));
    }
    A = e.asDiagonal() * A;  // B (A ⊙ E): E scales the rows of A
  }
  LoraScale s = module_scale(fc, p, opts);
  if (!p.ranknum_name.empty() && std::isnan(opts.lora_rank)) {
    const Eigen::VectorXd rn = load_vector(src, p.ranknum_name);
    if (rn.size() != 1) throw std::runtime_error("AdaLoRA ranknum is not a single number");
    s.rank = rn[0];
  }
  u.scale = s.scale(A.rows());
  if (!std::isfinite(s.alpha)) {
    u.note = !fc.lora_note.empty() ? "LoRA scale unknown: s = 1 assumed"
             : fc.adapter
                 ? "LoRA scale unknown (no --lora-alpha, no lora_alpha in adapter_config.json): "
                   "s = 1 assumed"
                 : "LoRA scale unknown (no --lora-alpha, no adapter_config.json): s = 1 assumed";
  }
  // B·A is [out, in]; PEFT stores a Conv1D weight (fan_in_fan_out) and an embedding table as
  // [in, out]. The shapes decide unless the weight is square.
  const bool expected = p.embedding || (fc.adapter && fc.adapter->fan_in_fan_out);
  u.transposed = expected;
  if (rows >= 0) {
    const bool plain = B.rows() == rows && A.cols() == cols;
    const bool flipped = A.cols() == rows && B.rows() == cols;
    if (!plain && !flipped) {
      throw std::runtime_error("LoRA update is " + std::to_string(B.rows()) + "x" +
                               std::to_string(A.cols()) + " but base weight is " +
                               shape_text({rows, cols}));
    }
    if (plain != flipped) u.transposed = flipped;
    if (u.transposed && !expected) {
      append(u.note,
             "B*A fits the base weight transposed (stored [in, out], as with "
             "fan_in_fan_out): merged transposed");
    } else if (!u.transposed && expected) {
      append(u.note, std::string(p.embedding ? "embedding factors" : "fan_in_fan_out=true") +
                         " but B*A has the base weight's own shape: merged untransposed");
    }
  }
  if (!p.magnitude_name.empty()) u.magnitude = load_vector(src, p.magnitude_name);
  if (u.transposed) {
    u.B = A.transpose();
    u.A = B.transpose();
  } else {
    u.B = std::move(B);
    u.A = std::move(A);
  }
  return u;
}

/// The frozen weight of p inside the adapter's own file (a muft checkpoint keeps
/// `<module>.weight`, a PEFT model's full state dict `<module>.base_layer.weight`), or nullptr.
const ck::TensorInfo* weight_in_file(const ck::TensorSource& src, const LoraPair& p) {
  for (const std::string& n : {p.module + ".base_layer.weight", p.module + ".weight"}) {
    const ck::TensorInfo* t = find_info(src, n);
    if (t && skip_reason(*t).empty()) return t;
  }
  return nullptr;
}

Record pair_proto(const FileContext& fc, const LoraPair& p, const BatchOptions& opts) {
  Record proto = proto_record(fc, p.module + ".lora_delta", RecordKind::LoraDelta, opts);
  proto.group = opts.groups.classify(p.module) + ".lora_delta";
  proto.dtype = ck::dtype_name(find_info(*fc.src, p.a_name)->dtype);
  return proto;
}

}  // namespace

std::string adapter_part_reason(const std::string& name) {
  std::string module;
  AdapterRole role{};
  if (!parse_adapter_name(name, &module, &role)) return "";
  switch (role) {
    case AdapterRole::E:
      return "AdaLoRA singular values lora_E, merged into " + module + ".lora_delta";
    case AdapterRole::Magnitude:
      return "DoRA magnitude vector, merged into " + module + ".lora_delta";
    case AdapterRole::Ranknum:
      return "AdaLoRA ranknum, used in the scale of " + module + ".lora_delta";
    default:
      return "";
  }
}

void plan_adapter_spectra(Runner& runner, const FileContext& fc, const std::vector<LoraPair>& pairs,
                          const BatchOptions& opts) {
  const auto src = fc.src;
  for (const LoraPair& p : pairs) {
    Record proto = pair_proto(fc, p, opts);
    const std::string cannot = unmergeable(fc, p);
    if (!cannot.empty()) {
      runner.emit_now(fc.unit, error_record(proto, cannot));
      continue;
    }
    const std::string notes = planning_notes(fc, p);
    const auto b_shape = find_info(*src, p.b_name)->matrix_shape();
    const auto a_shape = find_info(*src, p.a_name)->matrix_shape();
    if (p.magnitude_name.empty()) {
      Job j{job_cost(b_shape.first, a_shape.second) / 64, fc.unit, proto, nullptr};
      j.fn = [src, p, proto, fc, notes, &opts]() {
        const Update u = load_update(*src, p, fc, opts, -1, -1);
        Record r = proto;
        r.metrics = lora_delta_metrics(u.B, u.A, u.scale, opts.metrics);
        add_reason(r, notes);
        add_reason(r, u.note);
        return std::vector<Record>{r};
      };
      runner.add_job(std::move(j));
      continue;
    }
    // DoRA rescales every output feature of W0 + s·B·A: its ΔW depends on W0.
    const ck::TensorInfo* w0_info = weight_in_file(*src, p);
    if (!w0_info) {
      runner.emit_now(fc.unit,
                      error_record(proto,
                                   "DoRA: the merged update diag(m/||W0 + s*B*A||)(W0 + s*B*A) - "
                                   "W0 needs the base weight W0; run `diff --base BASE`"));
      continue;
    }
    const auto [rows, cols] = w0_info->matrix_shape();
    Job j{job_cost(rows, cols), fc.unit, proto, nullptr};
    j.fn = [src, p, proto, fc, notes, &opts, w0_info = *w0_info, rows = rows, cols = cols]() {
      const Update u = load_update(*src, p, fc, opts, rows, cols);
      std::vector<double> w0;
      src->read(w0_info.name, w0);
      const Eigen::Map<const RowMatrixXd> W0(w0.data(), rows, cols);
      const RowMatrixXd delta = dora_merge(W0, u.B, u.A, u.scale, u.magnitude, !u.transposed) - W0;
      Record r = proto;
      r.metrics = compute_metrics(delta.data(), rows, cols, opts.metrics);
      add_reason(r, "W0 from " + w0_info.name);
      add_reason(r, notes);
      add_reason(r, u.note);
      return std::vector<Record>{r};
    };
    runner.add_job(std::move(j));
  }
}

void plan_adapter_diff(Runner& runner, const FileContext& fc, const std::vector<LoraPair>& pairs,
                       const std::shared_ptr<const ck::TensorSource>& base,
                       const std::unordered_map<std::string, const ck::TensorInfo*>& base_index,
                       const NameMap& map, const DiffOptions& dopts, const BatchOptions& opts,
                       std::set<std::string>* matched_base) {
  const auto src = fc.src;
  for (const LoraPair& p : pairs) {
    Record proto = pair_proto(fc, p, opts);
    proto.is_diff = true;
    proto.base_file = base->path();
    proto.base_tensor = map.apply(p.base_name);
    const auto it = base_index.find(proto.base_tensor);
    if (it == base_index.end()) {
      runner.emit_now(
          fc.unit, error_record(proto, "LoRA base weight '" + proto.base_tensor + "' not in base"));
      continue;
    }
    matched_base->insert(proto.base_tensor);
    const std::string cannot = unmergeable(fc, p);
    if (!cannot.empty()) {
      runner.emit_now(fc.unit, error_record(proto, cannot));
      continue;
    }
    const ck::TensorInfo binfo = *it->second;
    const auto [rows, cols] = binfo.matrix_shape();
    proto.metrics.rows = rows;
    proto.metrics.cols = cols;
    const bool intruders = dopts.intruders && rows > 0 && cols > 0;
    const bool dense = intruders || !p.magnitude_name.empty();
    Job j{job_cost(rows, cols) / (dense ? 1 : 64), fc.unit, proto, nullptr};
    j.fn = [src, base, p, binfo, proto, fc, &opts, notes = planning_notes(fc, p), intruders,
            iopts = dopts.intruder, rows = rows, cols = cols]() {
      const Update u = load_update(*src, p, fc, opts, rows, cols);
      std::vector<double> w0;
      base->read(binfo.name, w0);
      const Eigen::Map<const RowMatrixXd> W0(w0.data(), rows, cols);
      DiffMetrics d;
      IntruderResult ir;
      if (u.magnitude.size() > 0) {
        const RowMatrixXd W = dora_merge(W0, u.B, u.A, u.scale, u.magnitude, !u.transposed);
        d = compute_diff(W.data(), w0.data(), rows, cols, opts.metrics);
        if (intruders) ir = intruder_dimensions(W.data(), w0.data(), rows, cols, iopts);
      } else {
        d = lora_diff(w0.data(), u.B, u.A, u.scale, opts.metrics);
        if (intruders) {
          RowMatrixXd W = W0;
          W.noalias() += u.scale * (u.B * u.A);
          ir = intruder_dimensions(W.data(), w0.data(), rows, cols, iopts);
        }
      }
      Record r = proto;
      r.metrics = std::move(d.delta);
      d.delta = MatrixMetrics{};
      r.diff = d;
      add_reason(r, notes);
      add_reason(r, u.note);
      if (intruders) set_intruders(r, ir, iopts);
      return std::vector<Record>{r};
    };
    runner.add_job(std::move(j));
  }
}

}  // namespace muft::analysis::detail

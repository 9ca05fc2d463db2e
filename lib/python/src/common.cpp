/// \file common.cpp
/// Helpers shared by the bindings (bindings.h).

#include <memory>

#include "bindings.h"
#include "muft/analysis/spectrum.h"

#ifdef MUFT_PYTHON_HAVE_OPENBLAS
extern "C" int openblas_get_num_threads(void);
#endif

namespace muft::python {

py::str text(const std::string& s) {
  PyObject* o =
      PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "surrogateescape");
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

py::array_t<double> to_numpy(std::vector<double>&& values) {
  auto* owned = new std::vector<double>(std::move(values));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<double>*>(p); });
  return py::array_t<double>({static_cast<py::ssize_t>(owned->size())}, owned->data(),
                             free_when_done);
}

py::array_t<double> to_numpy(const std::vector<double>& values) {
  return to_numpy(std::vector<double>(values));
}

py::array to_numpy_strings(const std::vector<std::string>& values) {
  py::list items;
  for (const std::string& s : values) items.append(text(s));
  return py::module_::import("numpy").attr("array")(items, py::arg("dtype") = "str");
}

BlasThreadsGuard::BlasThreadsGuard() {
#ifdef MUFT_PYTHON_HAVE_OPENBLAS
  threads_ = openblas_get_num_threads();
#endif
}

BlasThreadsGuard::~BlasThreadsGuard() {
  if (threads_ > 0) analysis::set_blas_threads(threads_);
}

}  // namespace muft::python

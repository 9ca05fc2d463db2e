#pragma once
/// \file bindings.h
/// Private to the Python module: one bind_* function per wrapped module, and the helpers they
/// share (numpy conversions, the BLAS thread guard). The public Python API, its docstrings and
/// the Table type are in lib/python/muft/__init__.py; the functions bound here are the private
/// `muft._muft` layer under it.
///
/// Threads: every binding that computes releases the GIL (py::gil_scoped_release) and touches
/// no Python object while it is released; results are collected in C++ and converted after.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

namespace muft::python {

namespace py = pybind11;

void bind_checkpoint(py::module_& m);  ///< muft.open: Checkpoint, TensorInfo
void bind_analysis(py::module_& m);    ///< metrics, spectrum, spectra, diff, series
void bind_rundir(py::module_& m);      ///< open_run
void bind_theory(py::module_& m);      ///< verify, checks, polar_express
void bind_stats(py::module_& m);       ///< meta, best_lr

/// A Python str of muft text (names, paths, messages): UTF-8, with undecodable bytes kept as
/// surrogates the way os.fsdecode keeps them in file names.
py::str text(const std::string& s);

/// A float64 numpy array holding `values` (moved, not copied; owned by a capsule).
py::array_t<double> to_numpy(std::vector<double>&& values);
/// A float64 numpy array copied from `values`.
py::array_t<double> to_numpy(const std::vector<double>& values);
/// A numpy str array of `values` (dtype <U…; '<U1' when empty).
py::array to_numpy_strings(const std::vector<std::string>& values);

/// OpenBLAS's thread count is process-wide and the batch runner changes it (1 while several
/// matrices run in parallel): this guard puts back the count it found, so numpy and later
/// muft calls in the same interpreter keep their threads.
class BlasThreadsGuard {
 public:
  BlasThreadsGuard();
  ~BlasThreadsGuard();
  BlasThreadsGuard(const BlasThreadsGuard&) = delete;
  BlasThreadsGuard& operator=(const BlasThreadsGuard&) = delete;

 private:
  int threads_ = 0;
};

}  // namespace muft::python

// The Python module vx (vx._vx; python/vx/__init__.py re-exports it): the
// C++ API over numpy arrays, shaped like FAISS and hnswlib
// (index.search(queries) -> (D, I)).
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <optional>
#include <string>

#include "vx/index.h"
#include "vx/vx.h"

namespace py = pybind11;

namespace {

// vx.Error and its kinds; the other codes map to Python's own exceptions.
struct Exceptions {
  py::object error, corruption, busy, cancelled;
};
Exceptions* exceptions = nullptr;

[[noreturn]] void Raise(const vx::Status& s) {
  const std::string msg = s.ToString();
  PyObject* type = exceptions->error.ptr();
  switch (s.code()) {
    case vx::StatusCode::kInvalidArgument:
      type = PyExc_ValueError;
      break;
    case vx::StatusCode::kNotFound:
      type = PyExc_FileNotFoundError;
      break;
    case vx::StatusCode::kIOError:
      type = PyExc_OSError;
      break;
    case vx::StatusCode::kNoSpace: {
      py::object e = py::reinterpret_steal<py::object>(PyObject_CallFunction(PyExc_OSError, "is", ENOSPC, msg.c_str()));
      PyErr_SetObject(PyExc_OSError, e.ptr());
      throw py::error_already_set();
    }
    case vx::StatusCode::kResourceExhausted:
      type = PyExc_MemoryError;
      break;
    case vx::StatusCode::kNotSupported:
      type = PyExc_NotImplementedError;
      break;
    case vx::StatusCode::kCorruption:
      type = exceptions->corruption.ptr();
      break;
    case vx::StatusCode::kBusy:
      type = exceptions->busy.ptr();
      break;
    case vx::StatusCode::kCancelled:
      type = exceptions->cancelled.ptr();
      break;
    case vx::StatusCode::kOk:  // never raised
      break;
  }
  PyErr_SetString(type, msg.c_str());
  throw py::error_already_set();
}

void Check(const vx::Status& s) {
  if (!s.ok()) Raise(s);
}

template <class T>
T Take(vx::Result<T> r) {
  if (!r.ok()) Raise(r.status());
  return std::move(*r);
}

std::string PathOf(const py::handle& p) { return py::str(py::module_::import("os").attr("fspath")(p)); }

// The element type a numpy array's rows are read as; ValueError otherwise.
vx::ElementType ElementTypeOf(const py::array& a) {
  const py::dtype d = a.dtype();
  if (d.is(py::dtype::of<float>())) return vx::ElementType::kF32;
  if (d.is(py::dtype("float16"))) return vx::ElementType::kF16;
  if (d.is(py::dtype::of<uint8_t>())) return vx::ElementType::kU8;
  if (d.is(py::dtype::of<int8_t>())) return vx::ElementType::kI8;
  throw py::value_error("vectors: dtype " + d.attr("name").cast<std::string>() +
                        " is not one vx reads (float32, float16, uint8, int8)");
}

uint64_t Megabytes(const std::optional<double>& mb, uint64_t fallback) {
  if (!mb) return fallback;
  if (!(*mb > 0)) throw py::value_error("a memory budget must be > 0 MB");
  return static_cast<uint64_t>(*mb * 1048576.0);
}

// A long job's progress callback, run with the GIL: it calls the user's
// Python callable (if any) and checks for Ctrl-C; an exception from either
// sets the cancel flag the job polls, and Rethrow raises it once the job
// has returned.
class PythonProgress {
 public:
  explicit PythonProgress(py::object callable) : callable_(std::move(callable)) {}
  const std::atomic<bool>* cancel() const { return &cancel_; }
  void operator()(const py::tuple& args) {
    if (cancel_) return;
    try {
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (!callable_.is_none()) callable_(*args);
    } catch (py::error_already_set& e) {
      raised_.emplace(std::move(e));
      cancel_ = true;
    }
  }
  void Rethrow() {
    if (raised_) throw std::move(*raised_);
  }

 private:
  py::object callable_;
  std::atomic<bool> cancel_{false};
  std::optional<py::error_already_set> raised_;
};

// build(attributes=): {name: column}, a column a 1-D integer array or list
// (int), a 1-D float array or list (float) or a sequence of integer
// sequences (labels).
vx::Attributes AttributesOf(const py::object& given) {
  if (!py::isinstance<py::dict>(given)) throw py::type_error("attributes must be a dict of column name to values");
  vx::Attributes a;
  for (const auto& [key, value] : py::cast<py::dict>(given)) {
    vx::AttributeColumn c;
    c.name = py::cast<std::string>(key);
    // A list of numbers is a column as an array of them is; a list of
    // lists (ragged or not) is labels.
    std::optional<py::array> arr;
    if (py::isinstance<py::array>(value)) {
      arr = py::cast<py::array>(value);
    } else {
      try {
        arr = py::module_::import("numpy").attr("asarray")(value);
      } catch (const py::error_already_set&) {  // ragged lists: labels
      }
    }
    if (arr && arr->ndim() == 1 && arr->size() > 0 && arr->dtype().kind() != 'O') {
      const char kind = arr->dtype().kind();
      if (kind == 'i' || kind == 'u' || kind == 'b') {
        c.type = vx::AttributeType::kInt;
        const auto v = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(*arr);
        c.ints.assign(v.data(), v.data() + v.shape(0));
      } else if (kind == 'f') {
        c.type = vx::AttributeType::kFloat;
        const auto v = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(*arr);
        c.floats.assign(v.data(), v.data() + v.shape(0));
      } else {
        throw py::type_error("attributes['" + c.name + "']: an array of integers or floats, not dtype " +
                             py::cast<std::string>(py::str(arr->dtype())));
      }
    } else {
      c.type = vx::AttributeType::kLabels;
      c.offsets.push_back(0);
      uint64_t row = 0;
      for (const py::handle labels : value) {
        try {
          for (const py::handle l : labels) c.labels.push_back(py::cast<int64_t>(l));
        } catch (const py::error_already_set&) {
          throw;
        } catch (const std::exception&) {
          throw py::type_error("attributes['" + c.name + "'] row " + std::to_string(row) +
                               ": labels are a sequence of integers");
        }
        c.offsets.push_back(c.labels.size());
        ++row;
      }
    }
    a.columns.push_back(std::move(c));
  }
  return a;
}

void Build(const py::object& path, const py::object& vectors, const std::string& metric, const std::string& type,
           const std::optional<py::array_t<int64_t, py::array::c_style | py::array::forcecast>>& keys, uint32_t m,
           uint32_t ef_construction, uint32_t lists, uint32_t replicas, const std::string& quant,
           const std::string& storage, int threads, std::optional<double> build_memory_mb,
           std::optional<double> serve_memory_mb, const py::object& progress, const py::object& attributes) {
  vx::BuildOptions o;
  if (!attributes.is_none()) o.attributes = AttributesOf(attributes);
  o.type = Take(vx::ParseIndexType(type));
  o.metric = Take(vx::ParseMetric(metric));
  o.storage = Take(vx::ParseElementType(storage));
  o.m = m;
  o.ef_construction = ef_construction;
  o.lists = lists;
  o.replicas = replicas;
  o.quant = quant;
  o.threads = threads;
  o.build_memory_bytes = Megabytes(build_memory_mb, o.build_memory_bytes);
  o.serve_memory_bytes = Megabytes(serve_memory_mb, 0);
  std::unique_ptr<vx::VectorSource> source;
  py::array rows;  // held while the build reads it
  if (py::isinstance<py::str>(vectors) || py::hasattr(vectors, "__fspath__")) {
    source = Take(vx::VectorSource::FromFile(PathOf(vectors)));
  } else {
    rows = py::array::ensure(vectors, py::array::c_style);
    if (!rows) throw py::value_error("vectors must be a 2-D numpy array or a path to a vector file");
    if (rows.ndim() != 2)
      throw py::value_error("vectors must be 2-D (rows, dim), not " + std::to_string(rows.ndim()) + "-D");
    source = Take(vx::VectorSource::FromMemory(rows.data(), ElementTypeOf(rows), rows.shape(0),
                                               static_cast<uint32_t>(rows.shape(1))));
  }
  if (keys) {
    if (keys->ndim() != 1 || static_cast<uint64_t>(keys->shape(0)) != source->count()) {
      throw py::value_error("keys must be 1-D with one key per row (" + std::to_string(source->count()) + ")");
    }
    o.keys.assign(keys->data(), keys->data() + keys->shape(0));
  }
  // An exception the callback raises (KeyboardInterrupt from Ctrl-C among
  // them) cancels the build and is raised again after.
  PythonProgress report(progress);
  o.cancel = report.cancel();
  o.progress = [&](uint64_t done, uint64_t total, const char* phase) {
    py::gil_scoped_acquire gil;
    report(py::make_tuple(done, total, phase));
  };
  const std::string dir = PathOf(path);
  vx::Status s;
  {
    py::gil_scoped_release release;
    s = vx::BuildIndex(*source, dir, o);
  }
  report.Rethrow();
  Check(s);
}

// An index opened read-only (vx.open) or for writing (vx.open_writer: the
// writer's reader searches).
class PyIndex {
 public:
  PyIndex(std::unique_ptr<vx::Index> index, vx::IndexOptions options) : index_(std::move(index)), options_(options) {}
  PyIndex(std::unique_ptr<vx::IndexWriter> writer, vx::IndexOptions options)
      : writer_(std::move(writer)), options_(options) {}

  const vx::Index& index() const {
    if (writer_) return writer_->reader();
    if (!index_) throw py::value_error("the index is closed");
    return *index_;
  }
  vx::IndexWriter& writer() const {
    index();  // closed?
    if (!writer_) throw py::value_error("the index was opened read-only (vx.open); open it with vx.open_writer");
    return *writer_;
  }
  const vx::IndexWriter* writer_or_null() const { return writer_.get(); }
  void Close() {
    index_.reset();
    writer_.reset();
  }

  using Keys = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
  using Rows = py::array_t<float, py::array::c_style | py::array::forcecast>;
  void Insert(const Keys& keys, const Rows& vectors, const py::object& attributes) {
    Put(keys, vectors, attributes, false);
  }
  void Upsert(const Keys& keys, const Rows& vectors, const py::object& attributes) {
    Put(keys, vectors, attributes, true);
  }

  // Insert (replace false) or Upsert: keys 1-D, vectors (len(keys), dim),
  // attributes as build() takes them (None: none).
  void Put(const Keys& keys, const Rows& vectors, const py::object& attributes, bool replace) {
    vx::IndexWriter& w = writer();
    const uint32_t dim = index().info().dim;
    if (keys.ndim() != 1) throw py::value_error("keys must be 1-D");
    if (vectors.ndim() != 2 || vectors.shape(0) != keys.shape(0) || vectors.shape(1) != dim) {
      throw py::value_error("vectors must be of shape (" + std::to_string(keys.shape(0)) + ", " + std::to_string(dim) +
                            "): one row of the index's dimension per key");
    }
    const vx::Attributes attrs = attributes.is_none() ? vx::Attributes() : AttributesOf(attributes);
    vx::Status s;
    {
      py::gil_scoped_release release;
      s = replace ? w.Upsert(keys.data(), vectors.data(), keys.shape(0), attrs)
                  : w.Insert(keys.data(), vectors.data(), keys.shape(0), attrs);
    }
    Check(s);
  }

  void Delete(const py::array_t<int64_t, py::array::c_style | py::array::forcecast>& keys) {
    vx::IndexWriter& w = writer();
    if (keys.ndim() != 1) throw py::value_error("keys must be 1-D");
    vx::Status s;
    {
      py::gil_scoped_release release;
      s = w.Delete(keys.data(), keys.shape(0));
    }
    if (s.code() == vx::StatusCode::kNotFound) throw py::key_error(s.ToString());
    Check(s);
  }
  void Checkpoint() {
    vx::IndexWriter& w = writer();
    vx::Status s;
    {
      py::gil_scoped_release release;
      s = w.Checkpoint();
    }
    Check(s);
  }
  // Reindex (vacuum false) or Vacuum.
  void Rebuild(int threads, bool vacuum) {
    vx::IndexWriter& w = writer();
    vx::BuildOptions o;
    o.threads = threads;
    vx::Status s;
    {
      py::gil_scoped_release release;
      s = vacuum ? w.Vacuum(o) : w.Reindex(o);
    }
    Check(s);
  }
  bool Contains(int64_t key) const { return writer().Contains(key); }

  py::tuple Search(const py::array_t<float, py::array::c_style | py::array::forcecast>& queries, uint32_t k,
                   uint32_t ef_search, uint32_t probes, uint32_t rerank, uint32_t beam, int threads, bool return_stats,
                   const py::object& filter) const {
    const vx::Index& ix = index();
    const uint32_t dim = ix.info().dim;
    if (queries.ndim() != 1 && queries.ndim() != 2) throw py::value_error("queries must be 1-D or 2-D");
    const uint64_t n = queries.ndim() == 1 ? 1 : queries.shape(0);
    const uint64_t qdim = queries.shape(queries.ndim() - 1);
    if (qdim != dim) {
      throw py::value_error("queries have " + std::to_string(qdim) + " components; the index has dim " +
                            std::to_string(dim));
    }
    vx::SearchParams p{k, rerank, ef_search, beam, probes};
    // filter: one expression for every query, or one per query.
    std::vector<vx::Filter> filters;
    if (py::isinstance<py::str>(filter)) {
      filters.push_back(Take(vx::Filter::Parse(py::cast<std::string>(filter))));
    } else if (!filter.is_none()) {
      for (const py::handle f : filter) filters.push_back(Take(vx::Filter::Parse(py::cast<std::string>(f))));
      if (filters.size() != n) {
        throw py::value_error(std::to_string(filters.size()) + " filters for " + std::to_string(n) +
                              " queries; give one filter string, or one per query");
      }
    }
    if (filters.size() == 1) p.filter = &filters[0];
    py::array_t<float> distances({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(k)});
    py::array_t<int64_t> keys({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(k)});
    std::vector<vx::SearchStats> stats(return_stats ? n : 0);
    vx::Status s;
    {
      py::gil_scoped_release release;
      s = ix.SearchBatch(queries.data(), n, p, threads, keys.mutable_data(), distances.mutable_data(), nullptr,
                         return_stats ? stats.data() : nullptr,
                         filters.size() > 1 ? std::span<const vx::Filter>(filters) : std::span<const vx::Filter>());
    }
    Check(s);
    if (!return_stats) return py::make_tuple(distances, keys);
    py::dict per_query;
    const std::pair<const char*, uint64_t vx::SearchStats::*> fields[] = {
        {"structure_pages", &vx::SearchStats::structure_pages},
        {"structure_reads", &vx::SearchStats::structure_reads},
        {"vector_pages", &vx::SearchStats::vector_pages},
        {"vector_reads", &vx::SearchStats::vector_reads},
        {"round_trips", &vx::SearchStats::round_trips},
        {"codes_scored", &vx::SearchStats::codes_scored},
        {"vectors_reranked", &vx::SearchStats::vectors_reranked},
        {"lists_widened", &vx::SearchStats::lists_widened},
        {"filter_rows", &vx::SearchStats::filter_rows},
        {"filter_scan_limit", &vx::SearchStats::filter_scan_limit},
        {"filter_scans", &vx::SearchStats::filter_scans},
        {"filter_walks", &vx::SearchStats::filter_walks},
        {"filter_fallbacks", &vx::SearchStats::filter_fallbacks}};
    for (const auto& [name, field] : fields) {
      py::array_t<uint64_t> column(static_cast<py::ssize_t>(n));
      for (uint64_t i = 0; i < n; ++i) column.mutable_data()[i] = stats[i].*field;
      per_query[name] = column;
    }
    return py::make_tuple(distances, keys, per_query);
  }

  uint64_t Prewarm() const {
    const vx::Index& ix = index();
    vx::Result<uint64_t> pages = 0;
    {
      py::gil_scoped_release release;
      pages = ix.Prewarm();
    }
    return Take(std::move(pages));
  }

  py::dict Info() const {
    const vx::IndexInfo i = writer_ ? writer_->info() : index().info();
    py::dict d;
    d["type"] = vx::IndexTypeName(i.type);
    d["metric"] = vx::MetricName(i.metric);
    d["quant"] = i.quant;
    d["quant_choice"] = i.quant_choice;
    d["storage"] = vx::ElementTypeName(i.storage);
    d["count"] = i.count;
    d["dim"] = i.dim;
    if (i.type == vx::IndexType::kHnsw) {
      d["m"] = i.m;
      d["ef_construction"] = i.ef_construction;
      d["max_level"] = i.max_level;
    } else {
      d["lists"] = i.lists;
      d["replicas"] = i.replicas;
      d["entries"] = i.entries;
    }
    d["page_size"] = i.page_size;
    d["structure_bytes"] = i.structure_bytes;
    d["vector_bytes"] = i.vector_bytes;
    d["resident_bytes"] = i.resident_bytes;
    d["structure_cache_bytes"] = options_.structure_cache_bytes;
    d["vector_cache_bytes"] = options_.vector_cache_bytes;
    d["generation"] = i.generation;
    d["inserted"] = i.inserted;
    d["deleted"] = i.deleted;
    d["write_bytes"] = i.write_bytes;
    py::dict attributes;
    for (const auto& [name, type] : i.attributes) attributes[py::str(name)] = vx::AttributeTypeName(type);
    d["attributes"] = attributes;
    d["attribute_bytes"] = i.attribute_bytes;
    d["wal_bytes"] = i.wal_bytes;
    py::list segments;
    for (const vx::SegmentInfo& seg : i.segments) {
      py::dict sd;
      sd["id"] = seg.id;
      sd["kind"] = seg.kind;
      sd["bytes"] = seg.bytes;
      segments.append(sd);
    }
    d["segments"] = segments;
    return d;
  }

 private:
  std::unique_ptr<vx::Index> index_;
  std::unique_ptr<vx::IndexWriter> writer_;
  vx::IndexOptions options_;
};

PyIndex Open(const py::object& path, double memory_mb, uint32_t max_searchers) {
  const std::string dir = PathOf(path);
  vx::IndexOptions o = Take(vx::IndexOptionsForMemory(dir, Megabytes(memory_mb, 0)));
  o.env = nullptr;
  o.max_searchers = max_searchers;
  return PyIndex(Take(vx::Index::Open(dir, o)), o);
}

PyIndex OpenWriter(const py::object& path, double memory_mb, uint32_t max_searchers, bool sync_on_append,
                   double delta_memory_mb, double auto_reindex_at) {
  const std::string dir = PathOf(path);
  vx::IndexOptions o = Take(vx::IndexOptionsForMemory(dir, Megabytes(memory_mb, 0)));
  o.env = nullptr;
  o.max_searchers = max_searchers;
  vx::WriterOptions w;
  w.sync_on_append = sync_on_append;
  w.delta_memory_bytes = Megabytes(delta_memory_mb, 1);
  w.auto_reindex_at = auto_reindex_at;
  return PyIndex(Take(vx::IndexWriter::Open(dir, o, w)), o);
}

std::vector<std::string> Verify(const py::object& path) { return Take(vx::Index::Verify(PathOf(path))).problems; }

// Snapshot or Restore with the GIL released; progress(done, total) is
// called with it, and an exception it raises cancels and is raised again.
template <class Job>
py::dict RunArchiveJob(const py::object& progress, int level, Job job) {
  vx::SnapshotOptions o;
  o.level = level;
  PythonProgress report(progress);
  o.cancel = report.cancel();
  o.progress = [&](uint64_t done, uint64_t total, const char*) {
    py::gil_scoped_acquire gil;
    report(py::make_tuple(done, total));
  };
  vx::Result<vx::SnapshotInfo> info = vx::SnapshotInfo{};
  {
    py::gil_scoped_release release;
    info = job(o);
  }
  report.Rethrow();
  const vx::SnapshotInfo i = Take(std::move(info));
  py::dict d;
  d["generation"] = i.generation;
  d["files"] = i.files;
  d["bytes"] = i.bytes;
  d["archive_bytes"] = i.archive_bytes;
  return d;
}

}  // namespace

PYBIND11_MODULE(_vx, m) {
  m.doc() = "vx: vector search over sets larger than RAM (HNSW and IVF on NVMe)";
  m.attr("__version__") = vx_version();
  // Never destroyed: the types outlive the interpreter's teardown of m.
  exceptions = new Exceptions;
  exceptions->error = py::exception<Exceptions>(m, "Error");
  exceptions->corruption = py::exception<Exceptions>(m, "CorruptionError", exceptions->error.ptr());
  exceptions->busy = py::exception<Exceptions>(m, "BusyError", exceptions->error.ptr());
  exceptions->cancelled = py::exception<Exceptions>(m, "CancelledError", exceptions->error.ptr());

  m.def("build", &Build, py::arg("path"), py::arg("vectors"), py::kw_only(), py::arg("metric") = "l2",
        py::arg("type") = "hnsw", py::arg("keys") = py::none(), py::arg("m") = 16, py::arg("ef_construction") = 64,
        py::arg("lists") = 0, py::arg("replicas") = 0, py::arg("quant") = "auto", py::arg("storage") = "f32",
        py::arg("threads") = 0, py::arg("build_memory_mb") = py::none(), py::arg("serve_memory_mb") = py::none(),
        py::arg("progress") = py::none(), py::arg("attributes") = py::none(),
        "Builds an index of `vectors` (a 2-D float32/float16/uint8/int8 array, or a vector file's path) into "
        "directory `path`. progress(done, total, phase) is called through the build; an exception it raises "
        "cancels the build and is raised again. attributes: {name: column} for filtered search, a column one "
        "value per row: a 1-D integer array (int), a 1-D float array (float) or a sequence of integer lists "
        "(labels).");
  m.def("open", &Open, py::arg("path"), py::arg("memory_mb") = 64.0, py::arg("max_searchers") = 0,
        "Opens the index in `path`, its buffer pools sized to memory_mb between them (like shared_buffers).");
  m.def("open_writer", &OpenWriter, py::arg("path"), py::arg("memory_mb") = 64.0, py::arg("max_searchers") = 0,
        py::arg("sync_on_append") = true, py::arg("delta_memory_mb") = 256.0,
        py::arg("auto_reindex_at") = vx::WriterOptions{}.auto_reindex_at,
        "Opens the index in `path` for writing as well: it searches like vx.open's and sees every write; "
        "index.insert(keys, vectors), index.upsert(keys, vectors), index.delete(keys) and index.checkpoint() write. "
        "Holds the directory until closed (a second writer or a "
        "build raises BusyError). sync_on_append=False acknowledges writes before fsync (synchronous_commit = off); "
        "delta_memory_mb bounds the RAM of the rows inserted since the build (MemoryError past it); once they "
        "hold auto_reindex_at of it the writer vacuums in the background, merging them into the graph (0: never).");
  m.def(
      "reindex",
      [](const py::object& path, int threads) {
        vx::BuildOptions o;
        o.threads = threads;
        const std::string dir = PathOf(path);
        vx::Status s;
        {
          py::gil_scoped_release release;
          s = vx::Reindex(dir, o);
        }
        Check(s);
      },
      py::arg("path"), py::kw_only(), py::arg("threads") = 0,
      "Rebuilds the index in `path` from its own live rows (REINDEX): deleted rows reclaimed, inserted ones "
      "linked in, the WAL emptied. BusyError while a writer is open.");
  m.def("verify", &Verify, py::arg("path"),
        "Checks every file and page of the index in `path`; returns the problems found (empty when whole).");

  m.def(
      "snapshot",
      [](const py::object& path, const py::object& archive, int level, const py::object& progress) {
        const std::string dir = PathOf(path), out = PathOf(archive);
        return RunArchiveJob(progress, level, [&](const vx::SnapshotOptions& o) { return vx::Snapshot(dir, out, o); });
      },
      py::arg("path"), py::arg("archive"), py::kw_only(), py::arg("level") = 3, py::arg("progress") = py::none(),
      "Writes the committed index in `path` to one zstd-compressed, checksummed archive; returns what it wrote.");
  m.def(
      "restore",
      [](const py::object& archive, const py::object& path, const py::object& progress) {
        const std::string in = PathOf(archive), dir = PathOf(path);
        return RunArchiveJob(progress, 3, [&](const vx::SnapshotOptions& o) { return vx::Restore(in, dir, o); });
      },
      py::arg("archive"), py::arg("path"), py::kw_only(), py::arg("progress") = py::none(),
      "Restores an archive into `path`, beside or over an index, committed only when the archive checks out.");

  py::class_<PyIndex>(m, "Index")
      .def("search", &PyIndex::Search, py::arg("queries"), py::kw_only(), py::arg("k") = 10, py::arg("ef_search") = 40,
           py::arg("probes") = 1, py::arg("rerank") = 0, py::arg("beam") = 4, py::arg("threads") = 1,
           py::arg("return_stats") = false, py::arg("filter") = py::none(),
           "(D, I): float32 distances and int64 keys of shape (n, k), nearest first; -1 and inf past the rows "
           "found. With return_stats, (D, I, stats): per-query counters, one array each (filter_scans, "
           "filter_walks: the plan a filtered query ran). filter: an expression over the attributes, e.g. "
           "\"tenant_id = 42 AND tags HAS 7\", for every query, or a list of one per query.")
      .def("insert", &PyIndex::Insert, py::arg("keys"), py::arg("vectors"), py::arg("attributes") = py::none(),
           "Inserts rows: `keys` (1-D int64) get `vectors` (float32, (len(keys), dim)) and `attributes` ({name: "
           "column} as build() takes them, one value per key; every column of an index built with attributes, "
           "none for one without), searchable and durable when it returns; the whole batch or, when a key is live "
           "or repeats, a vector has a NaN or a column is missing or mistyped, none of it (ValueError naming the "
           "key or the column).")
      .def("upsert", &PyIndex::Upsert, py::arg("keys"), py::arg("vectors"), py::arg("attributes") = py::none(),
           "insert, replacing the rows of keys that are live.")
      .def("delete", &PyIndex::Delete, py::arg("keys"),
           "Deletes the rows of `keys` (1-D int64), durable when it returns; the whole batch or, when a key does "
           "not exist, is already deleted or repeats, none of it (KeyError / ValueError naming the key).")
      .def("checkpoint", &PyIndex::Checkpoint, "Folds the write-ahead log into a segment committed with the manifest.")
      .def(
          "reindex", [](PyIndex& self, int threads) { self.Rebuild(threads, false); }, py::kw_only(),
          py::arg("threads") = 0,
          "Rebuilds the index from its live rows while writes and searches go on from other threads "
          "(REINDEX CONCURRENTLY); the writes made meanwhile are carried into the new generation (writers only).")
      .def(
          "vacuum", [](PyIndex& self, int threads) { self.Rebuild(threads, true); }, py::kw_only(),
          py::arg("threads") = 0,
          "Reclaims the deleted rows and links the inserted ones in from the index's own graph (VACUUM), beside "
          "writes and searches as reindex(); `threads` bounds the CPU it takes (writers only).")
      .def("__contains__", &PyIndex::Contains, py::arg("key"), "Whether `key` is a live row (writers only).")
      .def("prewarm", &PyIndex::Prewarm, "Reads the structure pages into the pool; returns the pages it holds.")
      .def("close", &PyIndex::Close)
      .def(
          "__enter__", [](PyIndex& self) -> PyIndex& { return self; }, py::return_value_policy::reference)
      .def("__exit__", [](PyIndex& self, py::args) { self.Close(); })
      .def_property_readonly("info", &PyIndex::Info)
      .def_property_readonly("dim", [](const PyIndex& self) { return self.index().info().dim; })
      .def("__len__", [](const PyIndex& self) {
        const vx::IndexInfo i = self.writer_or_null() ? self.writer_or_null()->info() : self.index().info();
        return i.count + i.inserted - i.deleted;  // live rows
      });
}

// vx/vx.h: the C API over vx/index.h. Every entry point converts a Status to
// a vx_code plus message and lets no exception out (a failed allocation
// becomes VX_RESOURCE_EXHAUSTED).
#include "vx/vx.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "vx/index.h"

// A handle outlives vx_close as an empty shell (kept reachable in
// ClosedHandles, never reused), so that a call with a closed handle is an
// error, not a use after free.
struct vx_index {
  std::unique_ptr<vx::Index> owned;         // vx_open
  std::unique_ptr<vx::IndexWriter> writer;  // vx_open_writer
  const vx::Index* index = nullptr;         // owned, or the writer's reader; null once closed
  vx::IndexOptions options;
  vx_index_info info{};
  std::string info_strings[5];  // what info's const char* fields point at
};

namespace {

static_assert(VX_RESOURCE_EXHAUSTED == static_cast<int>(vx::StatusCode::kResourceExhausted) &&
              VX_CORRUPTION == static_cast<int>(vx::StatusCode::kCorruption) &&
              VX_IO_ERROR == static_cast<int>(vx::StatusCode::kIOError) &&
              VX_BUSY == static_cast<int>(vx::StatusCode::kBusy) &&
              VX_CANCELLED == static_cast<int>(vx::StatusCode::kCancelled));

// The first published size of each struct: smaller is a caller that never
// called the _init function.
constexpr size_t kBuildOptionsV1 = offsetof(vx_build_options, attributes);
constexpr size_t kOpenOptionsV1 = sizeof(vx_open_options);
constexpr size_t kSearchParamsV1 = offsetof(vx_search_params, filter);
constexpr size_t kIndexInfoV1 = offsetof(vx_index_info, deleted);
constexpr size_t kWriterOptionsV1 = offsetof(vx_writer_options, delta_memory_bytes);

std::mutex closed_mu;
std::vector<std::unique_ptr<vx_index>>* ClosedHandles() {
  static auto* closed = new std::vector<std::unique_ptr<vx_index>>;
  return closed;
}

vx_code Report(const vx::Status& s, vx_error* err) {
  const vx_code code = static_cast<vx_code>(s.code());
  if (err) {
    err->code = code;
    const std::string m = s.ok() ? "" : s.ToString();
    const size_t n = std::min(m.size(), sizeof(err->message) - 1);
    std::memcpy(err->message, m.data(), n);
    err->message[n] = '\0';
  }
  return code;
}

// Runs `fn` (returning a Status) with exceptions turned into statuses.
template <class Fn>
vx_code Guard(vx_error* err, Fn&& fn) {
  try {
    return Report(fn(), err);
  } catch (const std::bad_alloc&) {
    return Report(vx::Status::ResourceExhausted("out of memory"), err);
  } catch (const std::exception& e) {
    return Report(vx::Status::InvalidArgument(e.what()), err);
  }
}

vx::Status Missing(const char* what) { return vx::Status::InvalidArgument(std::string(what) + " is NULL"); }

vx::Status CheckHandle(const vx_index* index) {
  if (!index) return Missing("index");
  if (!index->index) return vx::Status::InvalidArgument("index is closed");
  return vx::Status::Ok();
}

// `given` over the defaults in *out, as far as the caller's struct_size
// reaches.
template <class T>
vx::Status Overlay(const T* given, size_t v1_size, const char* name, T* out) {
  if (!given) return vx::Status::Ok();
  if (given->struct_size < v1_size) {
    return vx::Status::InvalidArgument(std::string(name) + "->struct_size is " + std::to_string(given->struct_size) +
                                       ", not at least " + std::to_string(v1_size) + ": call " + name + "_init");
  }
  std::memcpy(static_cast<void*>(out), given, std::min(given->struct_size, sizeof(T)));
  out->struct_size = sizeof(T);
  return vx::Status::Ok();
}

vx::Status CheckWriter(const vx_index* index) {
  VX_RETURN_IF_ERROR(CheckHandle(index));
  if (!index->writer) {
    return vx::Status::InvalidArgument("index was opened read-only (vx_open); open it with vx_open_writer to write");
  }
  return vx::Status::Ok();
}

// `what` ("query", "vectors") has `given` components a row.
vx::Status CheckDim(const vx_index* index, uint32_t given, const char* what = "query") {
  const uint32_t dim = index->info.dim;  // as opened: a reindex keeps it
  if (given == dim) return vx::Status::Ok();
  return vx::Status::InvalidArgument(std::string(what) + " has " + std::to_string(given) +
                                     " components; the index has dim " + std::to_string(dim));
}

// The search parameters of `params`; its filter, parsed, into *filter
// (which p.filter then points to).
// *plans: where the caller wants each query's filter plan (NULL: nowhere).
vx::Result<vx::SearchParams> ToParams(const vx_search_params* params, std::optional<vx::Filter>* filter,
                                      vx_filter_stats** plans) {
  vx_search_params c;
  vx_search_params_init(&c);
  VX_RETURN_IF_ERROR(Overlay(params, kSearchParamsV1, "vx_search_params", &c));
  *plans = c.filter_stats;
  vx::SearchParams p{c.k, c.rerank, c.ef_search, c.beam, c.probes};
  if (c.filter) {
    VX_ASSIGN_OR_RETURN(*filter, vx::Filter::Parse(c.filter));
    p.filter = &**filter;
  }
  return p;
}

// The columns of a vx_build_options, checked as far as C can be.
vx::Result<vx::Attributes> ToAttributes(const vx_attribute_column* columns, uint32_t count) {
  vx::Attributes a;
  if (count > 0 && !columns) return Missing("attributes");
  for (uint32_t i = 0; i < count; ++i) {
    const vx_attribute_column& c = columns[i];
    const std::string which = "attributes[" + std::to_string(i) + "]";
    if (!c.name) return Missing((which + ".name").c_str());
    vx::AttributeColumn col;
    col.name = c.name;
    const std::string type = c.type ? c.type : "";
    const auto need = [&](const void* p, const char* field) {
      return p || c.rows == 0 ? vx::Status::Ok() : Missing((which + "." + field + " ('" + col.name + "')").c_str());
    };
    if (type == "int") {
      col.type = vx::AttributeType::kInt;
      VX_RETURN_IF_ERROR(need(c.ints, "ints"));
      if (c.rows) col.ints.assign(c.ints, c.ints + c.rows);
    } else if (type == "float") {
      col.type = vx::AttributeType::kFloat;
      VX_RETURN_IF_ERROR(need(c.floats, "floats"));
      if (c.rows) col.floats.assign(c.floats, c.floats + c.rows);
    } else if (type == "labels") {
      col.type = vx::AttributeType::kLabels;
      if (!c.offsets) return Missing((which + ".offsets ('" + col.name + "')").c_str());
      col.offsets.assign(c.offsets, c.offsets + c.rows + 1);
      if (col.offsets.back() > 0) {
        VX_RETURN_IF_ERROR(need(c.labels, "labels"));
        col.labels.assign(c.labels, c.labels + col.offsets.back());
      }
    } else {
      return vx::Status::InvalidArgument(which + " ('" + col.name + "'): type is '" + type +
                                         "', not \"int\", \"float\" or \"labels\"");
    }
    a.columns.push_back(std::move(col));
  }
  return a;
}

// vx_insert and vx_upsert, with attributes or without (count 0).
vx::Status WriteRows(vx_index* index, const int64_t* keys, const float* vectors, uint64_t n, uint32_t dim,
                     const vx_attribute_column* columns, uint32_t count, bool upsert) {
  VX_RETURN_IF_ERROR(CheckWriter(index));
  if (n > 0 && (!keys || !vectors)) return Missing(keys ? "vectors" : "keys");
  VX_RETURN_IF_ERROR(CheckDim(index, dim, "vectors"));
  VX_ASSIGN_OR_RETURN(const vx::Attributes attributes, ToAttributes(columns, count));
  return upsert ? index->writer->Upsert(keys, vectors, n, attributes)
                : index->writer->Insert(keys, vectors, n, attributes);
}

void ToStats(const vx::SearchStats& s, vx_search_stats* out) {
  *out = vx_search_stats{s.structure_pages, s.structure_reads, s.vector_pages,    s.vector_reads,
                         s.round_trips,     s.codes_scored,    s.vectors_reranked};
}

void ToPlan(const vx::SearchStats& s, vx_filter_stats* out) {
  *out = vx_filter_stats{s.filter_rows,  s.filter_scan_limit, s.filter_scans,
                         s.filter_walks, s.filter_fallbacks,  s.delta_rows_scanned};
}

// Runs `build` (a build or a reindex into `dir`; "" for a writer's) with
// the options of `options`, its progress callback able to cancel it.
vx::Status WithBuildOptions(const char* dir, const vx_build_options* options,
                            const std::function<vx::Status(const vx::BuildOptions&)>& build) {
  if (!dir) return Missing("dir");
  vx_build_options c;
  vx_build_options_init(&c);
  VX_RETURN_IF_ERROR(Overlay(options, kBuildOptionsV1, "vx_build_options", &c));
  vx::BuildOptions o;
  VX_ASSIGN_OR_RETURN(o.type, vx::ParseIndexType(c.type ? c.type : "hnsw"));
  VX_ASSIGN_OR_RETURN(o.metric, vx::ParseMetric(c.metric ? c.metric : "l2"));
  VX_ASSIGN_OR_RETURN(o.storage, vx::ParseElementType(c.storage ? c.storage : "f32"));
  o.m = c.m;
  o.ef_construction = c.ef_construction;
  o.lists = c.lists;
  o.replicas = c.replicas;
  o.quant = c.quant ? c.quant : "auto";
  o.threads = c.threads;
  o.build_memory_bytes = c.build_memory_bytes;
  o.serve_memory_bytes = c.serve_memory_bytes;
  if (c.keys) o.keys.assign(c.keys, c.keys + c.key_count);
  VX_ASSIGN_OR_RETURN(o.attributes, ToAttributes(c.attributes, c.attribute_count));
  std::atomic<bool> cancel{false};
  if (c.progress) {
    o.progress = [&](uint64_t done, uint64_t total, const char* phase) {
      if (c.progress(done, total, phase, c.progress_user) != 0) cancel = true;
    };
    o.cancel = &cancel;
  }
  return build(o);
}

vx::Status Build(vx::VectorSource& source, const char* dir, const vx_build_options* options) {
  return WithBuildOptions(dir, options, [&](const vx::BuildOptions& o) { return vx::BuildIndex(source, dir, o); });
}

// vx_open (writer null) and vx_open_writer.
vx_index* Open(const char* dir, const vx_open_options* options, const vx_writer_options* writer, vx_error* err) {
  vx_index* out = nullptr;
  Guard(err, [&]() -> vx::Status {
    if (!dir) return Missing("dir");
    vx_open_options c;
    vx_open_options_init(&c);
    VX_RETURN_IF_ERROR(Overlay(options, kOpenOptionsV1, "vx_open_options", &c));
    vx::IndexOptions o;
    if (c.memory_bytes) {
      VX_ASSIGN_OR_RETURN(o, vx::IndexOptionsForMemory(dir, c.memory_bytes));
    } else {
      if (c.structure_cache_bytes) o.structure_cache_bytes = c.structure_cache_bytes;
      if (c.vector_cache_bytes) o.vector_cache_bytes = c.vector_cache_bytes;
    }
    o.max_searchers = c.max_searchers;
    auto handle = std::make_unique<vx_index>();
    if (writer) {
      VX_ASSIGN_OR_RETURN(
          handle->writer,
          vx::IndexWriter::Open(dir, o,
                                vx::WriterOptions{writer->sync_on_append != 0, writer->delta_memory_bytes,
                                                  writer->auto_reindex_at, writer->auto_reindex_threads}));
      handle->index = &handle->writer->reader();
    } else {
      VX_ASSIGN_OR_RETURN(handle->owned, vx::Index::Open(dir, o));
      handle->index = handle->owned.get();
    }
    handle->options = o;
    const vx::IndexInfo& i = handle->index->info();
    std::string* str = handle->info_strings;
    str[0] = vx::IndexTypeName(i.type), str[1] = vx::MetricName(i.metric), str[2] = i.quant, str[3] = i.quant_choice,
    str[4] = vx::ElementTypeName(i.storage);
    handle->info = vx_index_info{sizeof(vx_index_info),
                                 str[0].c_str(),
                                 str[1].c_str(),
                                 str[2].c_str(),
                                 str[3].c_str(),
                                 str[4].c_str(),
                                 i.count,
                                 i.dim,
                                 i.m,
                                 i.ef_construction,
                                 i.max_level,
                                 i.lists,
                                 i.replicas,
                                 i.page_size,
                                 i.structure_bytes,
                                 i.vector_bytes,
                                 i.resident_bytes,
                                 o.structure_cache_bytes,
                                 o.vector_cache_bytes,
                                 i.generation,
                                 i.deleted,
                                 i.wal_bytes,
                                 static_cast<uint32_t>(i.segments.size()),
                                 i.inserted,
                                 i.write_bytes};
    out = handle.release();
    return vx::Status::Ok();
  });
  return out;
}

}  // namespace

extern "C" {

const char* vx_version(void) { return VX_VERSION; }

void vx_build_options_init(vx_build_options* o) {
  if (!o) return;
  const vx::BuildOptions d;
  *o = vx_build_options{};
  o->struct_size = sizeof(*o);
  o->type = "hnsw";
  o->metric = "l2";
  o->m = d.m;
  o->ef_construction = d.ef_construction;
  o->lists = d.lists;
  o->replicas = d.replicas;
  o->quant = "auto";
  o->storage = "f32";
  o->threads = d.threads;
  o->build_memory_bytes = d.build_memory_bytes;
}

void vx_open_options_init(vx_open_options* o) {
  if (!o) return;
  *o = vx_open_options{};
  o->struct_size = sizeof(*o);
}

void vx_search_params_init(vx_search_params* p) {
  if (!p) return;
  const vx::SearchParams d;
  *p = vx_search_params{sizeof(*p), d.k, d.rerank, d.ef_search, d.beam, d.probes, nullptr, nullptr};
}

vx_code vx_build(const char* base_path, const char* dir, const vx_build_options* options, vx_error* err) {
  return Guard(err, [&]() -> vx::Status {
    if (!base_path) return Missing("base_path");
    VX_ASSIGN_OR_RETURN(auto source, vx::VectorSource::FromFile(base_path));
    return Build(*source, dir, options);
  });
}

vx_code vx_build_from_array(const void* rows, const char* element_type, uint64_t count, uint32_t dim, const char* dir,
                            const vx_build_options* options, vx_error* err) {
  return Guard(err, [&]() -> vx::Status {
    if (!rows) return Missing("rows");
    if (!element_type) return Missing("element_type");
    VX_ASSIGN_OR_RETURN(const vx::ElementType type, vx::ParseElementType(element_type));
    VX_ASSIGN_OR_RETURN(auto source, vx::VectorSource::FromMemory(rows, type, count, dim));
    return Build(*source, dir, options);
  });
}

vx_code vx_reindex(const char* dir, const vx_build_options* options, vx_error* err) {
  return Guard(err, [&]() -> vx::Status {
    return WithBuildOptions(dir, options, [&](const vx::BuildOptions& o) { return vx::Reindex(dir, o); });
  });
}

vx_index* vx_open(const char* dir, const vx_open_options* options, vx_error* err) {
  return Open(dir, options, nullptr, err);
}

vx_index* vx_open_writer(const char* dir, const vx_open_options* options, const vx_writer_options* writer,
                         vx_error* err) {
  vx_writer_options w;
  vx_writer_options_init(&w);
  if (Report(Overlay(writer, kWriterOptionsV1, "vx_writer_options", &w), err) != VX_OK) return nullptr;
  return Open(dir, options, &w, err);
}

void vx_close(vx_index* index) {
  if (!index || !index->index) return;
  index->index = nullptr;
  index->writer.reset();
  index->owned.reset();
  std::lock_guard<std::mutex> lock(closed_mu);
  ClosedHandles()->emplace_back(index);
}

vx_code vx_prewarm(const vx_index* index, uint64_t* pages, vx_error* err) {
  if (pages) *pages = 0;
  return Guard(err, [&]() -> vx::Status {
    VX_RETURN_IF_ERROR(CheckHandle(index));
    VX_ASSIGN_OR_RETURN(const uint64_t n, index->index->Prewarm());
    if (pages) *pages = n;
    return vx::Status::Ok();
  });
}

vx_code vx_index_info_get(const vx_index* index, vx_index_info* info, vx_error* err) {
  return Guard(err, [&]() -> vx::Status {
    VX_RETURN_IF_ERROR(CheckHandle(index));
    if (!info) return Missing("info");
    if (info->struct_size < kIndexInfoV1) {
      return vx::Status::InvalidArgument("vx_index_info.struct_size is " + std::to_string(info->struct_size) +
                                         ", not at least " + std::to_string(kIndexInfoV1));
    }
    vx_index_info now = index->info;
    if (index->writer) {  // current: writes, and a reindex's generation
      const vx::IndexInfo i = index->writer->info();
      now.count = i.count;
      now.max_level = i.max_level;
      now.structure_bytes = i.structure_bytes;
      now.vector_bytes = i.vector_bytes;
      now.resident_bytes = i.resident_bytes;
      now.generation = i.generation;
      now.deleted = i.deleted;
      now.wal_bytes = i.wal_bytes;
      now.segments = static_cast<uint32_t>(i.segments.size());
      now.inserted = i.inserted;
      now.write_bytes = i.write_bytes;
    }
    std::memcpy(static_cast<void*>(info), &now, std::min(info->struct_size, sizeof(vx_index_info)));
    return vx::Status::Ok();
  });
}

void vx_writer_options_init(vx_writer_options* o) {
  if (!o) return;
  const vx::WriterOptions d;
  *o = vx_writer_options{sizeof(*o), d.sync_on_append ? 1 : 0, d.delta_memory_bytes, d.auto_reindex_at,
                         d.auto_reindex_threads};
}

vx_code vx_delete(vx_index* index, const int64_t* keys, uint64_t n, vx_error* err) {
  return Guard(err, [&]() -> vx::Status {
    VX_RETURN_IF_ERROR(CheckWriter(index));
    if (n > 0 && !keys) return Missing("keys");
    return index->writer->Delete(keys, n);
  });
}

vx_code vx_insert(vx_index* index, const int64_t* keys, const float* vectors, uint64_t n, uint32_t dim, vx_error* err) {
  return Guard(err, [&] { return WriteRows(index, keys, vectors, n, dim, nullptr, 0, false); });
}

vx_code vx_upsert(vx_index* index, const int64_t* keys, const float* vectors, uint64_t n, uint32_t dim, vx_error* err) {
  return Guard(err, [&] { return WriteRows(index, keys, vectors, n, dim, nullptr, 0, true); });
}

vx_code vx_insert_attrs(vx_index* index, const int64_t* keys, const float* vectors, uint64_t n, uint32_t dim,
                        const vx_attribute_column* attributes, uint32_t attribute_count, vx_error* err) {
  return Guard(err, [&] { return WriteRows(index, keys, vectors, n, dim, attributes, attribute_count, false); });
}

vx_code vx_upsert_attrs(vx_index* index, const int64_t* keys, const float* vectors, uint64_t n, uint32_t dim,
                        const vx_attribute_column* attributes, uint32_t attribute_count, vx_error* err) {
  return Guard(err, [&] { return WriteRows(index, keys, vectors, n, dim, attributes, attribute_count, true); });
}

vx_code vx_checkpoint(vx_index* index, vx_error* err) {
  return Guard(err, [&]() -> vx::Status {
    VX_RETURN_IF_ERROR(CheckWriter(index));
    return index->writer->Checkpoint();
  });
}

vx_code vx_reindex_concurrently(vx_index* index, const vx_build_options* options, vx_error* err) {
  return Guard(err, [&]() -> vx::Status {
    VX_RETURN_IF_ERROR(CheckWriter(index));
    return WithBuildOptions("", options, [&](const vx::BuildOptions& o) { return index->writer->Reindex(o); });
  });
}

vx_code vx_vacuum(vx_index* index, const vx_build_options* options, vx_error* err) {
  return Guard(err, [&]() -> vx::Status {
    VX_RETURN_IF_ERROR(CheckWriter(index));
    return WithBuildOptions("", options, [&](const vx::BuildOptions& o) { return index->writer->Vacuum(o); });
  });
}

int vx_contains(const vx_index* index, int64_t key) {
  return CheckWriter(index).ok() && index->writer->Contains(key) ? 1 : 0;
}

uint32_t vx_index_dim(const vx_index* index) { return CheckHandle(index).ok() ? index->index->info().dim : 0; }
uint64_t vx_index_count(const vx_index* index) { return CheckHandle(index).ok() ? index->index->info().count : 0; }

vx_code vx_search(const vx_index* index, const float* query, uint32_t query_dim, const vx_search_params* params,
                  int64_t* ids, float* distances, uint32_t* found, vx_search_stats* stats, vx_error* err) {
  if (found) *found = 0;
  return Guard(err, [&]() -> vx::Status {
    VX_RETURN_IF_ERROR(CheckHandle(index));
    if (!query) return Missing("query");
    if (!ids) return Missing("ids");
    VX_RETURN_IF_ERROR(CheckDim(index, query_dim));
    std::optional<vx::Filter> filter;
    vx_filter_stats* plans = nullptr;
    VX_ASSIGN_OR_RETURN(const vx::SearchParams p, ToParams(params, &filter, &plans));
    thread_local std::vector<vx::SearchResult> results;
    vx::SearchStats s;
    VX_RETURN_IF_ERROR(index->index->Search(query, p, &results, &s));
    for (size_t i = 0; i < results.size(); ++i) {
      ids[i] = results[i].key;
      if (distances) distances[i] = results[i].distance;
    }
    if (found) *found = static_cast<uint32_t>(results.size());
    if (stats) ToStats(s, stats);
    if (plans) ToPlan(s, plans);
    return vx::Status::Ok();
  });
}

vx_code vx_search_batch(const vx_index* index, const float* queries, uint64_t n, uint32_t query_dim,
                        const vx_search_params* params, int threads, int64_t* ids, float* distances, uint32_t* found,
                        vx_search_stats* stats, vx_error* err) {
  return Guard(err, [&]() -> vx::Status {
    VX_RETURN_IF_ERROR(CheckHandle(index));
    if (n == 0) return vx::Status::Ok();
    if (!queries) return Missing("queries");
    if (!ids) return Missing("ids");
    VX_RETURN_IF_ERROR(CheckDim(index, query_dim));
    std::optional<vx::Filter> filter;
    vx_filter_stats* plans = nullptr;
    VX_ASSIGN_OR_RETURN(const vx::SearchParams p, ToParams(params, &filter, &plans));
    std::vector<vx::SearchStats> s(stats || plans ? n : 0);
    const vx::Status status =
        index->index->SearchBatch(queries, n, p, threads, ids, distances, found, s.empty() ? nullptr : s.data());
    for (size_t i = 0; i < s.size(); ++i) {
      if (stats) ToStats(s[i], &stats[i]);
      if (plans) ToPlan(s[i], &plans[i]);
    }
    return status;
  });
}

vx_code vx_snapshot(const char* dir, const char* archive, int level, vx_error* err) {
  return Guard(err, [&]() -> vx::Status {
    if (!dir) return Missing("dir");
    if (!archive) return Missing("archive");
    vx::SnapshotOptions o;
    if (level) o.level = level;
    return vx::Snapshot(dir, archive, o).status();
  });
}

vx_code vx_restore(const char* archive, const char* dir, vx_error* err) {
  return Guard(err, [&]() -> vx::Status {
    if (!archive) return Missing("archive");
    if (!dir) return Missing("dir");
    return vx::Restore(archive, dir).status();
  });
}

vx_code vx_verify(const char* dir, uint64_t* problems, char* report, size_t report_size, vx_error* err) {
  if (problems) *problems = 0;
  if (report && report_size) report[0] = '\0';
  return Guard(err, [&]() -> vx::Status {
    if (!dir) return Missing("dir");
    VX_ASSIGN_OR_RETURN(const vx::VerifyReport r, vx::Index::Verify(dir));
    if (problems) *problems = r.problems.size();
    std::string lines;
    for (const std::string& p : r.problems) lines += p + "\n";
    if (report && report_size) {
      const size_t n = std::min(lines.size(), report_size - 1);
      std::memcpy(report, lines.data(), n);
      report[n] = '\0';
    }
    if (r.ok()) return vx::Status::Ok();
    return vx::Status::Corruption(dir + std::string(": ") + std::to_string(r.problems.size()) +
                                  " problem(s), the first: " + r.problems[0]);
  });
}

}  // extern "C"

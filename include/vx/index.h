// The public index API: build an index directory from a vector source (a
// file, or rows in memory), open it, search it; results are the rows' keys.
// Library first: vxctl is a thin layer over this header.
//
// Thread-safety: an opened Index may be searched from any number of threads
// at once. Build is single-call (it uses `threads` threads internally).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vx/status.h"
#include "vx/types.h"

#pragma GCC visibility push(default)  // libvx.so exports what this header declares
namespace vx {

class Env;

enum class IndexType { kHnsw, kIvf };
const char* IndexTypeName(IndexType t);  // "hnsw", "ivf"
Result<IndexType> ParseIndexType(const std::string& s);

// The rows a build reads, in order: a vector file or the caller's memory.
// Row i gets key keys[i] (BuildOptions::keys), or i when none are given.
class VectorSource {
 public:
  // A vector file (.fvecs .bvecs .fbin .u8bin .i8bin .npy), streamed.
  static Result<std::unique_ptr<VectorSource>> FromFile(const std::string& path);
  // `count` rows of `dim` floats at `rows`, borrowed (not copied): they must
  // stay valid and unchanged until the build returns. NaN and Inf are
  // refused as they are read, naming the row.
  static Result<std::unique_ptr<VectorSource>> FromMemory(const float* rows, uint64_t count, uint32_t dim);
  // The same for rows of any element type (f16: IEEE binary16), converted
  // to floats as they are read.
  static Result<std::unique_ptr<VectorSource>> FromMemory(const void* rows, ElementType type, uint64_t count,
                                                          uint32_t dim);
  virtual ~VectorSource() = default;
  virtual uint64_t count() const = 0;
  virtual uint32_t dim() const = 0;
  virtual const std::string& name() const = 0;  // for messages: the path, or "memory"
  // Reads the next min(max_rows, rows left) rows as floats into `out`;
  // returns how many (0 at the end).
  virtual Result<size_t> Read(size_t max_rows, float* out) = 0;
  virtual Status Rewind() = 0;  // back to row 0
};

// Attributes: typed values per row (a tenant id, a timestamp, a price, a
// set of tags) that a filter (below) selects rows by. Given at the build,
// in source order; stored with the index, checksummed, in RAM once open
// (IndexInfo::attribute_bytes).
enum class AttributeType { kInt, kFloat, kLabels };
const char* AttributeTypeName(AttributeType t);  // "int", "float", "labels"

struct AttributeColumn {
  std::string name;  // [A-Za-z_][A-Za-z0-9_]*, distinct
  AttributeType type = AttributeType::kInt;
  std::vector<int64_t> ints;   // kInt: one value per row
  std::vector<double> floats;  // kFloat: one value per row (finite)
  // kLabels: row i's labels are labels[offsets[i] .. offsets[i + 1]);
  // offsets has rows + 1 entries, from 0.
  std::vector<uint64_t> offsets;
  std::vector<int64_t> labels;
};

struct Attributes {
  std::vector<AttributeColumn> columns;
  bool empty() const { return columns.empty(); }
  // The rows the columns hold; InvalidArgument naming the column when one
  // is malformed (a bad name, a repeated name, a NaN, offsets that do not
  // rise) or its row count differs from the first's.
  Result<uint64_t> Rows() const;
  // One JSON object per line, one line per row in base order, for example
  //   {"tenant_id": 42, "created_at": 1700000000, "price": 19.5, "tags": [3, 7]}
  // The first line fixes the columns: a number is a numeric column, an
  // array of integers a labels column. A numeric column is int (int64,
  // exact) when every value is an integer, float when any has a fraction or
  // exponent. A line with a column missing, a column the first has not, a
  // value of the wrong type or malformed JSON is refused, naming the line
  // and the column.
  static Result<Attributes> ReadJsonl(const std::string& path);
  // The columns of a directory of .npy files, one a column, for large sets:
  // NAME.npy, 1-D, one value per row: int32/int64/uint32/uint64 an int
  // column, float32/float64 a float column; a labels column is two files,
  // NAME.offsets.npy (rows + 1 integers from 0, rising) and
  // NAME.labels.npy (the labels, int). Columns in name order; errors name
  // the file.
  static Result<Attributes> ReadNpyDir(const std::string& dir);
  // Rows [first, first + n) of every column (none: none), for a batch of
  // an insert.
  Attributes Slice(uint64_t first, uint64_t n) const;
};

// A filter expression over attributes, as in SQL's WHERE:
//   tenant_id = 42 AND created_at >= 1700000000 AND (price < 20 OR tags HAS 7)
// Comparisons =, !=, <, <=, >, >= and BETWEEN a AND b (inclusive) on int
// and float columns; col IN (v, ...) and col NOT IN (...); labels HAS v
// (the row's labels include v); AND, OR, NOT and parentheses. Keywords
// are case-insensitive. Parse checks the syntax only (InvalidArgument
// pointing at the character); a search checks the columns against the
// index's (InvalidArgument naming the column and its character).
class Filter {
 public:
  static Result<Filter> Parse(const std::string& text);
  const std::string& text() const { return text_; }
  struct Node;  // the parsed expression (index/filter.h)
  const Node& root() const { return *root_; }

 private:
  std::string text_;
  std::shared_ptr<const Node> root_;
};

// What a build needs. Defaults are pgvector's (HNSW: m = 16,
// ef_construction = 64; IVF: lists = rows/1000 up to 1M rows, sqrt(rows) above).
struct BuildOptions {
  IndexType type = IndexType::kHnsw;
  Metric metric = Metric::kL2;
  // HNSW
  uint32_t m = 16;  // neighbours per node on upper layers; 2*m on layer 0
  uint32_t ef_construction = 64;
  // IVF
  uint32_t lists = 0;     // 0: pgvector's rule
  uint32_t replicas = 0;  // extra lists a boundary vector may also go to (SPANN's closure rule)
  // Both
  // Codes: HNSW keeps them in RAM, IVF on its list pages. f16 | sq8 | pq:M |
  // pq4:M | rabitq[:B] | auto: the most accurate of sq8, rabitq:4, :2, :1
  // whose memory, beside the structure a search walks, fits
  // serve_memory_bytes, checked on a sample (IndexInfo::quant_choice says
  // what it chose and why).
  std::string quant = "auto";
  uint64_t serve_memory_bytes = 0;          // the memory the index will be served with; 0: this machine's (or cgroup's)
  ElementType storage = ElementType::kF32;  // full vectors on SSD: f32 or f16 (halfvec)
  int threads = 0;                          // 0: all cores
  // HNSW holds the base vectors and the graph in memory and refuses, before
  // reading any vector, when that would exceed this budget (building larger
  // than RAM is not implemented for HNSW yet). IVF streams the base and
  // sizes its sample, blocks and list passes to fit the budget, refusing
  // only when not even the centroids and one block fit.
  uint64_t build_memory_bytes = 8ull << 30;
  size_t page_size = 4096;  // raised to fit one full vector per page
  bool reorder = true;      // HNSW: renumber nodes in BFS order for page locality
  uint64_t seed = 42;
  // The key of each row, in source order (distinct); empty: the row number.
  std::vector<int64_t> keys;
  // Each row's attributes, in source order (none: no filters); refused,
  // naming the column, unless they hold one value per row.
  Attributes attributes;
  // Called with (done, total, phase) through every phase (reading, training
  // the codes and k-means, graph inserts or list assignment, writing), from
  // one thread at a time. Optional.
  std::function<void(uint64_t, uint64_t, const char*)> progress;
  // Set (from any thread) to stop the build: it returns Cancelled at its
  // next progress point, leaves no file behind, and the index already in
  // the directory stays as it was. Optional.
  const std::atomic<bool>* cancel = nullptr;
  Env* env = nullptr;  // nullptr: the default (io_uring or pread) Env
};

// Builds an index of the vectors in `base_path` into directory `dir`
// (created if missing). An index already in `dir` is replaced only when the
// new one's manifest is committed, the build's last step: until then it
// opens and serves as before, and a failed or crashed build leaves it whole
// (an index opened before keeps serving it until it is opened again).
// Busy when another build is writing `dir`; NoSpace, before any compute,
// when the file system has less free space than a lower bound of what the
// build writes (the vectors file and the codes at least); InvalidArgument
// naming the row when a key repeats; Cancelled when options.cancel was set.
Status BuildIndex(VectorSource& source, const std::string& dir, const BuildOptions& options);
// The same from the vector file at `base_path`.
Status BuildIndex(const std::string& base_path, const std::string& dir, const BuildOptions& options);
// A build's costs, predicted before it runs (vxctl plan), from a
// calibration build of the source's first rows with the same options
// (codes, threads, attributes; "auto" given the serving memory scaled to
// the sample; IVF's times with the whole build's lists, its sizes from a
// second build with the sample's own) in directories it removes after,
// scaled to the whole source. File sizes and resident memory scale
// linearly (HNSW's graph by rows x log rows); each build phase's time by
// its type's cost model (HNSW inserts by rows x log rows, IVF k-means by
// its training rows, the rest linearly); for HNSW a second calibration of
// half the rows measures how much faster than that its time per row grows.
// The build's peak memory and least budget come from the build's own
// memory model, the one it refuses by.
struct PlanOptions {
  // The calibration build's rows; 0: at least 20,000 (HNSW: and 64 MiB of
  // vectors, past the CPU's caches; IVF: and 4 a list).
  uint64_t sample_rows = 0;
  std::string scratch_dir;  // where the calibration builds go (new directories in it); empty: /var/tmp
};
struct BuildPlan {
  uint64_t count = 0;
  uint32_t dim = 0;
  uint64_t sample_rows = 0;
  double sample_seconds = 0;  // the calibration builds' time
  std::string quant;          // the codes the build would choose
  std::string quant_choice;   // why, when "auto" chose them
  double build_seconds = 0;   // predicted on this machine, at the options' threads
  // The memory the build holds at its peak, beside the process's own, and
  // the least build_memory_bytes it accepts (below it, it is refused before
  // any work).
  uint64_t build_memory_bytes = 0;
  uint64_t least_build_memory_bytes = 0;
  uint64_t disk_bytes = 0;  // the index's files
  uint64_t structure_bytes = 0, vector_bytes = 0;
  // Always in RAM when served (IndexInfo::resident_bytes): the least
  // serving memory; a search walks resident + a share of the structure.
  uint64_t resident_bytes = 0;
  uint64_t attribute_bytes = 0;  // counted in resident_bytes
};
Result<BuildPlan> PlanBuild(const std::string& base_path, const BuildOptions& options, const PlanOptions& plan = {});

// IndexWriter::Reindex of the index in `dir` by a writer opened for it
// (Busy while another IndexWriter holds the directory).
Status Reindex(const std::string& dir, const BuildOptions& options);

// The index's structure pages are what a search walks or scans before the
// rerank: HNSW's graph pages, IVF's list pages. They are one page class of
// the buffer pool; vector pages are the other.
//
// Each class's pool holds at most its file (a larger budget is cut to it),
// and its memory is taken as pages are first read, not at open. A class
// smaller than its file is shared out so that every search makes progress:
// a search holds at most 1 / (max_searchers + 1) of the class at once (the
// extra share is a prewarm's), and Open refuses, with the figure needed, a
// budget that leaves a share below one page.
struct IndexOptions {
  // Buffer pool budget for structure pages.
  uint64_t structure_cache_bytes = 64ull << 20;
  uint64_t vector_cache_bytes = 16ull << 20;  // buffer pool budget for vector pages
  // Searches that may run at once on this index (1..4096); 0: the
  // machine's hardware threads. More may run, but then a search can fail
  // with ResourceExhausted when every frame of a class is pinned.
  uint32_t max_searchers = 0;
  Env* env = nullptr;
};

struct SearchParams {
  uint32_t k = 10;
  uint32_t rerank = 0;      // candidates reranked by exact distance; 0: the default (Index::RerankDepth)
  uint32_t ef_search = 40;  // HNSW
  uint32_t beam = 4;        // HNSW: graph nodes expanded per step (their missing pages read as one batch)
  uint32_t probes = 1;      // IVF: lists scanned (all their missing pages read as one batch)
  // Only rows the filter matches (nullptr: every row); borrowed for the
  // search. A search returns min(k, matching rows) results, by one of two
  // plans chosen per query from the exact count of matching rows
  // (SearchStats says which and why): a scan of the matching rows when they
  // are few enough that it costs less than the walk would (HNSW: scored by
  // code, then reranked; IVF: read and compared exactly), else the index's
  // walk admitting only matching rows (HNSW: routing through the others
  // until ef_search matches are found; IVF: probes scaled by 1 /
  // selectivity, then widened until k are found). Rows inserted after the
  // build are matched by the values they were inserted with and scored
  // exactly beside the plan.
  const Filter* filter = nullptr;
};

struct SearchResult {
  int64_t key;     // the row's key (BuildOptions::keys; by default its row in the source)
  float distance;  // exact distance (vx/types.h semantics)
};

// Per-query I/O counters.
struct SearchStats {
  uint64_t structure_pages = 0, structure_reads = 0;  // structure pages pinned / read from SSD
  uint64_t vector_pages = 0, vector_reads = 0;
  uint64_t round_trips = 0;  // read submissions waited on
  uint64_t codes_scored = 0;
  // Candidates whose full vectors were read and compared: at most the rerank
  // depth, fewer where the codes' error bound (RaBitQ) ruled some out.
  uint64_t vectors_reranked = 0;
  // IVF: lists scanned beyond `probes` because those probed held fewer than
  // k rows that are not deleted.
  uint64_t lists_widened = 0;
  // Rows inserted since the build, scored exactly beside the index.
  uint64_t delta_rows_scanned = 0;
  // Filtered searches: the rows the filter matched (less the deleted), the
  // most matching rows the scan plan takes (past it the walk costs less),
  // and which plan ran (one a query): the scan of the matching rows or the
  // walk; filter_fallbacks counts the walks that found fewer than k and
  // ended in the scan.
  uint64_t filter_rows = 0, filter_scan_limit = 0;
  uint64_t filter_scans = 0, filter_walks = 0, filter_fallbacks = 0;
  void Add(const SearchStats& o);
};

// A segment of an index: a delta on top of the base generation (inserted
// rows, tombstones, attributes), committed with the manifest.
struct SegmentInfo {
  uint64_t id = 0;
  std::string kind;
  uint64_t bytes = 0;  // its files' sizes, summed
};

struct IndexInfo {
  IndexType type = IndexType::kHnsw;
  std::string quant;
  std::string quant_choice;  // what "auto" chose and why; empty when the build named its codes
  Metric metric = Metric::kL2;
  ElementType storage = ElementType::kF32;
  uint64_t count = 0;
  uint32_t dim = 0;
  uint32_t m = 0, ef_construction = 0, max_level = 0;  // HNSW
  uint32_t lists = 0, replicas = 0;                    // IVF
  uint64_t entries = 0;                                // IVF: list entries (count plus replicas)
  size_t page_size = 0;
  uint64_t structure_bytes = 0, vector_bytes = 0;  // on disk: structure (graph / lists) and vectors files
  // Always in RAM (HNSW: codes, upper layers, keys; IVF: centroids, list
  // directory, keys).
  uint64_t resident_bytes = 0;
  uint64_t generation = 0;            // the committed base generation
  std::vector<SegmentInfo> segments;  // on top of it, oldest first
  // The writes since the build, as of the open (IndexWriter::info() is
  // current): rows inserted (on top of the `count` built), rows deleted
  // (tombstones, of built and inserted rows; never returned), the RAM they
  // hold (tombstones, inserted keys and vectors) and the bytes of the
  // write-ahead log not yet checkpointed. Live rows: count + inserted -
  // deleted.
  uint64_t inserted = 0;
  uint64_t deleted = 0;
  uint64_t write_bytes = 0;
  uint64_t wal_bytes = 0;
  // The attribute columns (name, type) and the RAM their values and
  // indexes hold (also counted in resident_bytes); none: no filters.
  std::vector<std::pair<std::string, AttributeType>> attributes;
  uint64_t attribute_bytes = 0;
};

// Options whose buffer pool budgets add up to `memory_bytes`, split between
// the page classes of the index in `dir`: the structure class gets what its
// whole file needs, up to 3/4, since searches revisit it; vector pages, read
// about once per query, get the rest.
Result<IndexOptions> IndexOptionsForMemory(const std::string& dir, uint64_t memory_bytes, Env* env = nullptr);

// A snapshot: the committed generation of an index as one archive, the way
// to ship an index to a replica or a backup (pg_basebackup for vx). Its
// files are zstd-compressed in checksummed frames, streamed (memory stays
// a few MB whatever the index's size); format in docs/format.md.
struct SnapshotOptions {
  int level = 3;  // zstd level, 1..22
  // Called with (bytes done, total bytes, "snapshot" | "restore"). Optional.
  std::function<void(uint64_t, uint64_t, const char*)> progress;
  const std::atomic<bool>* cancel = nullptr;  // set to stop: Cancelled, nothing left behind
  Env* env = nullptr;
};
struct SnapshotInfo {
  uint64_t generation = 0;  // Snapshot: the generation archived; Restore: the one committed in dir
  uint64_t files = 0;
  uint64_t bytes = 0;          // the files' bytes
  uint64_t archive_bytes = 0;  // the archive's
};
// Writes the committed generation of the index in `dir` to `archive`,
// while the index serves and a rebuild may commit (the files it opened stay
// readable). Each file's bytes are checked against the manifest's checksum
// as they are read: a damaged index gives Corruption, not an archive. The
// archive appears only when whole (written as archive.tmp, then renamed).
Result<SnapshotInfo> Snapshot(const std::string& dir, const std::string& archive, const SnapshotOptions& options = {});
// Restores `archive` into `dir`, beside or over an index there: as a new
// generation committed only once every frame and every file's checksum has
// been checked, so a corrupt or truncated archive (Corruption, naming the
// offset) or a failed write leaves `dir` as it was. Busy while a build
// writes `dir`.
Result<SnapshotInfo> Restore(const std::string& archive, const std::string& dir, const SnapshotOptions& options = {});

// What Index::Verify found: every problem, one line each, naming the file
// (and page); empty when the index is whole.
struct VerifyReport {
  uint64_t files = 0;  // files checked (size and whole checksum)
  uint64_t pages = 0;  // pages read and checked one by one
  std::vector<std::string> problems;
  bool ok() const { return problems.empty(); }
};

class Index {
 public:
  // Checks the committed index in `dir` through and through, as PostgreSQL's
  // pg_amcheck does: every file the manifest lists against its size and
  // whole checksum, every page of the paged files (header, number, type,
  // checksum), then the open's own cross-checks. Reports each problem
  // instead of stopping at the first. An error Status only when `dir` holds
  // no readable manifest (there is nothing to check against).
  static Result<VerifyReport> Verify(const std::string& dir, Env* env = nullptr);
  // Opens the index's committed generation. An index stays usable while a
  // build replaces it in `dir` (it keeps the files it opened); open it again
  // to serve the new generation.
  static Result<std::unique_ptr<Index>> Open(const std::string& dir, const IndexOptions& options);
  virtual ~Index() = default;
  // As of now: a writer's reader serves the generation its last reindex made.
  virtual IndexInfo info() const = 0;
  // The keys of the k nearest neighbours of `query` (dim floats), nearest first.
  virtual Status Search(const float* query, const SearchParams& params, std::vector<SearchResult>* out,
                        SearchStats* stats) const = 0;
  // `n` queries of dim floats at `queries` (row-major) on `threads` threads
  // (0: all cores). Query i's keys and distances go to keys[i*k ..] and
  // distances[i*k ..] (n*k each), places past its found[i] results set to
  // -1 and +infinity; `distances`, `found` (n) and `stats` (n, one per
  // query) may be null. `filters`: one per query, query i searched with
  // filters[i] in place of params.filter (empty: params.filter for all).
  // Returns the first failing query's error, naming it.
  Status SearchBatch(const float* queries, uint64_t n, const SearchParams& params, int threads, int64_t* keys,
                     float* distances, uint32_t* found, SearchStats* stats, std::span<const Filter> filters = {}) const;
  // The number of candidates a search with `params` reranks: `rerank` when
  // set, else HNSW's ef_search and IVF's max(100, 25 x probes), probes clamped
  // to the lists; never fewer than k. Under codes with an error bound (RaBitQ)
  // the candidates it rules out of the k nearest are not read
  // (SearchStats::vectors_reranked counts those that are). IVF's grows with
  // probes because the rows scanned, and so the code rank of the true
  // neighbours, grow with probes: a fixed 100 capped recall at 0.994 from
  // probes 8 on (pq:32, docs/BENCHMARKS.md).
  virtual uint32_t RerankDepth(const SearchParams& params) const = 0;
  // Reads the structure pages (HNSW graph, IVF lists) into the buffer pool,
  // as many as structure_cache_bytes holds, from the file's start on (HNSW's
  // node order puts the entry point's neighbourhood first), in batches of
  // up to 256 pages: pgvector's pg_prewarm for the index, so that the first
  // queries after an open do not each pay a round trip per graph step.
  // Returns the structure pages it left in the pool (read now or found
  // there). May run while searches run.
  virtual Result<uint64_t> Prewarm() const = 0;
};

struct WriterOptions {
  // true: a write returns once its WAL record is on disk (fdatasync; writers
  // that arrive during a sync share the next one). false: once it is
  // written to the OS, like PostgreSQL's synchronous_commit = off: a crash
  // of the process loses nothing, a power cut may lose the last
  // acknowledged writes (whole batches, never part of one).
  bool sync_on_append = true;
  // RAM for the rows inserted since the build (keys, float32 vectors and
  // attributes, searched exactly beside the index until a reindex folds
  // them in): a batch that would take them past it waits for a reindex
  // that runs (or that it starts, with auto_reindex_at) to fold them in;
  // refused (ResourceExhausted) when none can, or when the batch alone is
  // over it.
  uint64_t delta_memory_bytes = 256ull << 20;
  // Once the inserted rows hold this fraction of delta_memory_bytes, the
  // writer starts a vacuum of its own in the background (Vacuum, on
  // auto_reindex_threads threads: the merge of the inserted rows into the
  // graph, cheaper than a Reindex), as PostgreSQL's autovacuum starts its
  // work, so that they join the index before the delta fills: writes and
  // searches go on meanwhile. 0: never (inserts are refused once the delta
  // is full, until a Reindex or Vacuum).
  double auto_reindex_at = 0.5;
  int auto_reindex_threads = 1;
};

// The write interface of an index: rows inserted, replaced and deleted by
// key after the build, durable through a write-ahead log in
// the generation's directory, folded into segments by Checkpoint. A write
// is visible to every search of reader() that starts after it returns, and
// to every Index opened after it returns (Index::Open replays the log).
// Each batch is atomic: a refused or failed batch applies nothing, and
// after a crash a batch is there whole or not at all. When a write returns
// an I/O error its outcome is known only after the next open (the WAL
// stops, as PostgreSQL's does after a failed fsync).
//
// One writer per directory: it holds dir/LOCK until destroyed, so a second
// writer, and a build into the directory, are Busy meanwhile. A rebuild
// replaces the index and its writes with it.
//
// Thread-safety: any number of threads may search reader() while any
// number of threads write. Deletes from several threads run together and
// share the WAL's fsyncs (group commit); a checkpoint waits for the deletes
// in flight and holds new ones until it is done.
class IndexWriter {
 public:
  // Opens the committed index in `dir` for writing: replays its WAL (cutting
  // a torn tail at the last whole record) and removes the files of a
  // checkpoint that crashed before its commit.
  static Result<std::unique_ptr<IndexWriter>> Open(const std::string& dir, const IndexOptions& options,
                                                   const WriterOptions& writer = {});
  virtual ~IndexWriter() = default;
  // Inserts n rows: keys[i] gets vectors[i * dim ...] (dim: the index's)
  // and row i of `attributes`. An index built with attributes takes every
  // column of its schema (by name, in any order; an int column is taken for
  // a float one) for every row, one built without takes none.
  // InvalidArgument naming the key for a key that is live (Upsert replaces
  // it), a key repeated in the batch, a NaN or Inf component, or a zero
  // vector under cosine, and naming the column for attributes missing,
  // unknown, of another type or row count; ResourceExhausted past
  // delta_memory_bytes; Busy for a key a concurrent batch is writing.
  // Nothing of a refused batch is applied. A deleted key may be inserted
  // again.
  virtual Status Insert(const int64_t* keys, const float* vectors, uint64_t n, const Attributes& attributes) = 0;
  Status Insert(const int64_t* keys, const float* vectors, uint64_t n) {
    return Insert(keys, vectors, n, Attributes());
  }
  // Deletes the rows of n keys. NotFound naming the first key that does not
  // exist or is already deleted, InvalidArgument naming a key repeated in
  // the batch, Busy naming a key a concurrent batch is writing; nothing of
  // a refused batch is deleted.
  virtual Status Delete(const int64_t* keys, uint64_t n) = 0;
  // Insert, replacing the rows of keys that are live (the old row is
  // deleted and the new one, with its new attributes, inserted, atomically
  // with the batch).
  virtual Status Upsert(const int64_t* keys, const float* vectors, uint64_t n, const Attributes& attributes) = 0;
  Status Upsert(const int64_t* keys, const float* vectors, uint64_t n) {
    return Upsert(keys, vectors, n, Attributes());
  }
  // Folds the WAL into segments: the rows inserted since the last
  // checkpoint as a new rows segment and the tombstones as one segment,
  // committed with the manifest; then empties the WAL. Searches go on
  // meanwhile; a crash at any point leaves the acknowledged writes.
  virtual Status Checkpoint() = 0;
  // Rebuilds the index from its own live rows (built and inserted, less the
  // deleted) as a new generation, like PostgreSQL's REINDEX CONCURRENTLY:
  // the deleted rows' space is reclaimed and the inserted rows join the
  // graph or the lists (no longer scanned beside them). Writes and searches
  // go on while it builds; writes made meanwhile are carried into the new
  // generation (as its first segments), and reader() serves it from the
  // commit on, while searches that started before finish on the old one.
  // Batches and checkpoints wait only for the commit. Its type, metric,
  // codes, storage, m, ef_construction, lists, replicas, page size and keys
  // are the index's; `options` gives the rest (threads, build memory,
  // progress, cancel, env). A crash or failure before the commit leaves the
  // index as it was, every acknowledged write in it. Indexes opened before
  // serve the old generation until reopened, as after any build. Busy while
  // another reindex runs.
  virtual Status Reindex(const BuildOptions& options) = 0;
  // Reclaims the deleted rows and merges the inserted ones into the
  // structure, as Reindex does and beside the same writes and searches,
  // but from the index's own structure instead of anew: HNSW keeps each
  // live node's links and gives it, in place of each deleted neighbour, the
  // best of that one's live neighbours (bounded work per deleted neighbour,
  // no search), then inserts the rows inserted since the build (as
  // FreshDiskANN's merge). IVF reassigns nothing: its lists are rebuilt as
  // Reindex builds them. `options` as Reindex takes them (threads bound
  // the CPU it takes). Busy while a reindex or vacuum runs.
  virtual Status Vacuum(const BuildOptions& options) = 0;
  // Whether `key` names a row that is not deleted.
  virtual bool Contains(int64_t key) const = 0;
  // The reader that sees every acknowledged write.
  virtual const Index& reader() const = 0;
  // reader().info() with deleted, wal_bytes and segments as of now.
  virtual IndexInfo info() const = 0;
};

}  // namespace vx
#pragma GCC visibility pop

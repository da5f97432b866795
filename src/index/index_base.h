// IndexBase: what every index type shares once open, so that HNSW and IVF
// write it once: the manifest's shared parameters, the quantizer (codes'
// scorer), the keys, the structure and vectors files behind one buffer
// pool, prewarm, and the exact rerank that turns candidate rows into keys.
//
// A type's Open calls OpenShared, then reads its own files; its search
// finds candidate rows, admitting only those a RowCheck accepts, and hands
// them to Rerank.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/topk.h"
#include "index/index_pages.h"
#include "index/index_type.h"
#include "index/params.h"
#include "io/env.h"
#include "io/manifest.h"
#include "io/vector_file.h"
#include "io/wal.h"
#include "quant/quantizer.h"
#include "vx/index.h"

namespace vx {

inline constexpr char kVectorsFile[] = "vectors";
inline constexpr char kQuantizerFile[] = "quantizer";
// The write-ahead log of a generation's writes, in its directory (not in
// the manifest: it changes). IndexParams::checkpoint_lsn says up to which
// of its LSNs a checkpoint folded it into segments.
inline constexpr char kWalFile[] = "wal";

// The kinds of WAL record (io/wal.h's type) a write appends.
enum class LogRecordType : uint16_t {
  kDelete = 1,  // payload: the deleted rows, u32 each
  // Rows inserted, each replacing an old row or none (insert, upsert).
  // Payload: n u64, the old rows (u32 each; kNoRow: none), the keys (i64
  // each), the vectors (float32, dim each, unit length under cosine). The
  // new rows are the next n row numbers.
  kPut = 2,
};
inline constexpr uint32_t kNoRow = UINT32_MAX;

// The candidate check: a search admits a row to its results only if Admit
// says so (tombstones, filters). A rejected row may still route an HNSW walk.
// Must be thread-safe for concurrent searches.
class RowCheck {
 public:
  virtual ~RowCheck() = default;
  virtual bool Admit(uint32_t row) const = 0;
};

class Tombstones;
struct DeltaView;
class AttrIndex;

// What writes since the build have done to an index: its deleted rows and
// its inserted rows. Immutable once published.
struct WriteState {
  std::shared_ptr<const Tombstones> deleted;  // nullptr: none
  std::shared_ptr<const DeltaView> delta;     // never nullptr once published
  uint64_t rows() const;                      // base and inserted rows
};

class IndexBase : public Index {
 public:
  IndexInfo info() const final { return info_; }
  Result<uint64_t> Prewarm() const final;
  // Admits no deleted row; with p.filter, only the rows it matches, by the
  // plan the filter's match count picks (vx/index.h, SearchParams::filter).
  Status Search(const float* query, const SearchParams& p, std::vector<SearchResult>* out,
                SearchStats* stats) const final;
  // Search whose results hold only rows that `check` admits (nullptr: every
  // row): min(k, admitted rows the search reaches) results.
  virtual Status SearchChecked(const float* query, const SearchParams& p, const RowCheck* check,
                               std::vector<SearchResult>* out, SearchStats* stats) const = 0;

  // The writes as of now: the segments and the WAL's records since.
  std::shared_ptr<const WriteState> writes() const;
  // Applies the WAL's records past the last checkpoint. `read` runs the log
  // through the callback it is given (Wal::Read for a reader beside a
  // writer, Wal::Open for the writer) and fills in what it found.
  using LogReader = std::function<Status(const Wal::ReplayFn& replay, WalReplay* found)>;
  Status ReplayLog(const LogReader& read);

  IndexBase();  // out of line: AttrIndex is incomplete here
  ~IndexBase() override;

 protected:
  friend class IndexWriterImpl;
  friend class LiveRowsSource;
  void PublishWrites(std::shared_ptr<const WriteState> writes);
  // Applies one WAL record to `s` (a private copy).
  Status ApplyLogRecord(const WalRecord& r, WriteState* s) const;

  // Opens `index`, a new object of type `ops` whose files are in format
  // `format`: checks the manifest's files (sizes, head checksums) and shared
  // parameters, loads the quantizer and keys, opens the structure file
  // (pages of ops.structure_page) and the vectors file behind a pool with the
  // budgets of `o`, fills the shared fields of info_, then lets the type
  // load its own files (LoadTypeFiles).
  static Result<std::unique_ptr<Index>> Open(std::unique_ptr<IndexBase> index, const std::string& dir,
                                             const Manifest& m, const IndexOptions& o, const IndexTypeOps& ops,
                                             uint32_t format);
  // The type's own parameters and RAM-resident files, after the shared ones.
  virtual Status LoadTypeFiles(const Manifest& m) = 0;
  Status OpenShared(const std::string& dir, const Manifest& m, const IndexOptions& o, const IndexTypeOps& ops,
                    uint32_t format);
  Status CrossCheck() const;
  // What the structure file's header page records (for the type's own
  // cross-check against the manifest).
  Result<PagedFileHeader> StructureHeader() const { return pages_->ReadFileHeader(PageClass::kStructure); }
  // A file of the generation read whole and checked against the manifest's
  // checksum (files a type keeps in RAM).
  Result<std::string> ReadResident(const std::string& name) const;
  std::string FilePath(const std::string& name) const { return manifest_.FilePath(dir_, name); }

  // Per-thread buffers of Rerank, reused across queries.
  struct RerankScratch {
    std::vector<uint32_t> rows;  // the candidates: rows (vectors-file slots), nearest estimate first
    std::vector<float> lower;    // their distances' lower bounds (codes with an error bound), or empty
    std::vector<PageRef> refs;
    std::vector<PageHandle> pages;  // empty between queries: no pins held
    TopK top{1};
  };
  // The k rows of x.rows nearest to `query` by exact distance to their full
  // vectors, as keys into *out, nearest first. Counts into *stats.
  // Without bounds every candidate is read in one batch. With them (x.lower),
  // the first k are read, then only the rest whose lower bound is within the
  // k-th exact distance found: under codes that rank well, close to k
  // vectors a query instead of the rerank depth, in two batches. Reorders
  // x.rows.
  Status Rerank(const float* query, uint32_t k, RerankScratch& x, SearchStats* stats,
                std::vector<SearchResult>* out) const;

  // A filtered search's plans (SearchFiltered). The matching rows up to
  // which scanning them costs less than the walk: by default the rerank
  // depth times 4 (the scan reads each row's full vector).
  virtual uint64_t ScanLimit(const SearchParams& p) const { return 4ull * RerankDepth(p); }
  // The k nearest of `rows` (ascending) into *out: by default every row's
  // full vector read and compared.
  virtual Status ScanRows(const float* query, const SearchParams& p, std::span<const uint32_t> rows,
                          std::vector<SearchResult>* out, SearchStats* stats) const;

  Env* env_ = nullptr;
  std::string dir_;
  Manifest manifest_;
  IndexParams params_;
  IndexInfo info_;
  VectorLayout vlayout_{};
  std::unique_ptr<Quantizer> quantizer_;
  std::vector<int64_t> keys_;  // per row (vectors-file slot)
  std::unique_ptr<IndexPages> pages_;
  std::unique_ptr<AttrIndex> attrs_;  // nullptr: built without attributes

 private:
  Status LoadSegments();
  Status SearchFiltered(const float* query, const SearchParams& p, std::vector<SearchResult>* out,
                        SearchStats* stats) const;
  // Merges into *out (the index's k nearest) the inserted rows `score`
  // pushes into the top k (given the prepared query; it returns the rows
  // it scored). A template, not a std::function: no allocation a query.
  template <class Score>
  Status MergeInserted(const float* query, uint32_t k, const Score& score, std::vector<SearchResult>* out,
                       SearchStats* stats) const;
  // Sets info_'s figures of the writes `s`.
  void CountWrites(const WriteState& s);
  // (libstdc++ 12's std::atomic<std::shared_ptr> takes a lock bit of its
  // own, which TSan cannot see.)
  mutable std::mutex writes_mu_;  // held only to copy or swap the pointer
  std::shared_ptr<const WriteState> writes_;
  // Whether writes_ holds any, readable without the lock: a search of an
  // index without writes takes neither the lock nor a reference.
  std::atomic<bool> any_writes_{false};
};

// A VectorSource of the live rows of `index` with the writes `writes` (a
// state it published): built rows, then inserted ones, less the deleted, in
// row order, as floats (as stored: unit length under cosine); their keys
// into *keys, their attributes, when the index has any, into *attributes,
// their row numbers into *rows (when not null). For a rebuild of the index
// from itself (IndexWriter::Reindex, Vacuum), while later writes go on.
Result<std::unique_ptr<VectorSource>> LiveRowsOf(const IndexBase& index, std::shared_ptr<const WriteState> writes,
                                                 std::vector<int64_t>* keys, Attributes* attributes,
                                                 std::vector<uint32_t>* rows = nullptr);

// The segments `m` names, as IndexInfo lists them.
std::vector<SegmentInfo> DescribeSegments(const Manifest& m);

}  // namespace vx

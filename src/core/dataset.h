// Dataset files: streaming readers and atomic writers for
//   .fvecs .ivecs .bvecs            TEXMEX: per record int32 dim, then dim values
//   .fbin .u8bin .i8bin .ibin       big-ann: uint32 count, uint32 dim, then rows
//   .npy                            NumPy 2-D C-order <f4 <f2 |u1 |i1 <i4
// Readers stream: a file larger than RAM is read a batch at a time. Every
// malformed input is an error naming the file, the record and the problem:
// empty file, truncated record or header, a row whose dimension differs, a
// header count that disagrees with the file size, NaN or Inf in a float file,
// an unsupported dtype. Writers write "<path>.tmp.<pid>" and rename it over
// `path` only in Finish(), so no reader ever sees a half-written file.
//
// Not thread-safe: one reader or writer per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/posix.h"
#include "vx/status.h"
#include "vx/types.h"

namespace vx {

// The component type of a dataset file: the vector element types plus int32
// for id files (ground truth, results) and int64 for key files.
enum class DType : uint8_t { kF32, kF16, kU8, kI8, kI32, kI64 };
size_t DTypeSize(DType t);
const char* DTypeName(DType t);

enum class FileFormat : uint8_t { kFvecs, kIvecs, kBvecs, kFbin, kU8bin, kI8bin, kIbin, kNpy };
// From the file name's extension; InvalidArgument naming the supported ones.
Result<FileFormat> FormatFromPath(const std::string& path);

// The header of a .npy file (format versions 1 to 3), in C order (Fortran
// order is NotSupported): its dtype as written ("<f4"), its shape, and
// where its data starts. Corruption naming `path` for a malformed header.
struct NpyHeader {
  std::string descr;
  std::vector<uint64_t> shape;
  uint64_t data_offset = 0;
};
Result<NpyHeader> ReadNpyHeader(const std::string& path, int fd, uint64_t size);

struct DatasetInfo {
  FileFormat format;
  DType dtype;
  uint64_t count = 0;  // rows
  uint32_t dim = 0;    // components per row
};

// Largest dimension accepted from a file header (distrust sizes read from disk).
inline constexpr uint32_t kMaxDim = 1u << 16;

class VectorReader {
 public:
  // Opens and validates the header and the size; rows are validated as read.
  static Result<std::unique_ptr<VectorReader>> Open(const std::string& path);

  const DatasetInfo& info() const { return info_; }
  const std::string& path() const { return path_; }
  uint64_t position() const { return next_row_; }  // index of the next row Read returns

  // Reads the next min(max_rows, remaining) rows, row-major, as stored
  // (DTypeSize(dtype) bytes per component) into `out`. Returns the rows read,
  // 0 at the end. Rejects NaN/Inf in float files and dimension changes in
  // *vecs files, naming the record.
  Result<size_t> Read(size_t max_rows, void* out);
  // As Read, converting vector components to float (not for kI32 files).
  Result<size_t> ReadFloat(size_t max_rows, float* out);
  // Moves the cursor to `row` (<= count).
  Status Seek(uint64_t row);

 private:
  VectorReader() = default;
  Status ValidateRows(const void* rows, size_t n) const;
  Status DiagnoseVecsSize(uint64_t size) const;

  std::string path_;
  FileDescriptor fd_;
  DatasetInfo info_{};
  uint64_t data_offset_ = 0;   // byte offset of row 0
  uint64_t record_bytes_ = 0;  // bytes per row on disk (incl. a *vecs dim prefix)
  uint64_t next_row_ = 0;
  std::vector<uint8_t> buf_;
};

// All rows of a (small) file as float: queries, samples.
struct FloatMatrix {
  uint64_t rows = 0;
  uint32_t dim = 0;
  std::vector<float> data;
  const float* row(uint64_t i) const { return data.data() + i * dim; }
};
Result<FloatMatrix> ReadAllFloat(const std::string& path);

// All rows of an int32 id file (.ivecs / .ibin / .npy <i4): ground truth, results.
struct IdMatrix {
  uint64_t rows = 0;
  uint32_t dim = 0;
  std::vector<int32_t> data;
  const int32_t* row(uint64_t i) const { return data.data() + i * dim; }
};
Result<IdMatrix> ReadAllIds(const std::string& path);

// A file of one int64 key per row: .npy (<i8 or <i4, shape (n,) or (n, 1)),
// .ibin or .ivecs (dimension 1). InvalidArgument for any other shape.
Result<std::vector<int64_t>> ReadKeys(const std::string& path);

class VectorWriter {
 public:
  // `dtype` must be one the format can hold (fvecs/fbin: f32, bvecs/u8bin: u8,
  // i8bin: i8, ivecs/ibin: i32, npy: any).
  static Result<std::unique_ptr<VectorWriter>> Create(const std::string& path, DType dtype, uint32_t dim);
  ~VectorWriter();  // removes the temporary file unless Finish() succeeded

  // Appends n rows of dim components of the writer's dtype.
  Status Append(const void* rows, size_t n);
  // Writes the final header, fsyncs, and renames into place.
  Status Finish();
  uint64_t count() const { return count_; }

 private:
  VectorWriter() = default;
  Status Flush();

  std::string path_, tmp_path_;
  FileDescriptor fd_;
  FileFormat format_{};
  DType dtype_{};
  uint32_t dim_ = 0;
  uint64_t count_ = 0;
  uint64_t offset_ = 0;  // where the next buffered byte goes
  std::vector<uint8_t> buf_;
  bool finished_ = false;
};

// Writes a whole matrix (convenience over VectorWriter).
Status WriteMatrix(const std::string& path, DType dtype, uint32_t dim, const void* rows, uint64_t n);

}  // namespace vx

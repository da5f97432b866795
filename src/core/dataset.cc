#include "core/dataset.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <string_view>

#include "core/check.h"
#include "core/f16.h"

namespace vx {
namespace {

constexpr char kNpyMagic[] = "\x93NUMPY";
constexpr size_t kNpyHeaderBytes = 128;  // the header vx writes, padded to a fixed size
constexpr size_t kBatchBytes = 4 << 20;  // reader and writer buffer size

bool IsVecs(FileFormat f) { return f == FileFormat::kFvecs || f == FileFormat::kIvecs || f == FileFormat::kBvecs; }
bool IsBin(FileFormat f) {
  return f == FileFormat::kFbin || f == FileFormat::kU8bin || f == FileFormat::kI8bin || f == FileFormat::kIbin;
}

DType FixedDType(FileFormat f) {
  switch (f) {
    case FileFormat::kFvecs:
    case FileFormat::kFbin:
      return DType::kF32;
    case FileFormat::kIvecs:
    case FileFormat::kIbin:
      return DType::kI32;
    case FileFormat::kBvecs:
    case FileFormat::kU8bin:
      return DType::kU8;
    case FileFormat::kI8bin:
      return DType::kI8;
    case FileFormat::kNpy:
      break;
  }
  VX_CHECK(false);
  return DType::kF32;
}

const char* NpyDescr(DType t) {
  switch (t) {
    case DType::kF32:
      return "<f4";
    case DType::kF16:
      return "<f2";
    case DType::kU8:
      return "|u1";
    case DType::kI8:
      return "|i1";
    case DType::kI32:
      return "<i4";
    case DType::kI64:
      return "<i8";
  }
  return "?";
}

std::string RecordName(uint64_t row) { return "record " + std::to_string(row); }

}  // namespace

Result<NpyHeader> ReadNpyHeader(const std::string& path, int fd, uint64_t size) {
  char pre[12];
  if (size < 10) return Status::Corruption(path + ": truncated npy header");
  VX_RETURN_IF_ERROR(PreadExact(path, fd, pre, size >= 12 ? 12 : 10, 0));
  if (std::memcmp(pre, kNpyMagic, 6) != 0) return Status::Corruption(path + ": not an npy file (bad magic)");
  const uint8_t major = static_cast<uint8_t>(pre[6]);
  uint64_t header_len, prefix;
  if (major == 1) {
    header_len = static_cast<uint8_t>(pre[8]) | (static_cast<uint8_t>(pre[9]) << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) return Status::Corruption(path + ": truncated npy header");
    uint32_t len;
    std::memcpy(&len, pre + 8, 4);
    header_len = len;
    prefix = 12;
  } else {
    return Status::NotSupported(path + ": npy format version " + std::to_string(major) + " is not supported");
  }
  if (header_len > (1u << 20) || prefix + header_len > size) {
    return Status::Corruption(path + ": truncated npy header (" + std::to_string(header_len) +
                              " header bytes declared, file holds " + std::to_string(size) + ")");
  }
  std::string h(header_len, '\0');
  VX_RETURN_IF_ERROR(PreadExact(path, fd, h.data(), header_len, prefix));
  // The header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (n, d), }
  auto value_of = [&](std::string_view key) -> std::string_view {
    const size_t k = h.find(key);
    if (k == std::string_view::npos) return {};
    const size_t colon = h.find(':', k + key.size());
    if (colon == std::string_view::npos) return {};
    size_t b = colon + 1;
    while (b < h.size() && h[b] == ' ') ++b;
    return std::string_view(h).substr(b);
  };
  NpyHeader out;
  out.data_offset = prefix + header_len;
  std::string_view descr = value_of("'descr'");
  if (descr.empty() || descr[0] != '\'') return Status::Corruption(path + ": npy header has no 'descr'");
  out.descr = descr.substr(1, descr.find('\'', 1) - 1);
  const std::string_view fortran = value_of("'fortran_order'");
  if (fortran.substr(0, 4) == "True") {
    return Status::NotSupported(path + ": npy array is in Fortran order; only C order is supported");
  }
  if (fortran.substr(0, 5) != "False") return Status::Corruption(path + ": npy header has no valid 'fortran_order'");
  std::string_view shape = value_of("'shape'");
  if (shape.empty() || shape[0] != '(') return Status::Corruption(path + ": npy header has no 'shape'");
  shape = shape.substr(1, shape.find(')') - 1);
  size_t i = 0;
  while (i < shape.size()) {
    while (i < shape.size() && (shape[i] == ' ' || shape[i] == ',')) ++i;
    if (i >= shape.size()) break;
    uint64_t v = 0;
    size_t digits = 0;
    while (i < shape.size() && shape[i] >= '0' && shape[i] <= '9') {
      if (v > (UINT64_MAX - 9) / 10) return Status::Corruption(path + ": npy shape overflows");
      v = v * 10 + static_cast<uint64_t>(shape[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0) return Status::Corruption(path + ": npy shape is malformed");
    out.shape.push_back(v);
  }
  return out;
}

namespace {

// The dtype and (rows, dim) of a vectors or keys file's header.
Status NpyMatrix(const std::string& path, const NpyHeader& h, DType* dtype, uint64_t* rows, uint32_t* dim) {
  const std::string& descr = h.descr;
  if (descr == "<f4")
    *dtype = DType::kF32;
  else if (descr == "<f2")
    *dtype = DType::kF16;
  else if (descr == "|u1" || descr == "<u1")
    *dtype = DType::kU8;
  else if (descr == "|i1" || descr == "<i1")
    *dtype = DType::kI8;
  else if (descr == "<i4")
    *dtype = DType::kI32;
  else if (descr == "<i8")
    *dtype = DType::kI64;
  else {
    return Status::NotSupported(path + ": unsupported npy dtype '" + descr +
                                "' (supported: <f4 float32, <f2 float16, |u1 uint8, |i1 int8, "
                                "<i4 int32, <i8 int64)");
  }
  std::vector<uint64_t> dims = h.shape;
  // A 1-D array of ids or keys is one per row.
  if (dims.size() == 1 && (*dtype == DType::kI32 || *dtype == DType::kI64)) dims.push_back(1);
  if (dims.size() != 2) {
    return Status::NotSupported(path + ": npy array has " + std::to_string(dims.size()) +
                                " dimensions; a 2-D (rows, dim) array is required");
  }
  if (dims[1] == 0 || dims[1] > kMaxDim) {
    return Status::Corruption(path + ": npy dimension " + std::to_string(dims[1]) + " is out of range 1.." +
                              std::to_string(kMaxDim));
  }
  *rows = dims[0];
  *dim = static_cast<uint32_t>(dims[1]);
  return Status::Ok();
}

void ConvertToFloat(DType t, const void* in, size_t n, float* out) {
  switch (t) {
    case DType::kF32:
      std::memcpy(out, in, n * 4);
      return;
    case DType::kF16: {
      const auto* p = static_cast<const uint16_t*>(in);
      for (size_t i = 0; i < n; ++i) out[i] = HalfToFloat(p[i]);
      return;
    }
    case DType::kU8: {
      const auto* p = static_cast<const uint8_t*>(in);
      for (size_t i = 0; i < n; ++i) out[i] = p[i];
      return;
    }
    case DType::kI8: {
      const auto* p = static_cast<const int8_t*>(in);
      for (size_t i = 0; i < n; ++i) out[i] = p[i];
      return;
    }
    case DType::kI32:
    case DType::kI64:
      break;
  }
  VX_CHECK(false);
}

}  // namespace

size_t DTypeSize(DType t) {
  switch (t) {
    case DType::kF32:
    case DType::kI32:
      return 4;
    case DType::kI64:
      return 8;
    case DType::kF16:
      return 2;
    case DType::kU8:
    case DType::kI8:
      return 1;
  }
  return 0;
}

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kF32:
      return "float32";
    case DType::kF16:
      return "float16";
    case DType::kU8:
      return "uint8";
    case DType::kI8:
      return "int8";
    case DType::kI32:
      return "int32";
    case DType::kI64:
      return "int64";
  }
  return "?";
}

Result<FileFormat> FormatFromPath(const std::string& path) {
  const size_t dot = path.rfind('.');
  const std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
  if (ext == "fvecs") return FileFormat::kFvecs;
  if (ext == "ivecs") return FileFormat::kIvecs;
  if (ext == "bvecs") return FileFormat::kBvecs;
  if (ext == "fbin") return FileFormat::kFbin;
  if (ext == "u8bin") return FileFormat::kU8bin;
  if (ext == "i8bin") return FileFormat::kI8bin;
  if (ext == "ibin") return FileFormat::kIbin;
  if (ext == "npy") return FileFormat::kNpy;
  return Status::InvalidArgument(path + ": unknown file extension '" + ext +
                                 "' (supported: .fvecs .ivecs .bvecs .fbin .u8bin .i8bin .ibin .npy)");
}

// Over 80 lines: one header check per format family, each a few lines, and
// the size checks they share; split by format, those checks would repeat.
Result<std::unique_ptr<VectorReader>> VectorReader::Open(const std::string& path) {
  VX_ASSIGN_OR_RETURN(const FileFormat format, FormatFromPath(path));
  std::unique_ptr<VectorReader> r(new VectorReader());
  r->path_ = path;
  VX_ASSIGN_OR_RETURN(r->fd_, OpenForRead(path));
  VX_ASSIGN_OR_RETURN(const uint64_t size, FileSize(path, r->fd_.get()));
  if (size == 0) return Status::Corruption(path + ": file is empty");
  DatasetInfo& info = r->info_;
  info.format = format;
  const int fd = r->fd_.get();

  if (IsVecs(format)) {
    info.dtype = FixedDType(format);
    if (size < 4)
      return Status::Corruption(path + ": " + RecordName(0) + " is truncated: the file holds " + std::to_string(size) +
                                " bytes, less than its 4-byte dimension");
    int32_t dim = 0;
    VX_RETURN_IF_ERROR(PreadExact(path, fd, &dim, 4, 0));
    if (dim <= 0 || static_cast<uint32_t>(dim) > kMaxDim) {
      return Status::Corruption(path + ": " + RecordName(0) + " has dimension " + std::to_string(dim) +
                                ", outside 1.." + std::to_string(kMaxDim));
    }
    info.dim = static_cast<uint32_t>(dim);
    r->record_bytes_ = 4 + uint64_t{info.dim} * DTypeSize(info.dtype);
    info.count = size / r->record_bytes_;
    if (size % r->record_bytes_ != 0) return r->DiagnoseVecsSize(size);
    r->data_offset_ = 0;
  } else if (IsBin(format)) {
    info.dtype = FixedDType(format);
    if (size < 8) {
      return Status::Corruption(path + ": truncated header: " + std::to_string(size) + " bytes, the header needs 8");
    }
    uint32_t header[2];
    VX_RETURN_IF_ERROR(PreadExact(path, fd, header, 8, 0));
    if (header[1] == 0 || header[1] > kMaxDim) {
      return Status::Corruption(path + ": header dimension " + std::to_string(header[1]) + " is out of range 1.." +
                                std::to_string(kMaxDim));
    }
    info.count = header[0];
    info.dim = header[1];
    r->record_bytes_ = uint64_t{info.dim} * DTypeSize(info.dtype);
    const uint64_t want = 8 + info.count * r->record_bytes_;
    if (want != size) {
      return Status::Corruption(path + ": header says " + std::to_string(info.count) + " x " +
                                std::to_string(info.dim) + " " + DTypeName(info.dtype) + " (" + std::to_string(want) +
                                " bytes) but the file holds " + std::to_string(size) + " bytes");
    }
    r->data_offset_ = 8;
  } else {  // npy
    VX_ASSIGN_OR_RETURN(const NpyHeader h, ReadNpyHeader(path, fd, size));
    VX_RETURN_IF_ERROR(NpyMatrix(path, h, &info.dtype, &info.count, &info.dim));
    r->record_bytes_ = uint64_t{info.dim} * DTypeSize(info.dtype);
    r->data_offset_ = h.data_offset;
    if (info.count > (size - r->data_offset_) / r->record_bytes_ + 1 ||
        r->data_offset_ + info.count * r->record_bytes_ != size) {
      return Status::Corruption(path + ": npy shape (" + std::to_string(info.count) + ", " + std::to_string(info.dim) +
                                ") needs " + std::to_string(info.count * r->record_bytes_) +
                                " data bytes but the file holds " + std::to_string(size - r->data_offset_));
    }
  }
  return r;
}

Status VectorReader::DiagnoseVecsSize(uint64_t size) const {
  // The size is not a whole number of records: walk the dimension prefixes to
  // name the first record that differs or is cut short. Only on this error path.
  uint64_t offset = 0;
  for (uint64_t row = 0;; ++row) {
    if (size - offset < 4) {
      return Status::Corruption(path_ + ": " + RecordName(row) + " is truncated: " + std::to_string(size - offset) +
                                " of 4 dimension bytes present");
    }
    int32_t d = 0;
    VX_RETURN_IF_ERROR(PreadExact(path_, fd_.get(), &d, 4, offset));
    if (static_cast<uint32_t>(d) != info_.dim) {
      return Status::Corruption(path_ + ": " + RecordName(row) + " has dimension " + std::to_string(d) + ", expected " +
                                std::to_string(info_.dim) + " as in record 0");
    }
    if (size - offset < record_bytes_) {
      return Status::Corruption(path_ + ": " + RecordName(row) + " is truncated: " + std::to_string(size - offset) +
                                " of " + std::to_string(record_bytes_) + " bytes present");
    }
    offset += record_bytes_;
  }
}

Status VectorReader::Seek(uint64_t row) {
  if (row > info_.count) {
    return Status::InvalidArgument(path_ + ": seek to row " + std::to_string(row) + " past " +
                                   std::to_string(info_.count) + " rows");
  }
  next_row_ = row;
  return Status::Ok();
}

Status VectorReader::ValidateRows(const void* rows, size_t n) const {
  const size_t per_row = info_.dim;
  auto bad = [&](size_t i, size_t j, bool nan) {
    return Status::Corruption(path_ + ": " + RecordName(next_row_ + i) + " component " + std::to_string(j) + " is " +
                              (nan ? "NaN" : "Inf"));
  };
  if (info_.dtype == DType::kF32) {
    const auto* p = static_cast<const float*>(rows);
    for (size_t i = 0; i < n * per_row; ++i) {
      if (!std::isfinite(p[i])) [[unlikely]]
        return bad(i / per_row, i % per_row, std::isnan(p[i]));
    }
  } else if (info_.dtype == DType::kF16) {
    const auto* p = static_cast<const uint16_t*>(rows);
    for (size_t i = 0; i < n * per_row; ++i) {
      if ((p[i] & 0x7C00u) == 0x7C00u) [[unlikely]]
        return bad(i / per_row, i % per_row, (p[i] & 0x3FFu) != 0);
    }
  }
  return Status::Ok();
}

Result<size_t> VectorReader::Read(size_t max_rows, void* out) {
  const uint64_t remaining = info_.count - next_row_;
  const size_t n = static_cast<size_t>(remaining < max_rows ? remaining : max_rows);
  if (n == 0) return size_t{0};
  const size_t row_bytes = size_t{info_.dim} * DTypeSize(info_.dtype);
  const uint64_t offset = data_offset_ + next_row_ * record_bytes_;
  if (!IsVecs(info_.format)) {
    VX_RETURN_IF_ERROR(PreadExact(path_, fd_.get(), out, n * row_bytes, offset));
  } else {
    // Read whole records in chunks, check each dimension prefix, strip it.
    auto* dst = static_cast<uint8_t*>(out);
    const size_t chunk_rows = std::max<size_t>(1, kBatchBytes / record_bytes_);
    for (size_t done = 0; done < n;) {
      const size_t m = std::min(chunk_rows, n - done);
      buf_.resize(m * record_bytes_);
      VX_RETURN_IF_ERROR(PreadExact(path_, fd_.get(), buf_.data(), buf_.size(), offset + done * record_bytes_));
      for (size_t i = 0; i < m; ++i) {
        const uint8_t* rec = buf_.data() + i * record_bytes_;
        int32_t d;
        std::memcpy(&d, rec, 4);
        if (static_cast<uint32_t>(d) != info_.dim) {
          return Status::Corruption(path_ + ": " + RecordName(next_row_ + done + i) + " has dimension " +
                                    std::to_string(d) + ", expected " + std::to_string(info_.dim) + " as in record 0");
        }
        std::memcpy(dst + (done + i) * row_bytes, rec + 4, row_bytes);
      }
      done += m;
    }
  }
  VX_RETURN_IF_ERROR(ValidateRows(out, n));
  next_row_ += n;
  return n;
}

Result<size_t> VectorReader::ReadFloat(size_t max_rows, float* out) {
  if (info_.dtype == DType::kI32 || info_.dtype == DType::kI64) {
    return Status::InvalidArgument(path_ + ": holds " + DTypeName(info_.dtype) + " ids, not vectors");
  }
  if (info_.dtype == DType::kF32) return Read(max_rows, out);
  // Narrow types go through a scratch buffer and are widened into `out`.
  const uint64_t remaining = info_.count - next_row_;
  const size_t n = static_cast<size_t>(remaining < max_rows ? remaining : max_rows);
  const size_t values = n * info_.dim;
  std::vector<uint8_t> narrow(values * DTypeSize(info_.dtype));
  VX_ASSIGN_OR_RETURN(const size_t got, Read(n, narrow.data()));
  ConvertToFloat(info_.dtype, narrow.data(), got * info_.dim, out);
  return got;
}

Result<FloatMatrix> ReadAllFloat(const std::string& path) {
  VX_ASSIGN_OR_RETURN(auto reader, VectorReader::Open(path));
  FloatMatrix m;
  m.rows = reader->info().count;
  m.dim = reader->info().dim;
  if (m.rows * m.dim > (uint64_t{1} << 34)) {
    return Status::ResourceExhausted(path + ": too large to load whole (" + std::to_string(m.rows) + " rows)");
  }
  m.data.resize(m.rows * m.dim);
  VX_ASSIGN_OR_RETURN(const size_t got, reader->ReadFloat(m.rows, m.data.data()));
  VX_CHECK(got == m.rows);
  return m;
}

Result<IdMatrix> ReadAllIds(const std::string& path) {
  VX_ASSIGN_OR_RETURN(auto reader, VectorReader::Open(path));
  if (reader->info().dtype != DType::kI32) {
    return Status::InvalidArgument(path + ": holds " + DTypeName(reader->info().dtype) + " vectors, not int32 ids");
  }
  IdMatrix m;
  m.rows = reader->info().count;
  m.dim = reader->info().dim;
  m.data.resize(m.rows * m.dim);
  VX_ASSIGN_OR_RETURN(const size_t got, reader->Read(m.rows, m.data.data()));
  VX_CHECK(got == m.rows);
  return m;
}

Result<std::vector<int64_t>> ReadKeys(const std::string& path) {
  VX_ASSIGN_OR_RETURN(auto reader, VectorReader::Open(path));
  const DatasetInfo& info = reader->info();
  if ((info.dtype != DType::kI32 && info.dtype != DType::kI64) || info.dim != 1) {
    return Status::InvalidArgument(path + ": a key file holds one int64 (or int32) per row; this one holds " +
                                   std::to_string(info.dim) + " " + DTypeName(info.dtype) + " values a row");
  }
  std::vector<int64_t> keys(info.count);
  if (info.dtype == DType::kI64) {
    VX_ASSIGN_OR_RETURN(const size_t got, reader->Read(info.count, keys.data()));
    VX_CHECK(got == info.count);
  } else {
    std::vector<int32_t> narrow(info.count);
    VX_ASSIGN_OR_RETURN(const size_t got, reader->Read(info.count, narrow.data()));
    VX_CHECK(got == info.count);
    std::copy(narrow.begin(), narrow.end(), keys.begin());
  }
  return keys;
}

Result<std::unique_ptr<VectorWriter>> VectorWriter::Create(const std::string& path, DType dtype, uint32_t dim) {
  VX_ASSIGN_OR_RETURN(const FileFormat format, FormatFromPath(path));
  if (format != FileFormat::kNpy && FixedDType(format) != dtype) {
    return Status::InvalidArgument(path + ": this format holds " + DTypeName(FixedDType(format)) + ", not " +
                                   DTypeName(dtype));
  }
  if (dim == 0 || dim > kMaxDim) {
    return Status::InvalidArgument(path + ": dimension " + std::to_string(dim) + " is out of range 1.." +
                                   std::to_string(kMaxDim));
  }
  std::unique_ptr<VectorWriter> w(new VectorWriter());
  w->path_ = path;
  w->tmp_path_ = path + ".tmp." + std::to_string(::getpid());
  w->format_ = format;
  w->dtype_ = dtype;
  w->dim_ = dim;
  const int fd = ::open(w->tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(w->tmp_path_, errno);
  w->fd_ = FileDescriptor(fd);
  // The header is written in Finish(), once the count is known.
  if (IsBin(format)) w->offset_ = 8;
  if (format == FileFormat::kNpy) w->offset_ = kNpyHeaderBytes;
  return w;
}

VectorWriter::~VectorWriter() {
  if (!finished_ && !tmp_path_.empty()) ::unlink(tmp_path_.c_str());
}

Status VectorWriter::Flush() {
  if (buf_.empty()) return Status::Ok();
  VX_RETURN_IF_ERROR(PwriteAll(tmp_path_, fd_.get(), buf_.data(), buf_.size(), offset_));
  offset_ += buf_.size();
  buf_.clear();
  return Status::Ok();
}

Status VectorWriter::Append(const void* rows, size_t n) {
  VX_CHECK(!finished_);
  const size_t row_bytes = size_t{dim_} * DTypeSize(dtype_);
  const auto* src = static_cast<const uint8_t*>(rows);
  const int32_t d = static_cast<int32_t>(dim_);
  for (size_t i = 0; i < n; ++i) {
    if (IsVecs(format_)) {
      const auto* dp = reinterpret_cast<const uint8_t*>(&d);
      buf_.insert(buf_.end(), dp, dp + 4);
    }
    buf_.insert(buf_.end(), src + i * row_bytes, src + (i + 1) * row_bytes);
    if (buf_.size() >= kBatchBytes) VX_RETURN_IF_ERROR(Flush());
  }
  count_ += n;
  return Status::Ok();
}

Status VectorWriter::Finish() {
  VX_CHECK(!finished_);
  VX_RETURN_IF_ERROR(Flush());
  if (IsBin(format_)) {
    if (count_ > UINT32_MAX) {
      return Status::InvalidArgument(path_ + ": " + std::to_string(count_) +
                                     " rows do not fit the format's 32-bit count");
    }
    const uint32_t header[2] = {static_cast<uint32_t>(count_), dim_};
    VX_RETURN_IF_ERROR(PwriteAll(tmp_path_, fd_.get(), header, 8, 0));
  } else if (format_ == FileFormat::kNpy) {
    std::string dict = std::string("{'descr': '") + NpyDescr(dtype_) + "', 'fortran_order': False, 'shape': (" +
                       std::to_string(count_) + ", " + std::to_string(dim_) + "), }";
    std::string header = std::string(kNpyMagic, 6) + std::string("\x01\x00", 2);
    const size_t len = kNpyHeaderBytes - 10;
    VX_CHECK(dict.size() + 1 <= len);
    dict.append(len - dict.size() - 1, ' ');
    dict.push_back('\n');
    header.push_back(static_cast<char>(len & 0xFF));
    header.push_back(static_cast<char>(len >> 8));
    header += dict;
    VX_RETURN_IF_ERROR(PwriteAll(tmp_path_, fd_.get(), header.data(), header.size(), 0));
  }
  if (::fsync(fd_.get()) != 0) return ErrnoStatus(tmp_path_ + ": fsync", errno);
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    return ErrnoStatus("rename " + tmp_path_ + " to " + path_, errno);
  }
  finished_ = true;
  return Status::Ok();
}

Status WriteMatrix(const std::string& path, DType dtype, uint32_t dim, const void* rows, uint64_t n) {
  VX_ASSIGN_OR_RETURN(auto w, VectorWriter::Create(path, dtype, dim));
  VX_RETURN_IF_ERROR(w->Append(rows, n));
  return w->Finish();
}

}  // namespace vx

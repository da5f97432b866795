// VectorSource (vx/index.h): a streamed vector file, or rows in memory.
#include <cmath>
#include <cstring>

#include "core/dataset.h"
#include "core/f16.h"
#include "vx/index.h"

namespace vx {
namespace {

class FileSource : public VectorSource {
 public:
  explicit FileSource(std::unique_ptr<VectorReader> r) : reader_(std::move(r)) {}
  uint64_t count() const override { return reader_->info().count; }
  uint32_t dim() const override { return reader_->info().dim; }
  const std::string& name() const override { return reader_->path(); }
  Result<size_t> Read(size_t max_rows, float* out) override { return reader_->ReadFloat(max_rows, out); }
  Status Rewind() override { return reader_->Seek(0); }

 private:
  std::unique_ptr<VectorReader> reader_;
};

// Rows in the caller's memory, of any element type, converted to floats as
// they are read.
class MemorySource : public VectorSource {
 public:
  MemorySource(const void* rows, ElementType type, uint64_t count, uint32_t dim)
      : rows_(static_cast<const uint8_t*>(rows)), type_(type), count_(count), dim_(dim) {}
  uint64_t count() const override { return count_; }
  uint32_t dim() const override { return dim_; }
  const std::string& name() const override { return name_; }
  Result<size_t> Read(size_t max_rows, float* out) override {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(max_rows, count_ - next_));
    const size_t values = n * dim_, first = next_ * dim_;
    switch (type_) {
      case ElementType::kF32:
        std::memcpy(out, rows_ + first * sizeof(float), values * sizeof(float));
        break;
      case ElementType::kF16:
        for (size_t i = 0; i < values; ++i) {
          uint16_t h;
          std::memcpy(&h, rows_ + (first + i) * 2, 2);
          out[i] = HalfToFloat(h);
        }
        break;
      case ElementType::kU8:
        for (size_t i = 0; i < values; ++i) out[i] = rows_[first + i];
        break;
      case ElementType::kI8:
        for (size_t i = 0; i < values; ++i) out[i] = static_cast<int8_t>(rows_[first + i]);
        break;
    }
    for (size_t i = 0; i < values; ++i) {
      if (!std::isfinite(out[i])) {
        return Status::InvalidArgument("memory: row " + std::to_string(next_ + i / dim_) + " component " +
                                       std::to_string(i % dim_) + " is " + (std::isnan(out[i]) ? "NaN" : "Inf"));
      }
    }
    next_ += n;
    return n;
  }
  Status Rewind() override {
    next_ = 0;
    return Status::Ok();
  }

 private:
  const uint8_t* rows_;
  ElementType type_;
  uint64_t count_;
  uint32_t dim_;
  uint64_t next_ = 0;
  std::string name_ = "memory";
};

}  // namespace

Result<std::unique_ptr<VectorSource>> VectorSource::FromFile(const std::string& path) {
  VX_ASSIGN_OR_RETURN(auto reader, VectorReader::Open(path));
  if (reader->info().dtype == DType::kI32 || reader->info().dtype == DType::kI64) {
    return Status::InvalidArgument(path + ": holds " + DTypeName(reader->info().dtype) + " ids, not vectors");
  }
  return std::unique_ptr<VectorSource>(new FileSource(std::move(reader)));
}

Result<std::unique_ptr<VectorSource>> VectorSource::FromMemory(const void* rows, ElementType type, uint64_t count,
                                                               uint32_t dim) {
  if (rows == nullptr && count > 0) return Status::InvalidArgument("memory: rows is NULL");
  if (dim == 0 || dim > kMaxDim) {
    return Status::InvalidArgument("memory: dimension " + std::to_string(dim) + " is out of range 1.." +
                                   std::to_string(kMaxDim));
  }
  return std::unique_ptr<VectorSource>(new MemorySource(rows, type, count, dim));
}

Result<std::unique_ptr<VectorSource>> VectorSource::FromMemory(const float* rows, uint64_t count, uint32_t dim) {
  return FromMemory(rows, ElementType::kF32, count, dim);
}

}  // namespace vx

#include "index/tombstones.h"

#include <roaring/roaring.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

namespace vx {
namespace {

constexpr uint32_t kTombstonesMagic = 0x53545856;  // "VXTS"
constexpr uint32_t kTombstonesVersion = 1;
constexpr size_t kHeaderBytes = 16;

roaring_bitmap_t* Checked(roaring_bitmap_t* b) {
  if (b == nullptr) throw std::bad_alloc();
  return b;
}

}  // namespace

Tombstones::Bitmap::Bitmap(roaring_bitmap_t* bitmap) : b(Checked(bitmap)) {}
Tombstones::Bitmap::~Bitmap() { roaring_bitmap_free(b); }

Tombstones::Tombstones(std::shared_ptr<const Bitmap> base)
    : base_(std::move(base)), recent_(std::make_unique<Bitmap>(roaring_bitmap_create())) {}
Tombstones::Tombstones() : Tombstones(std::make_shared<const Bitmap>(roaring_bitmap_create())) {}
Tombstones::Tombstones(const Tombstones& other)
    : base_(other.base_), recent_(std::make_unique<Bitmap>(roaring_bitmap_copy(other.recent_->b))) {}
Tombstones::~Tombstones() = default;

bool Tombstones::Contains(uint32_t row) const {
  return roaring_bitmap_contains(base_->b, row) || roaring_bitmap_contains(recent_->b, row);
}
uint64_t Tombstones::size() const {
  return roaring_bitmap_get_cardinality(base_->b) + roaring_bitmap_get_cardinality(recent_->b);
}
uint64_t Tombstones::bytes() const {
  return roaring_bitmap_portable_size_in_bytes(base_->b) + roaring_bitmap_portable_size_in_bytes(recent_->b);
}

std::vector<uint32_t> Tombstones::RowsNotIn(const Tombstones* other) const {
  const Bitmap rows(roaring_bitmap_or(base_->b, recent_->b));
  if (other != nullptr) other->RemoveFrom(rows.b);
  std::vector<uint32_t> out(roaring_bitmap_get_cardinality(rows.b));
  roaring_bitmap_to_uint32_array(rows.b, out.data());
  return out;
}

void Tombstones::RemoveFrom(roaring_bitmap_s* rows) const {
  roaring_bitmap_andnot_inplace(rows, base_->b);
  roaring_bitmap_andnot_inplace(rows, recent_->b);
}

void Tombstones::Add(std::span<const uint32_t> rows) {
  for (uint32_t row : rows) {
    if (!roaring_bitmap_contains(base_->b, row)) roaring_bitmap_add(recent_->b, row);
  }
  const uint64_t base = roaring_bitmap_get_cardinality(base_->b);
  const uint64_t limit = std::max<uint64_t>(4096, 8 * static_cast<uint64_t>(std::sqrt(double(base))));
  if (roaring_bitmap_get_cardinality(recent_->b) <= limit) return;
  auto merged = std::make_shared<Bitmap>(roaring_bitmap_or(base_->b, recent_->b));
  roaring_bitmap_run_optimize(merged->b);
  base_ = std::move(merged);
  recent_ = std::make_unique<Bitmap>(roaring_bitmap_create());
}

std::string Tombstones::Serialize(uint64_t rows) const {
  const Bitmap all(roaring_bitmap_or(base_->b, recent_->b));
  roaring_bitmap_run_optimize(all.b);
  std::string out(kHeaderBytes + roaring_bitmap_portable_size_in_bytes(all.b), '\0');
  std::memcpy(out.data(), &kTombstonesMagic, 4);
  std::memcpy(out.data() + 4, &kTombstonesVersion, 4);
  std::memcpy(out.data() + 8, &rows, 8);
  roaring_bitmap_portable_serialize(all.b, out.data() + kHeaderBytes);
  return out;
}

Result<std::unique_ptr<Tombstones>> Tombstones::Deserialize(const std::string& bytes, uint64_t rows,
                                                            const std::string& path) {
  uint32_t magic = 0, version = 0;
  uint64_t count = 0;
  if (bytes.size() >= kHeaderBytes) {
    std::memcpy(&magic, bytes.data(), 4);
    std::memcpy(&version, bytes.data() + 4, 4);
    std::memcpy(&count, bytes.data() + 8, 8);
  }
  if (magic != kTombstonesMagic) return Status::Corruption(path + ": not a tombstones file (magic number wrong)");
  if (version != kTombstonesVersion) {
    return Status::NotSupported(path + ": tombstones format version " + std::to_string(version) + " (this vx reads " +
                                std::to_string(kTombstonesVersion) + ")");
  }
  if (count != rows) {
    return Status::Corruption(path + ": tombstones of an index of " + std::to_string(count) + " rows; this one has " +
                              std::to_string(rows));
  }
  const size_t n = bytes.size() - kHeaderBytes;
  roaring_bitmap_t* b = roaring_bitmap_portable_deserialize_safe(bytes.data() + kHeaderBytes, n);
  if (b == nullptr) return Status::Corruption(path + ": the tombstone bitmap is malformed");
  auto base = std::make_shared<const Bitmap>(b);
  if (roaring_bitmap_portable_size_in_bytes(b) != n) {
    return Status::Corruption(path + ": the tombstone bitmap is malformed");
  }
  if (!roaring_bitmap_is_empty(b) && roaring_bitmap_maximum(b) >= rows) {
    return Status::Corruption(path + ": tombstone for row " + std::to_string(roaring_bitmap_maximum(b)) +
                              " of an index of " + std::to_string(rows) + " rows");
  }
  return std::unique_ptr<Tombstones>(new Tombstones(std::move(base)));
}

std::shared_ptr<const Tombstones> WithDeleted(const Tombstones* deleted, std::span<const uint32_t> rows) {
  auto out = deleted ? std::make_shared<Tombstones>(*deleted) : std::make_shared<Tombstones>();
  out->Add(rows);
  return out;
}

}  // namespace vx

#include "index/tombstones.h"

#include <roaring/roaring.h>

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

Tombstones::Tombstones() : bitmap_(Checked(roaring_bitmap_create())) {}
Tombstones::Tombstones(const Tombstones& other) : bitmap_(Checked(roaring_bitmap_copy(other.bitmap_))) {}
Tombstones::~Tombstones() { roaring_bitmap_free(bitmap_); }

bool Tombstones::Contains(uint32_t row) const { return roaring_bitmap_contains(bitmap_, row); }
uint64_t Tombstones::size() const { return roaring_bitmap_get_cardinality(bitmap_); }
void Tombstones::Add(std::span<const uint32_t> rows) {
  roaring_bitmap_add_many(bitmap_, rows.size(), rows.data());
  roaring_bitmap_run_optimize(bitmap_);
}
uint64_t Tombstones::bytes() const { return roaring_bitmap_portable_size_in_bytes(bitmap_); }

std::string Tombstones::Serialize(uint64_t rows) const {
  std::string out(kHeaderBytes + roaring_bitmap_portable_size_in_bytes(bitmap_), '\0');
  std::memcpy(out.data(), &kTombstonesMagic, 4);
  std::memcpy(out.data() + 4, &kTombstonesVersion, 4);
  std::memcpy(out.data() + 8, &rows, 8);
  roaring_bitmap_portable_serialize(bitmap_, out.data() + kHeaderBytes);
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
  if (b == nullptr || roaring_bitmap_portable_size_in_bytes(b) != n) {
    if (b != nullptr) roaring_bitmap_free(b);
    return Status::Corruption(path + ": the tombstone bitmap is malformed");
  }
  std::unique_ptr<Tombstones> t(new Tombstones(b));
  if (t->size() > 0 && roaring_bitmap_maximum(b) >= rows) {
    return Status::Corruption(path + ": tombstone for row " + std::to_string(roaring_bitmap_maximum(b)) +
                              " of an index of " + std::to_string(rows) + " rows");
  }
  return t;
}

}  // namespace vx

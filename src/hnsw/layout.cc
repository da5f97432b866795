#include "hnsw/layout.h"

#include <algorithm>
#include <cstring>

#include "core/check.h"
#include "hnsw/graph.h"
#include "io/paged_file.h"

namespace vx::hnsw {
namespace {

void PutVarint(uint64_t v, std::vector<uint8_t>* out) {
  for (; v >= 0x80; v >>= 7) out->push_back(static_cast<uint8_t>(v | 0x80));
  out->push_back(static_cast<uint8_t>(v));
}

// At most 5 bytes (ids are 32-bit, zigzag 33); false past `end` or longer.
inline bool GetVarint(const uint8_t*& p, const uint8_t* end, uint64_t* v) {
  uint64_t x = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (p == end) return false;
    const uint8_t b = *p++;
    x |= uint64_t{b & 0x7Fu} << shift;
    if (b < 0x80) {
      *v = x;
      return true;
    }
  }
  return false;
}

uint16_t Load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

}  // namespace

void EncodeNeighbors(uint32_t node, std::span<const uint32_t> sorted, std::vector<uint8_t>* out) {
  int64_t prev = node;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const int64_t d = int64_t{sorted[i]} - prev;
    VX_CHECK(i == 0 || d > 0);
    PutVarint(i == 0 ? static_cast<uint64_t>(d >= 0 ? 2 * d : -2 * d - 1) : static_cast<uint64_t>(d), out);
    prev = sorted[i];
  }
}

bool DecodeNeighbors(uint32_t node, const uint8_t* rec, const uint8_t* end, uint32_t max, uint32_t count, uint32_t* out,
                     uint32_t* n) {
  *n = 0;
  int64_t prev = node;
  for (const uint8_t* p = rec; p != end;) {
    uint64_t v;
    if (*n == max || !GetVarint(p, end, &v)) return false;
    int64_t id;
    if (*n == 0) {
      id = prev + ((v & 1) ? -static_cast<int64_t>((v + 1) / 2) : static_cast<int64_t>(v / 2));
    } else {
      if (v == 0) return false;
      id = prev + static_cast<int64_t>(v);
    }
    if (id < 0 || id >= count) return false;
    out[(*n)++] = static_cast<uint32_t>(id);
    prev = id;
  }
  return true;
}

void GraphPagePacker::Add(std::span<const uint8_t> record) {
  VX_CHECK(Fits(record.size()));
  records_.insert(records_.end(), record.begin(), record.end());
  ends_.push_back(static_cast<uint16_t>(records_.size()));
}

void GraphPagePacker::Finish(uint8_t* payload) {
  const uint16_t nodes = static_cast<uint16_t>(ends_.size());
  const size_t base = 2 + 2 * size_t{nodes};
  std::memcpy(payload, &nodes, 2);
  for (size_t i = 0; i < ends_.size(); ++i) {
    const uint16_t e = static_cast<uint16_t>(base + ends_[i]);
    std::memcpy(payload + 2 + 2 * i, &e, 2);
  }
  std::memcpy(payload + base, records_.data(), records_.size());
  ends_.clear();
  records_.clear();
}

uint64_t GraphPageMap::Page(uint32_t node) const {
  return static_cast<uint64_t>(std::upper_bound(first_.begin(), first_.end(), node) - first_.begin());
}

bool GraphPageMap::Record(uint32_t node, uint64_t page, const uint8_t* payload, size_t payload_bytes,
                          const uint8_t** rec, const uint8_t** end) const {
  const uint32_t i = node - first_[page - 1];
  const uint16_t nodes = Load16(payload);
  const size_t base = 2 + 2 * size_t{nodes};
  if (i >= nodes || base > payload_bytes) return false;
  const size_t b = i == 0 ? base : Load16(payload + 2 * i);
  const size_t e = Load16(payload + 2 + 2 * i);
  if (b < base || e < b || e > payload_bytes) return false;
  *rec = payload + b;
  *end = payload + e;
  return true;
}

Result<GraphPageMap> GraphPageMap::Decode(const std::string& bytes, uint64_t count, uint64_t file_bytes,
                                          size_t page_size, const std::string& where) {
  std::vector<uint32_t> first(bytes.size() / 4);
  if (!first.empty()) std::memcpy(first.data(), bytes.data(), first.size() * 4);
  if (bytes.size() % 4 != 0 || first.empty() || first[0] != 0 || first.back() >= count ||
      std::adjacent_find(first.begin(), first.end(), std::greater_equal<>()) != first.end() ||
      (first.size() + 1) * page_size != file_bytes) {
    return Status::Corruption(where + ": does not describe the graph file's pages");
  }
  return GraphPageMap(std::move(first));
}

Result<GraphPageMap> WriteGraphFile(File* f, size_t page_size, uint64_t binding, const Graph& g) {
  const uint32_t n = g.size();
  PageWriter w(f, page_size, PageType::kGraph, binding);
  VX_RETURN_IF_ERROR(w.EmitHeader({kFileHeaderMagic, static_cast<uint32_t>(PagedFileKind::kGraph), n, 0, 0, 0, 0}));
  GraphPagePacker packer(page_size - kPageHeaderSize);
  std::vector<uint32_t> first_node, sorted;
  std::vector<uint8_t> rec;
  for (uint32_t v = 0; v < n; ++v) {
    auto nb = g.Neighbors(v, 0);
    sorted.assign(nb.begin(), nb.end());
    std::sort(sorted.begin(), sorted.end());
    rec.clear();
    EncodeNeighbors(v, sorted, &rec);
    if (!packer.Fits(rec.size())) {
      if (packer.empty()) {
        return Status::InvalidArgument("node " + std::to_string(v) + "'s neighbour list (" +
                                       std::to_string(rec.size()) + " bytes) does not fit a " +
                                       std::to_string(page_size) + "-byte page; use a larger page size or a smaller m");
      }
      packer.Finish(w.page() + kPageHeaderSize);
      VX_RETURN_IF_ERROR(w.Emit());
    }
    if (packer.empty()) first_node.push_back(v);
    packer.Add(rec);
  }
  packer.Finish(w.page() + kPageHeaderSize);
  VX_RETURN_IF_ERROR(w.Emit());
  VX_RETURN_IF_ERROR(f->Sync());
  return GraphPageMap(std::move(first_node));
}

std::vector<uint32_t> EncodeUpper(const Graph& g) {
  std::vector<uint32_t> up = {0};
  for (uint32_t v = 0; v < g.size(); ++v) {
    if (g.level(v) == 0) continue;
    ++up[0];
    up.push_back(v);
    up.push_back(g.level(v));
    for (uint32_t l = 1; l <= g.level(v); ++l) {
      auto nb = g.Neighbors(v, l);
      up.push_back(static_cast<uint32_t>(nb.size()));
      up.insert(up.end(), nb.begin(), nb.end());
    }
  }
  return up;
}

Status UpperLayers::Decode(const std::string& bytes, uint64_t count, uint32_t m, uint32_t entry, uint32_t max_level,
                           const std::string& where) {
  if (bytes.size() % 4 != 0 || bytes.size() < 4) return Status::Corruption(where + ": malformed");
  words_.resize(bytes.size() / 4);
  std::memcpy(words_.data(), bytes.data(), bytes.size());
  uint64_t pos = 1;
  for (uint32_t i = 0; i < words_[0]; ++i) {
    if (pos + 2 > words_.size()) return Status::Corruption(where + ": truncated");
    const uint32_t node = words_[pos], levels = words_[pos + 1];
    if (node >= count || levels == 0 || levels > 15) return Status::Corruption(where + ": bad node record");
    pos += 2;
    if (lists_.Find(node)) return Status::Corruption(where + ": node " + std::to_string(node) + " listed twice");
    lists_.Insert(node, pos);
    for (uint32_t l = 0; l < levels; ++l) {
      if (pos >= words_.size() || words_[pos] > m || pos + 1 + words_[pos] > words_.size()) {
        return Status::Corruption(where + ": bad neighbour list");
      }
      for (uint32_t j = 0; j < words_[pos]; ++j) {
        if (words_[pos + 1 + j] >= count) return Status::Corruption(where + ": neighbour id out of range");
      }
      pos += 1 + words_[pos];
    }
  }
  if (pos != words_.size()) return Status::Corruption(where + ": trailing data");
  if (max_level > 0 && !lists_.Find(entry)) return Status::Corruption(where + ": entry point missing");
  return Status::Ok();
}

}  // namespace vx::hnsw

#include "index/params.h"

#include <algorithm>

#include "io/page.h"

namespace vx {
namespace {

std::string Param(const Manifest& m, const std::string& key) {
  auto it = m.params.find(key);
  return it == m.params.end() ? std::string() : it->second;
}

// A numeric parameter in [lo, hi]; Corruption naming it otherwise.
Result<uint64_t> Number(const Manifest& m, const std::string& key, const std::string& dir, uint64_t lo, uint64_t hi) {
  auto it = m.params.find(key);
  if (it == m.params.end()) return Status::Corruption(dir + "/MANIFEST: no parameter '" + key + "'");
  const std::string& s = it->second;
  uint64_t v = 0;
  bool ok = !s.empty() && s.size() <= 20;
  for (char c : s) {
    if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10) {
      ok = false;
      break;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (!ok) return Status::Corruption(dir + "/MANIFEST: parameter '" + key + "' is not a number");
  if (v < lo || v > hi) {
    return Status::Corruption(dir + "/MANIFEST: parameter '" + key + "' = " + s + " is outside " + std::to_string(lo) +
                              ".." + std::to_string(hi));
  }
  return v;
}

}  // namespace

Result<ManifestFile> ManifestEntry(const Manifest& m, const std::string& name, const std::string& dir) {
  for (const ManifestFile& f : m.files) {
    if (f.name == name) return f;
  }
  return Status::Corruption(dir + "/MANIFEST: no file '" + name + "'");
}

void IndexParams::ToManifest(ManifestParams* out) const {
  (*out)["type"] = type;
  (*out)["format"] = std::to_string(format);
  (*out)["metric"] = MetricName(metric);
  (*out)["storage"] = ElementTypeName(storage);
  (*out)["quant"] = quant;
  if (!quant_choice.empty()) (*out)["quant_choice"] = quant_choice;
  (*out)["count"] = std::to_string(count);
  (*out)["dim"] = std::to_string(dim);
  (*out)["page_size"] = std::to_string(page_size);
  (*out)["source"] = source;
  if (!attributes.empty()) (*out)["attributes"] = AttributeSchema(attributes);
  if (checkpoint_lsn != 0) (*out)["wal_lsn"] = std::to_string(checkpoint_lsn);
}

Result<IndexParams> IndexParams::FromManifest(const Manifest& m, const std::string& dir, const std::string& type,
                                              uint32_t format) {
  IndexParams p;
  p.type = Param(m, "type");
  if (p.type != type) return Status::NotSupported(dir + ": index type '" + p.type + "', not " + type);
  VX_ASSIGN_OR_RETURN(const uint64_t f, Number(m, "format", dir, 0, UINT32_MAX));
  if (f != format) {
    return Status::NotSupported(dir + ": " + type + " file format " + std::to_string(f) + ", this build of vx reads " +
                                std::to_string(format) + "; rebuild the index");
  }
  p.format = format;
  VX_ASSIGN_OR_RETURN(p.metric, ParseMetric(Param(m, "metric")));
  VX_ASSIGN_OR_RETURN(p.storage, ParseElementType(Param(m, "storage")));
  p.quant = Param(m, "quant");
  p.quant_choice = Param(m, "quant_choice");
  VX_ASSIGN_OR_RETURN(p.count, Number(m, "count", dir, 1, UINT32_MAX - 1));
  VX_ASSIGN_OR_RETURN(const uint64_t dim, Number(m, "dim", dir, 1, 65536));
  VX_ASSIGN_OR_RETURN(const uint64_t ps, Number(m, "page_size", dir, kMinPageSize, kMaxPageSize));
  if (!ValidatePageSize(ps).ok())
    return Status::Corruption(dir + "/MANIFEST: page_size " + std::to_string(ps) + " is not a power of two");
  p.dim = static_cast<uint32_t>(dim);
  p.page_size = static_cast<uint32_t>(ps);
  p.source = Param(m, "source");
  const std::string attributes = Param(m, "attributes");
  for (size_t at = 0; at < attributes.size();) {
    const size_t end = std::min(attributes.find(',', at), attributes.size());
    const std::string col = attributes.substr(at, end - at);
    const size_t colon = col.rfind(':');
    const std::string type = colon == std::string::npos ? "" : col.substr(colon + 1);
    AttributeType t = AttributeType::kInt;
    if (type == "float") {
      t = AttributeType::kFloat;
    } else if (type == "labels") {
      t = AttributeType::kLabels;
    } else if (type != "int") {
      return Status::Corruption(dir + "/MANIFEST: attribute column '" + col + "' is not name:int|float|labels");
    }
    p.attributes.emplace_back(col.substr(0, colon), t);
    at = end + 1;
  }
  if (m.params.count("wal_lsn")) {
    VX_ASSIGN_OR_RETURN(p.checkpoint_lsn, Number(m, "wal_lsn", dir, 1, UINT64_MAX));
  }
  return p;
}

void HnswParams::ToManifest(ManifestParams* out) const {
  (*out)["m"] = std::to_string(m);
  (*out)["ef_construction"] = std::to_string(ef_construction);
  (*out)["entry"] = std::to_string(entry);
  (*out)["max_level"] = std::to_string(max_level);
  (*out)["reorder"] = reorder ? "bfs" : "none";
}

Result<HnswParams> HnswParams::FromManifest(const Manifest& m, const std::string& dir, uint64_t count) {
  HnswParams p;
  VX_ASSIGN_OR_RETURN(const uint64_t mm, Number(m, "m", dir, 2, 100));
  VX_ASSIGN_OR_RETURN(const uint64_t efc, Number(m, "ef_construction", dir, 4, 1000));
  VX_ASSIGN_OR_RETURN(const uint64_t entry, Number(m, "entry", dir, 0, count - 1));
  VX_ASSIGN_OR_RETURN(const uint64_t level, Number(m, "max_level", dir, 0, 15));
  p.m = static_cast<uint32_t>(mm);
  p.ef_construction = static_cast<uint32_t>(efc);
  p.entry = static_cast<uint32_t>(entry);
  p.max_level = static_cast<uint32_t>(level);
  p.reorder = Param(m, "reorder") != "none";
  return p;
}

void HnswParams::Describe(IndexInfo* info) const {
  info->m = m;
  info->ef_construction = ef_construction;
  info->max_level = max_level;
}

void IvfParams::Describe(IndexInfo* info) const {
  info->lists = lists;
  info->replicas = replicas;
  info->entries = entries;
}

void IvfParams::ToManifest(ManifestParams* out) const {
  (*out)["lists"] = std::to_string(lists);
  (*out)["replicas"] = std::to_string(replicas);
  (*out)["entries"] = std::to_string(entries);
}

Result<IvfParams> IvfParams::FromManifest(const Manifest& m, const std::string& dir, uint64_t count) {
  IvfParams p;
  VX_ASSIGN_OR_RETURN(const uint64_t lists, Number(m, "lists", dir, 1, count));
  VX_ASSIGN_OR_RETURN(const uint64_t replicas, Number(m, "replicas", dir, 0, 8));
  VX_ASSIGN_OR_RETURN(p.entries, Number(m, "entries", dir, count, count * 9));
  p.lists = static_cast<uint32_t>(lists);
  p.replicas = static_cast<uint32_t>(replicas);
  return p;
}

std::string AttributeSchema(const AttrSchema& columns) {
  std::string out;
  for (const auto& [name, type] : columns) out += (out.empty() ? "" : ",") + name + ":" + AttributeTypeName(type);
  return out;
}

}  // namespace vx

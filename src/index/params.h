// The parameters of an index as its manifest records them: those every
// index type shares (IndexParams) and each type's own (HnswParams,
// IvfParams), each written by ToManifest and read back, checked, by
// FromManifest. A manifest holds them as strings; everything above this
// file sees typed values only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "io/manifest.h"
#include "vx/index.h"

namespace vx {

using ManifestParams = std::map<std::string, std::string>;
// The attribute columns of an index, (name, type) in file order.
using AttrSchema = std::vector<std::pair<std::string, AttributeType>>;

struct IndexParams {
  std::string type;     // the type's name in the registry ("hnsw", "ivf")
  uint32_t format = 0;  // the type's file format version
  Metric metric = Metric::kL2;
  ElementType storage = ElementType::kF32;
  std::string quant;         // QuantSpec::ToString()
  std::string quant_choice;  // what "auto" chose and why; empty when the build named the codes
  uint64_t count = 0;        // rows of the base generation
  uint32_t dim = 0;
  uint32_t page_size = 0;
  std::string source;  // what the build read (a path, or "memory")
  // The attribute columns (in the manifest: "name:type,..."); empty: none.
  // The attrs file and every rows segment must agree.
  AttrSchema attributes;
  // The last LSN of the generation's WAL (index_base.h) that a checkpoint
  // folded into segments ("wal_lsn"); 0: none.
  uint64_t checkpoint_lsn = 0;

  void ToManifest(ManifestParams* out) const;
  // Checks that the index in `dir` described by `m` is of type `type` in
  // format `format` (NotSupported, with a rebuild hint, otherwise) and that
  // every shared parameter is present and in range (Corruption naming it).
  static Result<IndexParams> FromManifest(const Manifest& m, const std::string& dir, const std::string& type,
                                          uint32_t format);
};

struct HnswParams {
  uint32_t m = 16, ef_construction = 64;
  uint32_t entry = 0, max_level = 0;  // the graph's entry node and its level
  bool reorder = true;                // nodes renumbered in BFS order

  void ToManifest(ManifestParams* out) const;
  static Result<HnswParams> FromManifest(const Manifest& m, const std::string& dir, uint64_t count);
  void Describe(IndexInfo* info) const;  // fills info's HNSW fields
};

struct IvfParams {
  uint32_t lists = 0, replicas = 0;
  uint64_t entries = 0;  // list entries: rows plus replicas

  void ToManifest(ManifestParams* out) const;
  static Result<IvfParams> FromManifest(const Manifest& m, const std::string& dir, uint64_t count);
  void Describe(IndexInfo* info) const;  // fills info's IVF fields
};

// "name:type,..." as the manifest holds IndexParams::attributes.
std::string AttributeSchema(const AttrSchema& columns);

// The manifest entry of file `name`, Corruption if the manifest lists none.
Result<ManifestFile> ManifestEntry(const Manifest& m, const std::string& name, const std::string& dir);

}  // namespace vx

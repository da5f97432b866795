#include "index/attrs.h"

#include <roaring/roaring.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <new>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "core/dataset.h"
#include "core/posix.h"
#include "index/delta_rows.h"
#include "index/filter.h"

namespace vx {
namespace {

constexpr uint32_t kAttrsMagic = 0x54415856;  // "VXAT"
constexpr uint32_t kAttrsVersion = 1;

roaring_bitmap_t* Checked(roaring_bitmap_t* b) {
  if (b == nullptr) throw std::bad_alloc();
  return b;
}

bool ValidName(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// The nearest int64 to x, saturating.
int64_t Saturate(double x) {
  if (x >= 9.2233720368547758e18) return std::numeric_limits<int64_t>::max();
  if (x <= -9.2233720368547758e18) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(x);
}

template <class T>
void Put(std::string* out, const T& v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}

// Reads the file's fields in order, failing (ok() false) past its end.
class Reader {
 public:
  explicit Reader(const std::string& b) : b_(b) {}
  template <class T>
  bool Get(T* v) {
    if (b_.size() - at_ < sizeof(T)) return false;
    std::memcpy(v, b_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return true;
  }
  template <class T>
  bool Many(std::vector<T>* v, uint64_t n) {
    if ((b_.size() - at_) / sizeof(T) < n) return false;
    v->resize(n);
    std::memcpy(v->data(), b_.data() + at_, n * sizeof(T));
    at_ += n * sizeof(T);
    return true;
  }
  bool Bytes(std::string* s, uint32_t n) {
    if (b_.size() - at_ < n) return false;
    s->assign(b_.data() + at_, n);
    at_ += n;
    return true;
  }
  bool done() const { return at_ == b_.size(); }

 private:
  const std::string& b_;
  size_t at_ = 0;
};

// One 1-D .npy column (shape (n,) or (n, 1), C order) as int64 or double:
// integers from <i4, <i8, <u4, <u8 (past int64: refused), floats from <f4,
// <f8. *is_int says which *ints or *floats holds it.
Status ReadNpyColumn(const std::string& path, std::vector<int64_t>* ints, std::vector<double>* floats, bool* is_int) {
  VX_ASSIGN_OR_RETURN(const FileDescriptor fd, OpenForRead(path));
  VX_ASSIGN_OR_RETURN(const uint64_t file_size, FileSize(path, fd.get()));
  const auto bad = [&](const std::string& what) { return Status::InvalidArgument(path + ": " + what); };
  Result<NpyHeader> header = ReadNpyHeader(path, fd.get(), file_size);
  if (!header.ok()) return Status::InvalidArgument(header.status().message());
  const std::string& descr = header->descr;
  const std::vector<uint64_t>& dims = header->shape;
  if (dims.empty() || dims.size() > 2 || (dims.size() == 2 && dims[1] != 1)) {
    std::string shape;
    for (uint64_t d : dims) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    return bad("a column is 1-D (shape (n,) or (n, 1)), not shape (" + shape + ")");
  }
  const uint64_t n = dims[0];
  static const std::map<std::string, size_t> kSizes = {{"<i4", 4}, {"<i8", 8}, {"<u4", 4},
                                                       {"<u8", 8}, {"<f4", 4}, {"<f8", 8}};
  const auto size = kSizes.find(descr);
  if (size == kSizes.end()) {
    return bad("dtype '" + descr +
               "' is not a column type (int32, int64, uint32, uint64: int; float32, float64: "
               "float)");
  }
  const uint64_t data = header->data_offset;
  if ((file_size - data) / size->second < n) return bad("holds fewer values than its shape, " + std::to_string(n));
  std::string bytes(n * size->second, '\0');
  VX_RETURN_IF_ERROR(PreadExact(path, fd.get(), bytes.data(), bytes.size(), data));
  const char* p = bytes.data();
  *is_int = descr[1] != 'f';
  ints->clear();
  floats->clear();
  for (uint64_t i = 0; i < n; ++i, p += size->second) {
    if (descr == "<f4" || descr == "<f8") {
      float f;
      double d;
      if (size->second == 4)
        std::memcpy(&f, p, 4), d = f;
      else
        std::memcpy(&d, p, 8);
      floats->push_back(d);
    } else if (descr == "<i4" || descr == "<u4") {
      int32_t x;
      uint32_t u;
      std::memcpy(&x, p, 4);
      std::memcpy(&u, p, 4);
      ints->push_back(descr == "<i4" ? int64_t{x} : int64_t{u});
    } else {
      uint64_t u;
      std::memcpy(&u, p, 8);
      if (descr == "<u8" && u > uint64_t{std::numeric_limits<int64_t>::max()})
        return bad("value " + std::to_string(i) + " (" + std::to_string(u) + ") is past int64");
      ints->push_back(static_cast<int64_t>(u));
    }
  }
  return Status::Ok();
}

}  // namespace

const char* AttributeTypeName(AttributeType t) {
  switch (t) {
    case AttributeType::kInt:
      return "int";
    case AttributeType::kFloat:
      return "float";
    case AttributeType::kLabels:
      return "labels";
  }
  return "?";
}

Result<uint64_t> Attributes::Rows() const {
  uint64_t rows = 0;
  std::set<std::string> names;
  for (size_t i = 0; i < columns.size(); ++i) {
    const AttributeColumn& c = columns[i];
    const std::string which = "attributes: column '" + c.name + "'";
    if (!ValidName(c.name)) return Status::InvalidArgument(which + ": a name is [A-Za-z_][A-Za-z0-9_]*");
    if (!names.insert(c.name).second) return Status::InvalidArgument(which + " appears twice");
    uint64_t n = 0;
    switch (c.type) {
      case AttributeType::kInt:
        n = c.ints.size();
        break;
      case AttributeType::kFloat:
        n = c.floats.size();
        for (uint64_t r = 0; r < n; ++r) {
          if (!std::isfinite(c.floats[r]))
            return Status::InvalidArgument(which + ": row " + std::to_string(r) + " is not a finite number");
        }
        break;
      case AttributeType::kLabels:
        if (c.offsets.empty() || c.offsets[0] != 0 || c.offsets.back() != c.labels.size())
          return Status::InvalidArgument(which + ": offsets must run from 0 to the number of labels");
        n = c.offsets.size() - 1;
        for (uint64_t r = 0; r < n; ++r) {
          if (c.offsets[r] > c.offsets[r + 1])
            return Status::InvalidArgument(which + ": offsets fall at row " + std::to_string(r));
        }
        break;
    }
    if (i > 0 && n != rows) {
      return Status::InvalidArgument(which + " holds " + std::to_string(n) + " rows, column '" + columns[0].name +
                                     "' " + std::to_string(rows));
    }
    rows = n;
  }
  return rows;
}

Result<Attributes> Attributes::ReadJsonl(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError(path + ": cannot open: " + std::strerror(errno));
  Attributes a;
  std::map<std::string, size_t> index;  // column name -> its place in a.columns
  std::string line;
  uint64_t row = 0;
  for (uint64_t line_no = 1; std::getline(in, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ": line " + std::to_string(line_no);
    nlohmann::ordered_json j;
    try {
      j = nlohmann::ordered_json::parse(line);
    } catch (const nlohmann::ordered_json::parse_error& e) {
      return Status::InvalidArgument(where + ": not JSON (" + e.what() + ")");
    }
    if (!j.is_object()) return Status::InvalidArgument(where + ": not a JSON object");
    if (row == 0) {
      for (const auto& [name, v] : j.items()) {
        AttributeColumn c;
        c.name = name;
        if (!ValidName(name))
          return Status::InvalidArgument(where + ": column '" + name + "': a name is [A-Za-z_][A-Za-z0-9_]*");
        if (v.is_number()) {
          c.type = AttributeType::kInt;  // kFloat once a value has a fraction
        } else if (v.is_array()) {
          c.type = AttributeType::kLabels;
          c.offsets.push_back(0);
        } else {
          return Status::InvalidArgument(where + ": column '" + name + "' is " + v.type_name() +
                                         "; a column is an integer, a number or an array of integer labels");
        }
        index[name] = a.columns.size();
        a.columns.push_back(std::move(c));
      }
      if (a.columns.empty()) return Status::InvalidArgument(where + ": no columns");
    }
    for (const auto& [name, v] : j.items()) {
      if (!index.count(name))
        return Status::InvalidArgument(where + ": column '" + name + "' is not among the first line's columns");
    }
    for (AttributeColumn& c : a.columns) {
      const auto it = j.find(c.name);
      if (it == j.end()) return Status::InvalidArgument(where + ": column '" + c.name + "' is missing");
      const nlohmann::ordered_json& v = *it;
      const std::string col = where + ", column '" + c.name + "': ";
      const auto integer = [&](const nlohmann::ordered_json& x, int64_t* out) {
        if (x.is_number_unsigned() && x.get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()}) return false;
        if (!x.is_number_integer()) return false;
        *out = x.get<int64_t>();
        return true;
      };
      int64_t i = 0;
      switch (c.type) {
        case AttributeType::kInt:
        case AttributeType::kFloat:
          // Both forms kept until the end decides: an int64 column loses
          // nothing to a double, a float one takes integers too.
          if (!v.is_number()) return Status::InvalidArgument(col + "expected a number, found " + v.dump());
          if (v.is_number_float()) {
            c.type = AttributeType::kFloat;
          } else if (c.type == AttributeType::kInt && !integer(v, &i)) {
            return Status::InvalidArgument(col + "the integer " + v.dump() + " is past int64");
          }
          if (c.type == AttributeType::kInt) c.ints.push_back(i);
          c.floats.push_back(v.get<double>());
          break;
        case AttributeType::kLabels:
          if (!v.is_array()) return Status::InvalidArgument(col + "expected an array of labels, found " + v.dump());
          for (const nlohmann::ordered_json& x : v) {
            if (!integer(x, &i)) return Status::InvalidArgument(col + "a label is an int64 integer, found " + x.dump());
            c.labels.push_back(i);
          }
          c.offsets.push_back(c.labels.size());
          break;
      }
    }
    ++row;
  }
  if (in.bad()) return Status::IOError(path + ": read failed");
  if (row == 0) return Status::InvalidArgument(path + ": no rows");
  for (AttributeColumn& c : a.columns) {
    if (c.type == AttributeType::kInt) c.floats = {};
    if (c.type == AttributeType::kFloat) c.ints = {};
  }
  return a;
}

Result<Attributes> Attributes::ReadNpyDir(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename();
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) names.push_back(name);
  }
  if (ec) return Status::IOError(dir + ": cannot list: " + ec.message());
  std::sort(names.begin(), names.end());
  const auto ends = [](const std::string& s, const std::string& suffix) {
    return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  // A labels column is a pair of files: neither without the other.
  for (const std::string& name : names) {
    for (const auto& [have, need] :
         {std::pair<std::string, std::string>{".labels.npy", ".offsets.npy"}, {".offsets.npy", ".labels.npy"}}) {
      if (!ends(name, have)) continue;
      const std::string col = name.substr(0, name.size() - have.size());
      if (!std::binary_search(names.begin(), names.end(), col + need))
        return Status::InvalidArgument(dir + "/" + name + ": a labels column needs " + col + need + " beside it");
    }
  }
  Attributes a;
  for (const std::string& name : names) {
    AttributeColumn c;
    bool is_int = true;
    const std::string path = dir + "/" + name;
    if (ends(name, ".labels.npy")) continue;  // read with its offsets
    if (ends(name, ".offsets.npy")) {
      c.name = name.substr(0, name.size() - 12);
      c.type = AttributeType::kLabels;
      std::vector<int64_t> offsets;
      std::vector<double> unused;
      VX_RETURN_IF_ERROR(ReadNpyColumn(path, &offsets, &unused, &is_int));
      if (!is_int) return Status::InvalidArgument(path + ": offsets are integers");
      if (offsets.empty() || offsets[0] != 0)
        return Status::InvalidArgument(path + ": offsets start at 0 and hold rows + 1 values");
      for (size_t i = 1; i < offsets.size(); ++i) {
        if (offsets[i] < offsets[i - 1])
          return Status::InvalidArgument(path + ": offsets fall at " + std::to_string(i));
      }
      c.offsets.assign(offsets.begin(), offsets.end());
      const std::string lpath = dir + "/" + c.name + ".labels.npy";
      VX_RETURN_IF_ERROR(ReadNpyColumn(lpath, &c.labels, &unused, &is_int));
      if (!is_int) return Status::InvalidArgument(lpath + ": labels are integers");
      if (c.labels.size() != c.offsets.back()) {
        return Status::InvalidArgument(lpath + ": holds " + std::to_string(c.labels.size()) + " labels; " + path +
                                       " ends at " + std::to_string(c.offsets.back()));
      }
    } else {
      c.name = name.substr(0, name.size() - 4);
      VX_RETURN_IF_ERROR(ReadNpyColumn(path, &c.ints, &c.floats, &is_int));
      c.type = is_int ? AttributeType::kInt : AttributeType::kFloat;
    }
    a.columns.push_back(std::move(c));
  }
  if (a.columns.empty()) return Status::InvalidArgument(dir + ": no .npy columns");
  if (Result<uint64_t> rows = a.Rows(); !rows.ok()) return rows.status().WithContext(dir);
  return a;
}

RowSet::RowSet() : b_(Checked(roaring_bitmap_create())) {}
RowSet::RowSet(roaring_bitmap_s* owned) : b_(Checked(owned)) {}
RowSet::RowSet(RowSet&& o) noexcept : b_(o.b_) { o.b_ = nullptr; }
RowSet& RowSet::operator=(RowSet&& o) noexcept {
  std::swap(b_, o.b_);
  return *this;
}
RowSet::~RowSet() {
  if (b_ != nullptr) roaring_bitmap_free(b_);
}
bool RowSet::Admit(uint32_t row) const { return roaring_bitmap_contains(b_, row); }
uint64_t RowSet::size() const { return roaring_bitmap_get_cardinality(b_); }
void RowSet::Rows(std::vector<uint32_t>* out, uint64_t first, uint64_t count) const {
  out->resize(count);
  if (count > 0) roaring_bitmap_range_uint32_array(b_, first, count, out->data());
}

Result<std::string> AttrIndex::Serialize(const Attributes& a, std::span<const uint32_t> row_of) {
  VX_ASSIGN_OR_RETURN(const uint64_t rows, a.Rows());
  if (!row_of.empty() && row_of.size() != rows) {
    return Status::InvalidArgument("attributes hold " + std::to_string(rows) + " rows, the index " +
                                   std::to_string(row_of.size()));
  }
  const auto src = [&](uint64_t r) { return row_of.empty() ? r : row_of[r]; };
  std::string out;
  Put(&out, kAttrsMagic);
  Put(&out, kAttrsVersion);
  Put(&out, rows);
  Put(&out, static_cast<uint32_t>(a.columns.size()));
  for (const AttributeColumn& c : a.columns) {
    Put(&out, static_cast<uint32_t>(c.name.size()));
    out += c.name;
    Put(&out, static_cast<uint32_t>(c.type));
    switch (c.type) {
      case AttributeType::kInt:
        for (uint64_t r = 0; r < rows; ++r) Put(&out, c.ints[src(r)]);
        break;
      case AttributeType::kFloat:
        for (uint64_t r = 0; r < rows; ++r) Put(&out, c.floats[src(r)]);
        break;
      case AttributeType::kLabels: {
        uint64_t at = 0;
        Put(&out, at);
        for (uint64_t r = 0; r < rows; ++r) Put(&out, at += c.offsets[src(r) + 1] - c.offsets[src(r)]);
        for (uint64_t r = 0; r < rows; ++r) {
          for (uint64_t i = c.offsets[src(r)]; i < c.offsets[src(r) + 1]; ++i) Put(&out, c.labels[i]);
        }
        break;
      }
    }
  }
  return out;
}

Result<Attributes> AttrIndex::Parse(const std::string& bytes, uint64_t rows, const std::string& path) {
  const auto corrupt = [&](const std::string& what) { return Status::Corruption(path + ": " + what); };
  Reader in(bytes);
  uint32_t magic = 0, version = 0, ncols = 0;
  uint64_t file_rows = 0;
  if (!in.Get(&magic) || magic != kAttrsMagic) return corrupt("not an attributes file (bad magic)");
  if (!in.Get(&version) || version != kAttrsVersion)
    return Status::NotSupported(path + ": attributes format version " + std::to_string(version) + " is unknown");
  if (!in.Get(&file_rows) || !in.Get(&ncols)) return corrupt("truncated header");
  if (file_rows != rows)
    return corrupt("holds " + std::to_string(file_rows) + " rows; the index has " + std::to_string(rows));
  Attributes all;
  for (uint32_t k = 0; k < ncols; ++k) {
    AttributeColumn c;
    uint32_t len = 0, type = 0;
    if (!in.Get(&len) || !in.Bytes(&c.name, len) || !in.Get(&type) || type > 2)
      return corrupt("column " + std::to_string(k) + ": truncated or of an unknown type");
    c.type = static_cast<AttributeType>(type);
    bool ok = true;
    switch (c.type) {
      case AttributeType::kInt:
        ok = in.Many(&c.ints, rows);
        break;
      case AttributeType::kFloat:
        ok = in.Many(&c.floats, rows);
        break;
      case AttributeType::kLabels:
        ok = in.Many(&c.offsets, rows + 1) && in.Many(&c.labels, c.offsets.back());
        break;
    }
    if (!ok) return corrupt("column '" + c.name + "' is truncated");
    all.columns.push_back(std::move(c));
  }
  if (!in.done()) return corrupt("bytes past the last column");
  if (Result<uint64_t> r = all.Rows(); !r.ok()) return corrupt(r.status().message());
  return all;
}

Result<std::unique_ptr<AttrIndex>> AttrIndex::Load(const std::string& bytes, uint64_t rows, const std::string& path) {
  VX_ASSIGN_OR_RETURN(Attributes all, Parse(bytes, rows, path));
  auto idx = std::unique_ptr<AttrIndex>(new AttrIndex());
  idx->rows_ = rows;
  for (AttributeColumn& c : all.columns) {
    Column col;
    const std::string name = c.name;
    idx->bytes_ += c.ints.size() * 8 + c.floats.size() * 8 + c.offsets.size() * 8 + c.labels.size() * 8;
    if (c.type == AttributeType::kLabels) {
      std::map<int64_t, std::vector<uint32_t>> rows_of;
      for (uint64_t r = 0; r < rows; ++r) {
        for (uint64_t i = c.offsets[r]; i < c.offsets[r + 1]; ++i) rows_of[c.labels[i]].push_back(uint32_t(r));
      }
      for (auto& [label, list] : rows_of) {
        list.erase(std::unique(list.begin(), list.end()), list.end());
        RowSet s(roaring_bitmap_of_ptr(list.size(), list.data()));
        roaring_bitmap_run_optimize(s.raw());
        idx->bytes_ += roaring_bitmap_portable_size_in_bytes(s.raw()) + 48;
        col.postings.emplace(label, std::move(s));
      }
    } else {
      col.by_value.resize(rows);
      for (uint64_t r = 0; r < rows; ++r) col.by_value[r] = static_cast<uint32_t>(r);
      if (c.type == AttributeType::kInt) {
        std::stable_sort(col.by_value.begin(), col.by_value.end(),
                         [&](uint32_t x, uint32_t y) { return c.ints[x] < c.ints[y]; });
      } else {
        std::stable_sort(col.by_value.begin(), col.by_value.end(),
                         [&](uint32_t x, uint32_t y) { return c.floats[x] < c.floats[y]; });
      }
      idx->bytes_ += rows * sizeof(uint32_t);
      for (uint64_t first = 0; first < rows; first += kBucketRows) {
        std::vector<uint32_t> bucket(col.by_value.begin() + first,
                                     col.by_value.begin() + std::min<uint64_t>(rows, first + kBucketRows));
        std::sort(bucket.begin(), bucket.end());
        RowSet b(roaring_bitmap_of_ptr(bucket.size(), bucket.data()));
        roaring_bitmap_run_optimize(b.raw());
        idx->bytes_ += roaring_bitmap_portable_size_in_bytes(b.raw()) + 48;
        col.buckets.push_back(std::move(b));
      }
    }
    col.values = std::move(c);
    idx->schema_.emplace_back(name, col.values.type);
    idx->columns_.push_back(std::move(col));
  }
  return idx;
}

void AppendRows(const AttributeColumn& c, std::span<const uint32_t> rows, AttributeColumn* out) {
  if (out->name.empty()) {
    out->name = c.name;
    out->type = c.type;
    if (c.type == AttributeType::kLabels) out->offsets.push_back(0);
  }
  for (uint32_t r : rows) {
    switch (c.type) {
      case AttributeType::kInt:
        out->ints.push_back(c.ints[r]);
        break;
      case AttributeType::kFloat:
        out->floats.push_back(c.floats[r]);
        break;
      case AttributeType::kLabels:
        out->labels.insert(out->labels.end(), c.labels.begin() + c.offsets[r], c.labels.begin() + c.offsets[r + 1]);
        out->offsets.push_back(out->labels.size());
        break;
    }
  }
}

Attributes Attributes::Slice(uint64_t first, uint64_t n) const {
  std::vector<uint32_t> rows(n);
  std::iota(rows.begin(), rows.end(), static_cast<uint32_t>(first));
  Attributes out;
  out.columns.resize(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) AppendRows(columns[c], rows, &out.columns[c]);
  return out;
}

Result<Attributes> ConformAttributes(const Attributes& given, const AttrSchema& schema, uint64_t rows) {
  if (schema.empty()) {
    if (given.empty()) return Attributes();
    return Status::InvalidArgument("attributes: the index has no attribute columns (it was built without them)");
  }
  if (given.empty()) {
    return Status::InvalidArgument("attributes: the index's rows carry columns (" + AttributeSchema(schema) +
                                   "); give every inserted row its values");
  }
  VX_ASSIGN_OR_RETURN(const uint64_t n, given.Rows());
  if (n != rows) {
    return Status::InvalidArgument("attributes: " + std::to_string(n) + " rows for a batch of " + std::to_string(rows));
  }
  Attributes out;
  for (const auto& column : schema) {
    const std::string& name = column.first;
    const AttributeType type = column.second;
    const auto it = std::find_if(given.columns.begin(), given.columns.end(),
                                 [&](const AttributeColumn& c) { return c.name == name; });
    if (it == given.columns.end()) {
      return Status::InvalidArgument("attributes: column '" + name + "' (" + AttributeTypeName(type) +
                                     ") is missing; the index's are " + AttributeSchema(schema));
    }
    AttributeColumn c = *it;
    if (c.type == AttributeType::kInt && type == AttributeType::kFloat) {  // 3 given for a price
      c.type = AttributeType::kFloat;
      c.floats.assign(c.ints.begin(), c.ints.end());
      c.ints.clear();
    }
    if (c.type != type) {
      return Status::InvalidArgument("attributes: column '" + name + "' is " + AttributeTypeName(c.type) +
                                     "; the index's is " + AttributeTypeName(type));
    }
    out.columns.push_back(std::move(c));
  }
  for (const AttributeColumn& c : given.columns) {
    if (std::none_of(schema.begin(), schema.end(), [&](const auto& s) { return s.first == c.name; })) {
      return Status::InvalidArgument("attributes: column '" + c.name + "' is not one of the index's (" +
                                     AttributeSchema(schema) + ")");
    }
  }
  return out;
}

Attributes AttrIndex::Select(std::span<const uint32_t> rows) const {
  Attributes a;
  a.columns.resize(columns_.size());
  for (size_t i = 0; i < columns_.size(); ++i) AppendRows(columns_[i].values, rows, &a.columns[i]);
  return a;
}

RowSet AttrIndex::Slice(const Column& c, size_t first, size_t last) {
  RowSet out;
  const auto add = [&](size_t from, size_t to) {
    if (from >= to) return;
    std::vector<uint32_t> rows(c.by_value.begin() + from, c.by_value.begin() + to);
    std::sort(rows.begin(), rows.end());
    roaring_bitmap_add_many(out.raw(), rows.size(), rows.data());
  };
  const size_t b0 = (first + kBucketRows - 1) / kBucketRows, b1 = last / kBucketRows;
  if (b0 >= b1) {
    add(first, last);
    return out;
  }
  std::vector<const roaring_bitmap_t*> full;
  for (size_t b = b0; b < b1; ++b) full.push_back(c.buckets[b].raw());
  out = RowSet(roaring_bitmap_or_many(full.size(), full.data()));
  add(first, b0 * kBucketRows);
  add(b1 * kBucketRows, last);
  return out;
}

RowSet AttrIndex::IntRange(size_t col, int64_t lo, int64_t hi) const {
  const Column& c = columns_[col];
  const std::vector<int64_t>& v = c.values.ints;
  const auto first =
      std::lower_bound(c.by_value.begin(), c.by_value.end(), lo, [&](uint32_t r, int64_t x) { return v[r] < x; });
  const auto last = std::upper_bound(first, c.by_value.end(), hi, [&](int64_t x, uint32_t r) { return x < v[r]; });
  return Slice(c, first - c.by_value.begin(), last - c.by_value.begin());
}

RowSet AttrIndex::FloatRange(size_t col, double lo, double hi, bool lo_open, bool hi_open) const {
  const Column& c = columns_[col];
  const std::vector<double>& v = c.values.floats;
  const auto first = std::partition_point(c.by_value.begin(), c.by_value.end(),
                                          [&](uint32_t r) { return lo_open ? v[r] <= lo : v[r] < lo; });
  const auto last =
      std::partition_point(first, c.by_value.end(), [&](uint32_t r) { return hi_open ? v[r] < hi : v[r] <= hi; });
  return Slice(c, first - c.by_value.begin(), last - c.by_value.begin());
}

RowSet AttrIndex::Label(size_t col, int64_t label) const {
  const std::map<int64_t, RowSet>& postings = columns_[col].postings;
  const auto p = postings.find(label);
  return p == postings.end() ? RowSet() : RowSet(roaring_bitmap_copy(p->second.raw()));
}

RowSet AttrIndex::Complement(RowSet s) const { return RowSet(roaring_bitmap_flip(s.raw(), 0, rows_)); }

namespace {

// The inserted rows' attributes as FilterColumns: each condition one pass
// over the rows' values.
class InsertedColumns final : public FilterColumns {
 public:
  explicit InsertedColumns(const DeltaView& d) : d_(d) {}
  const AttrSchema& schema() const override { return d_.schema; }
  RowSet IntRange(size_t col, int64_t lo, int64_t hi) const override {
    return Where(col, [&](const DeltaChunk::Attr& a, uint64_t i) { return lo <= a.ints[i] && a.ints[i] <= hi; });
  }
  RowSet FloatRange(size_t col, double lo, double hi, bool lo_open, bool hi_open) const override {
    return Where(col, [&](const DeltaChunk::Attr& a, uint64_t i) {
      const double v = a.floats[i];
      return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
    });
  }
  RowSet Label(size_t col, int64_t label) const override {
    return Where(col, [&](const DeltaChunk::Attr& a, uint64_t i) {
      return std::find(a.labels[i].begin(), a.labels[i].end(), label) != a.labels[i].end();
    });
  }
  RowSet Complement(RowSet s) const override {
    return RowSet(roaring_bitmap_flip(s.raw(), d_.base_rows, d_.base_rows + d_.rows));
  }

 private:
  template <class Test>
  RowSet Where(size_t col, const Test& test) const {
    thread_local std::vector<uint32_t> rows;
    rows.clear();
    for (uint64_t r = 0; r < d_.rows; ++r) {
      const DeltaChunk::Attr& a = d_.chunks[r / DeltaChunk::kRows]->attrs[col];
      if (test(a, r % DeltaChunk::kRows)) rows.push_back(static_cast<uint32_t>(d_.base_rows + r));
    }
    return RowSet(roaring_bitmap_of_ptr(rows.size(), rows.data()));
  }
  const DeltaView& d_;
};

}  // namespace

Result<RowSet> MatchFilter(const Filter& f, const DeltaView& delta) { return MatchFilter(f, InsertedColumns(delta)); }

namespace {

Result<RowSet> Eval(const Filter::Node& n, const std::string& text, const FilterColumns& cols) {
  using Kind = Filter::Node::Kind;
  using Op = Filter::Node::Op;
  if (n.kind == Kind::kAnd || n.kind == Kind::kOr) {
    VX_ASSIGN_OR_RETURN(RowSet out, Eval(*n.kids[0], text, cols));
    for (size_t i = 1; i < n.kids.size(); ++i) {
      VX_ASSIGN_OR_RETURN(const RowSet kid, Eval(*n.kids[i], text, cols));
      if (n.kind == Kind::kAnd) {
        roaring_bitmap_and_inplace(out.raw(), kid.raw());
      } else {
        roaring_bitmap_or_inplace(out.raw(), kid.raw());
      }
    }
    return out;
  }
  if (n.kind == Kind::kNot) {
    VX_ASSIGN_OR_RETURN(RowSet kid, Eval(*n.kids[0], text, cols));
    return cols.Complement(std::move(kid));
  }
  // The error prefix, built only for an error (Eval runs per query).
  const auto where = [&] { return "filter: column '" + n.column + "' at character " + std::to_string(n.at + 1); };
  const AttrSchema& schema = cols.schema();
  const auto it = std::find_if(schema.begin(), schema.end(), [&](const auto& c) { return c.first == n.column; });
  if (it == schema.end()) {
    std::string names;
    for (const auto& c : schema) names += (names.empty() ? "" : ", ") + c.first;
    return Status::InvalidArgument(where() + ": the index has no such column (it has: " + names + "), in: " + text);
  }
  const size_t col = it - schema.begin();
  const AttributeType type = it->second;
  const double inf = std::numeric_limits<double>::infinity();
  if (type == AttributeType::kLabels) {
    if (n.kind != Kind::kHas) {
      return Status::InvalidArgument(where() + " holds labels: test it with " + n.column + " HAS label, in: " + text);
    }
    if (!n.values[0].is_int) return Status::InvalidArgument(where() + ": a label is an integer, in: " + text);
    return cols.Label(col, n.values[0].i);
  }
  if (n.kind == Kind::kHas) {
    return Status::InvalidArgument(where() + " is " + AttributeTypeName(type) +
                                   "; HAS takes a labels column, in: " + text);
  }
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min(), kMax = std::numeric_limits<int64_t>::max();
  // A range with bounds as doubles; on an int column rounded inward
  // (v > lo: v >= floor(lo) + 1; v >= lo: v >= ceil(lo); likewise above).
  const auto range = [&](double lo, double hi, bool lo_open, bool hi_open) {
    if (type == AttributeType::kFloat) return cols.FloatRange(col, lo, hi, lo_open, hi_open);
    const double l = lo_open ? std::floor(lo) + 1 : std::ceil(lo);
    const double h = hi_open ? std::ceil(hi) - 1 : std::floor(hi);
    return l > h ? RowSet() : cols.IntRange(col, Saturate(l), Saturate(h));
  };
  // Equality with an int literal is exact on an int column (no rounding
  // through double); everything else compares as double.
  const FilterValue& v = n.values[0];
  const bool exact_int = type == AttributeType::kInt && v.is_int;
  const auto equal = [&](const FilterValue& x) {
    if (type == AttributeType::kInt && x.is_int) return cols.IntRange(col, x.i, x.i);
    return range(x.f, x.f, false, false);
  };
  if (n.kind == Kind::kBetween) return range(n.values[0].f, n.values[1].f, false, false);
  if (n.kind == Kind::kIn) {
    RowSet out;
    for (const FilterValue& x : n.values) roaring_bitmap_or_inplace(out.raw(), equal(x).raw());
    return n.negated ? cols.Complement(std::move(out)) : std::move(out);
  }
  switch (n.op) {
    case Op::kEq:
      return equal(v);
    case Op::kNe:
      return cols.Complement(equal(v));
    case Op::kLt:
      if (exact_int) return v.i == kMin ? RowSet() : cols.IntRange(col, kMin, v.i - 1);
      return range(-inf, v.f, false, true);
    case Op::kLe:
      if (exact_int) return cols.IntRange(col, kMin, v.i);
      return range(-inf, v.f, false, false);
    case Op::kGt:
      if (exact_int) return v.i == kMax ? RowSet() : cols.IntRange(col, v.i + 1, kMax);
      return range(v.f, inf, true, false);
    case Op::kGe:
      if (exact_int) return cols.IntRange(col, v.i, kMax);
      return range(v.f, inf, false, false);
  }
  return Status::InvalidArgument("filter: unknown operator");
}

}  // namespace

Result<RowSet> MatchFilter(const Filter& f, const FilterColumns& columns) { return Eval(f.root(), f.text(), columns); }

}  // namespace vx

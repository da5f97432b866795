// Filtered search, for both index types under L2 and cosine: filter
// expressions parse (and their errors point at the character), attributes
// load from JSONL (errors name the line and the column), and a search with
// a filter returns min(k, matching rows) rows, every one matching, at the
// recall of exact search over the matching rows, by the plan its match
// count picks; attributes survive reopening and a reindex, and a damaged
// attrs file fails the open.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/dataset.h"
#include "index/attrs.h"
#include "index_test_util.h"
#include "vx/index.h"

namespace vx {
namespace {

constexpr uint64_t kRows = 6000;
constexpr uint32_t kDim = 32;

int64_t KeyOf(uint64_t row) { return 5'000'000 + 3 * static_cast<int64_t>(row); }

// The attribute values of row r, computed by the test, not read back.
int64_t Tenant(uint64_t r) { return r == 17 ? 999 : int64_t((r * 7) % 50); }
int64_t Created(uint64_t r) { return 1'700'000'000 + 10 * int64_t(r); }
double Price(uint64_t r) { return double(r % 1000) * 0.25 + 0.1; }
std::vector<int64_t> Tags(uint64_t r) {
  if (r % 500 == 5) return {};
  std::vector<int64_t> t{int64_t(r % 3), 10 + int64_t(r % 7)};
  if (r % 100 == 0) t.push_back(77);
  return t;
}
bool Has(uint64_t r, int64_t tag) {
  const auto t = Tags(r);
  return std::find(t.begin(), t.end(), tag) != t.end();
}

// The attributes of `rows` (default: every row), in that order.
Attributes MakeAttributes(const std::vector<uint64_t>& rows = {}) {
  Attributes a;
  AttributeColumn tenant{"tenant_id", AttributeType::kInt, {}, {}, {}, {}};
  AttributeColumn created{"created_at", AttributeType::kInt, {}, {}, {}, {}};
  AttributeColumn price{"price", AttributeType::kFloat, {}, {}, {}, {}};
  AttributeColumn tags{"tags", AttributeType::kLabels, {}, {}, {0}, {}};
  for (uint64_t i = 0; i < (rows.empty() ? kRows : rows.size()); ++i) {
    const uint64_t r = rows.empty() ? i : rows[i];
    tenant.ints.push_back(Tenant(r));
    created.ints.push_back(Created(r));
    price.floats.push_back(Price(r));
    for (int64_t t : Tags(r)) tags.labels.push_back(t);
    tags.offsets.push_back(tags.labels.size());
  }
  a.columns = {tenant, created, price, tags};
  return a;
}

// A filter and, beside it, what it means, evaluated by the test.
struct Case {
  std::string text;
  std::function<bool(uint64_t)> match;
};

std::vector<Case> Cases() {
  const int64_t t0 = 1'700'000'000;
  return {
      {"tenant_id = 999", [](uint64_t r) { return Tenant(r) == 999; }},  // one row
      {"tenant_id = 12345", [](uint64_t) { return false; }},             // none
      {"created_at >= 0", [](uint64_t) { return true; }},                // all
      {"tenant_id = 3", [](uint64_t r) { return Tenant(r) == 3; }},
      {"tenant_id != 3", [](uint64_t r) { return Tenant(r) != 3; }},
      {"created_at < 1700000300", [](uint64_t r) { return Created(r) < t0 + 300; }},
      {"created_at <= 1700000300", [](uint64_t r) { return Created(r) <= t0 + 300; }},
      {"created_at > 1700030000", [](uint64_t r) { return Created(r) > t0 + 30000; }},
      {"created_at BETWEEN 1700010000 AND 1700012000",
       [](uint64_t r) { return Created(r) >= t0 + 10000 && Created(r) <= t0 + 12000; }},
      {"price <= 10.1", [](uint64_t r) { return Price(r) <= 10.1; }},
      {"price < 10.1", [](uint64_t r) { return Price(r) < 10.1; }},
      {"price > 200.35", [](uint64_t r) { return Price(r) > 200.35; }},
      {"price = 0.35", [](uint64_t r) { return Price(r) == 0.35; }},
      {"price >= 3", [](uint64_t r) { return Price(r) >= 3; }},
      {"tenant_id IN (1, 2, 3)", [](uint64_t r) { return Tenant(r) >= 1 && Tenant(r) <= 3; }},
      {"tenant_id NOT IN (1, 2, 3)", [](uint64_t r) { return !(Tenant(r) >= 1 && Tenant(r) <= 3); }},
      {"tags HAS 77", [](uint64_t r) { return Has(r, 77); }},
      {"tags HAS 1", [](uint64_t r) { return Has(r, 1); }},
      {"tags has 1 and tenant_id = 3", [](uint64_t r) { return Has(r, 1) && Tenant(r) == 3; }},
      {"tags HAS 2 OR price < 5", [](uint64_t r) { return Has(r, 2) || Price(r) < 5; }},
      {"NOT (tags HAS 1)", [](uint64_t r) { return !Has(r, 1); }},
      {"NOT tags HAS 10 AND NOT tags HAS 11 AND (tenant_id < 10 OR tenant_id >= 45)",
       [](uint64_t r) { return !Has(r, 10) && !Has(r, 11) && (Tenant(r) < 10 || Tenant(r) >= 45); }},
      {"(tenant_id = 4 OR tenant_id = 5) AND NOT (price > 100 AND price < 200)",
       [](uint64_t r) { return (Tenant(r) == 4 || Tenant(r) == 5) && !(Price(r) > 100 && Price(r) < 200); }},
  };
}

// ---- Parsing

TEST(FilterParse, AcceptsEveryOperator) {
  for (const char* text :
       {"a = 1", "a != -2", "a < 1.5", "a <= 1e3", "a > -0.5", "a >= 7", "a BETWEEN 1 AND 2", "a between -1 and 2.5",
        "a IN (1)", "a in (1, 2, 3)", "a NOT IN (4, 5)", "tags HAS 3", "a = 1 AND b = 2", "a = 1 OR b = 2", "NOT a = 1",
        "not (a = 1 or b = 2) and c has 4", "((a = 1))", "  a=1  "}) {
    auto f = Filter::Parse(text);
    EXPECT_TRUE(f.ok()) << text << ": " << f.status().ToString();
    if (f.ok()) {
      EXPECT_EQ(f->text(), text);
    }
  }
}

TEST(FilterParse, ErrorsPointAtTheCharacter) {
  struct Bad {
    const char* text;
    size_t at;  // 0-based character the message must point at
  };
  for (const Bad& b : {Bad{"", 0}, Bad{"a", 1}, Bad{"a = ", 4}, Bad{"a == 1", 3}, Bad{"a = 1 AND", 9}, Bad{"(a = 1", 6},
                       Bad{"a = 1)", 5}, Bad{"a IN ()", 6}, Bad{"a IN (1,", 8}, Bad{"a BETWEEN 1 2", 12},
                       Bad{"1 = a", 0}, Bad{"a = x", 4}, Bad{"a = 1 b = 2", 6}, Bad{"a HAS", 5}, Bad{"a = 1.2.3", 4},
                       Bad{"a = 99999999999999999999", 4}}) {
    auto f = Filter::Parse(b.text);
    ASSERT_FALSE(f.ok()) << "'" << b.text << "' parsed";
    EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
    const std::string msg = f.status().ToString();
    EXPECT_NE(msg.find("at character " + std::to_string(b.at + 1)), std::string::npos) << b.text << ": " << msg;
    EXPECT_NE(msg.find(b.text), std::string::npos) << msg;
  }
}

TEST(FilterParse, DeepNestingIsAnErrorNotACrash) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += '(';
  deep += "a = 1";
  auto f = Filter::Parse(deep);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().ToString().find("nest"), std::string::npos) << f.status().ToString();
  EXPECT_LT(f.status().ToString().size(), 500u) << "a long filter is not echoed whole";
  std::string nots;
  for (int i = 0; i < 100000; ++i) nots += "NOT ";
  EXPECT_FALSE(Filter::Parse(nots + "a = 1").ok());
}

// ---- Matching rows, against brute force

// 50,000 rows (a dozen buckets): random ranges, equalities and IN lists
// over an int column of few values, an int column of many and a float
// column, combined, match exactly the rows brute force finds; and a file
// rewritten with a flipped type or cut short fails to load.
TEST(FilterMatch, RangesEqualitiesAndCombinationsAgreeWithBruteForce) {
  constexpr uint64_t kN = 50'000;
  std::mt19937_64 rng(5);
  Attributes a;
  AttributeColumn few{"few", AttributeType::kInt, {}, {}, {}, {}};
  AttributeColumn many{"many", AttributeType::kInt, {}, {}, {}, {}};
  AttributeColumn real{"real", AttributeType::kFloat, {}, {}, {}, {}};
  for (uint64_t r = 0; r < kN; ++r) {
    few.ints.push_back(int64_t(rng() % 7) - 3);
    many.ints.push_back(int64_t(rng() % 1'000'000) - 500'000);
    real.floats.push_back(double(rng() % 100'000) / 100.0 - 500.0);
  }
  a.columns = {few, many, real};
  auto bytes = AttrIndex::Serialize(a, {});
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto idx = AttrIndex::Load(*bytes, kN, "attrs");
  ASSERT_TRUE(idx.ok()) << idx.status().ToString();
  for (int t = 0; t < 60; ++t) {
    const int64_t x = int64_t(rng() % 1'100'000) - 550'000, y = x + int64_t(rng() % (t % 2 ? 1'000'000 : 20'000));
    const double f = double(rng() % 110'000) / 100.0 - 550.0, g = f + double(rng() % 50'000) / 100.0;
    const int64_t v = int64_t(rng() % 9) - 4, w = int64_t(rng() % 9) - 4;
    // The bounds as the filter's text gives them.
    const double fs = std::stod(std::to_string(f)), gs = std::stod(std::to_string(g)),
                 ys = std::stod(std::to_string(y) + ".5");
    const std::vector<std::pair<std::string, std::function<bool(uint64_t)>>> cases = {
        {"many BETWEEN " + std::to_string(x) + " AND " + std::to_string(y),
         [&](uint64_t r) { return many.ints[r] >= x && many.ints[r] <= y; }},
        {"many > " + std::to_string(x), [&](uint64_t r) { return many.ints[r] > x; }},
        {"many <= " + std::to_string(y) + ".5", [&](uint64_t r) { return double(many.ints[r]) <= ys; }},
        {"real >= " + std::to_string(f) + " AND real < " + std::to_string(g),
         [&](uint64_t r) { return real.floats[r] >= fs && real.floats[r] < gs; }},
        {"few = " + std::to_string(v), [&](uint64_t r) { return few.ints[r] == v; }},
        {"few IN (" + std::to_string(v) + ", " + std::to_string(w) + ") OR NOT many < " + std::to_string(x),
         [&](uint64_t r) { return few.ints[r] == v || few.ints[r] == w || !(many.ints[r] < x); }},
        {"few != " + std::to_string(v) + " AND real <= " + std::to_string(g),
         [&](uint64_t r) { return few.ints[r] != v && real.floats[r] <= gs; }},
    };
    for (const auto& [text, match] : cases) {
      auto filter = Filter::Parse(text);
      ASSERT_TRUE(filter.ok()) << text << ": " << filter.status().ToString();
      auto got = (*idx)->Match(*filter);
      ASSERT_TRUE(got.ok()) << text << ": " << got.status().ToString();
      std::vector<uint32_t> want;
      for (uint64_t r = 0; r < kN; ++r)
        if (match(r)) want.push_back(uint32_t(r));
      std::vector<uint32_t> rows;
      got->Rows(&rows);
      ASSERT_EQ(rows, want) << text;
    }
  }
  std::string cut = bytes->substr(0, bytes->size() - 3);
  auto bad = AttrIndex::Load(cut, kN, "gen-1/attrs");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
  EXPECT_NE(bad.status().ToString().find("gen-1/attrs"), std::string::npos) << bad.status().ToString();
  EXPECT_FALSE(AttrIndex::Load(*bytes, kN + 1, "attrs").ok());
}

// ---- JSONL input

class Jsonl : public ::testing::Test {
 protected:
  Result<Attributes> Read(const std::string& text) {
    const std::string path = dir_ / "a.jsonl";
    std::ofstream(path) << text;
    return Attributes::ReadJsonl(path);
  }
  TempDir dir_;
};

TEST_F(Jsonl, ReadsEveryColumnType) {
  auto a = Read(
      "{\"tenant_id\": 42, \"created_at\": 1700000000, \"price\": 19.5, \"tags\": [3, 7]}\n"
      "{\"tenant_id\": -1, \"created_at\": 9007199254740993, \"price\": 2, \"tags\": []}\n"
      "\n");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_EQ(a->columns.size(), 4u);
  auto rows = a->Rows();
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, 2u);
  const auto& c = a->columns;
  EXPECT_EQ(c[0].name, "tenant_id");
  EXPECT_EQ(c[0].type, AttributeType::kInt);
  EXPECT_EQ(c[0].ints, (std::vector<int64_t>{42, -1}));
  EXPECT_EQ(c[1].ints[1], 9007199254740993);  // exact beyond a double's 53 bits
  EXPECT_EQ(c[2].type, AttributeType::kFloat);
  EXPECT_EQ(c[2].floats, (std::vector<double>{19.5, 2}));
  EXPECT_EQ(c[3].type, AttributeType::kLabels);
  EXPECT_EQ(c[3].offsets, (std::vector<uint64_t>{0, 2, 2}));
  EXPECT_EQ(c[3].labels, (std::vector<int64_t>{3, 7}));
  // A column of integers until a fraction is a float column.
  a = Read("{\"p\": 0}\n{\"p\": 3}\n{\"p\": 0.5}\n");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->columns[0].type, AttributeType::kFloat);
  EXPECT_EQ(a->columns[0].floats, (std::vector<double>{0, 3, 0.5}));
  EXPECT_TRUE(a->columns[0].ints.empty());
}

TEST_F(Jsonl, BadRowsNameTheLineAndTheColumn) {
  struct Bad {
    const char* text;
    const char* line;
    const char* says;
  };
  const std::string first = "{\"t\": 1, \"p\": 1.5, \"g\": [1]}\n";
  for (const Bad& b : {
           Bad{"{\"t\": 1, \"p\": 1.5, \"g\": [1]}\n{\"t\": [1], \"p\": 1.5, \"g\": [1]}\n", "line 2", "t"},
           Bad{"{\"t\": 1, \"p\": 1.5, \"g\": [1]}\n{\"t\": 9223372036854775808, \"p\": 1, \"g\": [1]}\n", "line 2",
               "int64"},
           Bad{"{\"t\": 1, \"p\": 1.5, \"g\": [1]}\n{\"t\": 1, \"p\": \"x\", \"g\": [1]}\n", "line 2", "p"},
           Bad{"{\"t\": 1, \"p\": 1.5, \"g\": [1]}\n{\"t\": 1, \"p\": 1.5, \"g\": [1.5]}\n", "line 2", "g"},
           Bad{"{\"t\": 1, \"p\": 1.5, \"g\": [1]}\n{\"t\": 1, \"p\": 1.5, \"g\": 3}\n", "line 2", "g"},
           Bad{"{\"t\": 1, \"p\": 1.5, \"g\": [1]}\n{\"t\": 1, \"g\": [1]}\n", "line 2", "p"},
           Bad{"{\"t\": 1, \"p\": 1.5, \"g\": [1]}\n{\"t\": 1, \"p\": 1.5, \"g\": [1], \"x\": 2}\n", "line 2", "x"},
           Bad{"{\"t\": 1, \"p\": 1.5, \"g\": [1]}\n{\"t\": 1, \"p\": 1.5, \"g\": [1]}\n{\"t\": 1, \n", "line 3", ""},
           Bad{"[1, 2]\n", "line 1", ""},
           Bad{"{\"bad name\": 1}\n", "line 1", "bad name"},
           Bad{"{\"t\": null}\n", "line 1", "t"},
       }) {
    auto a = Read(b.text);
    ASSERT_FALSE(a.ok()) << b.text;
    EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument) << a.status().ToString();
    const std::string msg = a.status().ToString();
    EXPECT_NE(msg.find(b.line), std::string::npos) << msg;
    EXPECT_NE(msg.find(b.says), std::string::npos) << msg;
    EXPECT_NE(msg.find("a.jsonl"), std::string::npos) << msg;
  }
  auto missing = Attributes::ReadJsonl(dir_ / "none.jsonl");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().ToString().find("none.jsonl"), std::string::npos);
  auto empty = Read("");
  EXPECT_FALSE(empty.ok());
}

// A 1-D .npy file of n values of dtype `descr` (e.g. "<f8"), version 1.
template <class T>
void WriteNpy(const std::string& path, const std::string& descr, const std::vector<T>& v) {
  std::string h = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + std::to_string(v.size()) + ",), }";
  while ((10 + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  std::ofstream f(path, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const uint16_t n = static_cast<uint16_t>(h.size());
  f.write(reinterpret_cast<const char*>(&n), 2);
  f << h;
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
}

TEST(AttributesNpy, ReadsADirectoryOfColumnsAndNamesTheBadFile) {
  TempDir dir;
  WriteNpy<int64_t>(dir / "tenant.npy", "<i8", {4, -2, 9});
  WriteNpy<int32_t>(dir / "year.npy", "<i4", {2020, 2021, 2022});
  WriteNpy<double>(dir / "price.npy", "<f8", {1.25, 0, 1e9});
  WriteNpy<float>(dir / "score.npy", "<f4", {0.5f, 1.5f, -2});
  WriteNpy<uint64_t>(dir / "tags.offsets.npy", "<u8", {0, 2, 2, 3});
  WriteNpy<int64_t>(dir / "tags.labels.npy", "<i8", {7, 3, 11});
  auto a = Attributes::ReadNpyDir(dir.path());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_EQ(a->columns.size(), 5u);
  std::map<std::string, const AttributeColumn*> by_name;
  for (const auto& c : a->columns) by_name[c.name] = &c;
  ASSERT_EQ(by_name.size(), 5u);
  EXPECT_EQ(by_name["tenant"]->type, AttributeType::kInt);
  EXPECT_EQ(by_name["tenant"]->ints, (std::vector<int64_t>{4, -2, 9}));
  EXPECT_EQ(by_name["year"]->ints, (std::vector<int64_t>{2020, 2021, 2022}));
  EXPECT_EQ(by_name["price"]->type, AttributeType::kFloat);
  EXPECT_EQ(by_name["price"]->floats, (std::vector<double>{1.25, 0, 1e9}));
  EXPECT_EQ(by_name["score"]->floats, (std::vector<double>{0.5, 1.5, -2}));
  EXPECT_EQ(by_name["tags"]->type, AttributeType::kLabels);
  EXPECT_EQ(by_name["tags"]->offsets, (std::vector<uint64_t>{0, 2, 2, 3}));
  EXPECT_EQ(by_name["tags"]->labels, (std::vector<int64_t>{7, 3, 11}));
  // A column of another length, a dtype that is no column, labels without offsets.
  const auto expect_error = [&](const std::string& says) {
    auto bad = Attributes::ReadNpyDir(dir.path());
    ASSERT_FALSE(bad.ok()) << says;
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << bad.status().ToString();
    EXPECT_NE(bad.status().ToString().find(says), std::string::npos) << bad.status().ToString();
  };
  WriteNpy<int64_t>(dir / "year.npy", "<i8", {1, 2});
  expect_error("year");
  WriteNpy<int64_t>(dir / "year.npy", "<i8", {1, 2, 3});
  WriteNpy<uint8_t>(dir / "flag.npy", "|u1", {1, 0, 1});
  expect_error("flag.npy");
  std::filesystem::remove(dir / "flag.npy");
  std::filesystem::rename(dir / "tags.offsets.npy", dir / "tag.offsets.npy");
  expect_error("tag.offsets.npy: a labels column needs tag.labels.npy");
  std::filesystem::rename(dir / "tag.offsets.npy", dir / "tags.offsets.npy");
  WriteNpy<int64_t>(dir / "tags.offsets.npy", "<i8", {0, 2, 1, 3});
  expect_error("offsets fall");
  WriteNpy<int64_t>(dir / "tags.offsets.npy", "<i8", {0, 2, 2, 3});
  std::ofstream(dir / "junk.npy") << "not numpy";
  expect_error("junk.npy");
}

// ---- Searches

struct Param {
  IndexType type;
  Metric metric;
};

class FilterTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    o_ = DeterministicOptions(GetParam().type);
    o_.metric = GetParam().metric;
    for (uint64_t i = 0; i < kRows; ++i) o_.keys.push_back(KeyOf(i));
    o_.attributes = MakeAttributes();
    b_ = BuildSyntheticIndex(o_);
    auto reader = VectorReader::Open(b_->dir / "base.fbin");
    ASSERT_TRUE(reader.ok());
    base_.resize(kRows * kDim);
    ASSERT_TRUE((*reader)->ReadFloat(kRows, base_.data()).ok());
    p_.k = 10;
    p_.ef_search = 64;
    p_.probes = 3;
  }

  float Distance(const float* q, uint64_t r) const {
    const float* v = &base_[r * kDim];
    if (GetParam().metric == Metric::kL2) {
      float d = 0;
      for (uint32_t j = 0; j < kDim; ++j) d += (q[j] - v[j]) * (q[j] - v[j]);
      return d;
    }
    double dot = 0, qq = 0, vv = 0;
    for (uint32_t j = 0; j < kDim; ++j) dot += q[j] * v[j], qq += q[j] * q[j], vv += v[j] * v[j];
    return float(1 - dot / std::sqrt(qq * vv));
  }

  // Checks every query's results against exact search over the rows `c`
  // matches (less `deleted`): min(k, matches) distinct results, each
  // matching, ascending; returns recall@k.
  double CheckAndRecall(const Index& index, const Case& c, const SearchParams& p, SearchStats* stats,
                        const std::set<uint64_t>& deleted = {}) const {
    auto f = Filter::Parse(c.text);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    SearchParams fp = p;
    fp.filter = &*f;
    std::vector<uint64_t> rows;
    for (uint64_t r = 0; r < kRows; ++r)
      if (c.match(r) && !deleted.count(r)) rows.push_back(r);
    uint64_t hits = 0, want = 0;
    for (uint64_t q = 0; q < b_->queries.rows; ++q) {
      std::vector<SearchResult> got;
      const Status s = index.Search(b_->queries.row(q), fp, &got, stats);
      EXPECT_TRUE(s.ok()) << c.text << ": " << s.ToString();
      std::vector<std::pair<float, int64_t>> exact;
      for (uint64_t r : rows) exact.push_back({Distance(b_->queries.row(q), r), KeyOf(r)});
      const size_t k = std::min<size_t>(p.k, exact.size());
      std::partial_sort(exact.begin(), exact.begin() + k, exact.end());
      EXPECT_EQ(got.size(), k) << c.text << ", query " << q;
      std::set<int64_t> seen;
      for (size_t i = 0; i < got.size(); ++i) {
        const int64_t key = got[i].key;
        EXPECT_TRUE(seen.insert(key).second) << c.text << ": key " << key << " twice";
        const uint64_t r = uint64_t(key - KeyOf(0)) / 3;
        EXPECT_TRUE(key >= KeyOf(0) && (key - KeyOf(0)) % 3 == 0 && r < kRows && c.match(r) && !deleted.count(r))
            << c.text << ": query " << q << " returned key " << key << ", which does not match";
        if (i > 0) {
          EXPECT_LE(got[i - 1].distance, got[i].distance);
        }
        for (size_t j = 0; j < k; ++j) hits += exact[j].second == key;
      }
      want += k;
    }
    return want == 0 ? 1.0 : double(hits) / double(want);
  }

  // Inserts (or upserts) `rows` again under their keys, with their
  // vectors and attributes.
  Status InsertRows(IndexWriter& w, const std::vector<uint64_t>& rows, bool upsert) const {
    std::vector<int64_t> keys;
    std::vector<float> v;
    for (uint64_t r : rows) {
      keys.push_back(KeyOf(r));
      v.insert(v.end(), &base_[r * kDim], &base_[(r + 1) * kDim]);
    }
    const Attributes a = MakeAttributes(rows);
    return upsert ? w.Upsert(keys.data(), v.data(), keys.size(), a) : w.Insert(keys.data(), v.data(), keys.size(), a);
  }

  std::unique_ptr<Index> Open() const {
    auto index = Index::Open(b_->index(), IndexOptions{});
    EXPECT_TRUE(index.ok()) << index.status().ToString();
    return index.ok() ? std::move(*index) : nullptr;
  }

  BuildOptions o_;
  std::unique_ptr<Built> b_;
  std::vector<float> base_;
  SearchParams p_;
};

TEST_P(FilterTest, EveryFilterReturnsMinKMatchingRowsAtExactRecall) {
  auto index = Open();
  ASSERT_NE(index, nullptr);
  const IndexInfo& info = index->info();
  ASSERT_EQ(info.attributes.size(), 4u);
  EXPECT_EQ(info.attributes[0], (std::pair<std::string, AttributeType>{"tenant_id", AttributeType::kInt}));
  EXPECT_EQ(info.attributes[2], (std::pair<std::string, AttributeType>{"price", AttributeType::kFloat}));
  EXPECT_EQ(info.attributes[3], (std::pair<std::string, AttributeType>{"tags", AttributeType::kLabels}));
  EXPECT_GE(info.attribute_bytes, kRows * 3 * 8);
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.text);
    SearchStats stats;
    const double recall = CheckAndRecall(*index, c, p_, &stats);
    EXPECT_GE(recall, 0.9);
    uint64_t matches = 0;
    for (uint64_t r = 0; r < kRows; ++r) matches += c.match(r);
    EXPECT_EQ(stats.filter_rows, matches * b_->queries.rows);
    if (matches == 0) {
      EXPECT_EQ(stats.filter_scans + stats.filter_walks, 0u);
    } else {
      EXPECT_EQ(stats.filter_scans + stats.filter_walks, b_->queries.rows);
    }
  }
}

TEST_P(FilterTest, SelectiveFiltersScanAndBroadOnesWalk) {
  auto index = Open();
  ASSERT_NE(index, nullptr);
  const auto cases = Cases();
  auto find = [&](const std::string& text) {
    return *std::find_if(cases.begin(), cases.end(), [&](const Case& c) { return c.text == text; });
  };
  SearchStats one, all;
  CheckAndRecall(*index, find("tenant_id = 999"), p_, &one);
  EXPECT_EQ(one.filter_scans, b_->queries.rows);
  EXPECT_EQ(one.filter_walks, 0u);
  EXPECT_GE(one.filter_scan_limit, one.filter_rows);
  CheckAndRecall(*index, find("created_at >= 0"), p_, &all);
  EXPECT_EQ(all.filter_walks, b_->queries.rows);
  EXPECT_EQ(all.filter_scans, 0u);
  EXPECT_LT(all.filter_scan_limit, all.filter_rows);
  // The same search without the filter: the same rows.
  auto f = Filter::Parse("created_at >= 0");
  SearchParams fp = p_;
  fp.filter = &*f;
  for (uint64_t q = 0; q < b_->queries.rows; ++q) {
    std::vector<SearchResult> plain, filtered;
    ASSERT_TRUE(index->Search(b_->queries.row(q), p_, &plain, nullptr).ok());
    ASSERT_TRUE(index->Search(b_->queries.row(q), fp, &filtered, nullptr).ok());
    ASSERT_EQ(plain.size(), filtered.size());
    for (size_t i = 0; i < plain.size(); ++i) EXPECT_EQ(plain[i].key, filtered[i].key);
  }
}

// A filter that matches only the rows farthest from the query (more than
// the scan takes): the walk starts where none match and must go on past
// them (HNSW routes through unmatched nodes; IVF scans further lists) to
// find the k nearest matching rows.
TEST_P(FilterTest, AWalkFindsMatchesFarFromTheQuery) {
  const float* q0 = b_->queries.row(0);
  std::vector<std::pair<float, uint64_t>> by_distance;
  for (uint64_t r = 0; r < kRows; ++r) by_distance.push_back({Distance(q0, r), r});
  std::sort(by_distance.begin(), by_distance.end());
  std::vector<bool> far(kRows, false);
  for (uint64_t i = kRows / 3; i < kRows; ++i) far[by_distance[i].second] = true;
  BuildOptions o = o_;
  AttributeColumn col{"far", AttributeType::kInt, {}, {}, {}, {}};
  for (uint64_t r = 0; r < kRows; ++r) col.ints.push_back(far[r] ? 1 : 0);
  o.attributes.columns.push_back(col);
  const std::string dir = b_->dir / "far";
  ASSERT_TRUE(BuildIndex(b_->dir / "base.fbin", dir, o).ok());
  auto index = Index::Open(dir, IndexOptions{});
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  SearchParams p = p_;
  auto f = Filter::Parse("far = 1");
  p.filter = &*f;
  SearchStats stats;
  std::vector<SearchResult> got;
  ASSERT_TRUE((*index)->Search(q0, p, &got, &stats).ok());
  EXPECT_EQ(stats.filter_walks, 1u);
  EXPECT_GT(stats.filter_rows, stats.filter_scan_limit);
  EXPECT_EQ(stats.filter_fallbacks, 0u);
  ASSERT_EQ(got.size(), p.k);
  std::vector<uint64_t> exact;
  for (const auto& [d, r] : by_distance)
    if (far[r] && exact.size() < p.k) exact.push_back(r);
  uint64_t hits = 0;
  for (const SearchResult& r : got) {
    const uint64_t row = uint64_t(r.key - KeyOf(0)) / 3;
    EXPECT_TRUE(far[row]) << "key " << r.key << " does not match";
    hits += std::count(exact.begin(), exact.end(), row);
  }
  EXPECT_GE(hits, 7u);  // of the exact 10 nearest matching rows
}

TEST_P(FilterTest, DeletedRowsNeverMatch) {
  std::set<uint64_t> deleted;
  {
    auto w = IndexWriter::Open(b_->index(), IndexOptions{});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    std::vector<int64_t> keys;
    // Tenant 3's rows but two, the one row of tenant 999, and every other row with tag 77.
    for (uint64_t r = 0; r < kRows; ++r) {
      if ((Tenant(r) == 3 && deleted.size() < 118) || Tenant(r) == 999 || (Has(r, 77) && r % 200 == 0)) {
        deleted.insert(r);
        keys.push_back(KeyOf(r));
      }
    }
    ASSERT_TRUE((*w)->Delete(keys.data(), keys.size()).ok());
    const auto cases = Cases();
    for (const Case& c : cases) {
      SCOPED_TRACE(c.text);
      EXPECT_GE(CheckAndRecall((*w)->reader(), c, p_, nullptr, deleted), 0.9);
    }
    ASSERT_TRUE((*w)->Checkpoint().ok());
  }
  auto index = Open();
  ASSERT_NE(index, nullptr);
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.text);
    SearchStats stats;
    EXPECT_GE(CheckAndRecall(*index, c, p_, &stats, deleted), 0.9);
  }
}

TEST_P(FilterTest, UnknownColumnsAndWrongOperatorsNameTheColumn) {
  auto index = Open();
  ASSERT_NE(index, nullptr);
  struct Bad {
    const char* text;
    const char* column;
    size_t at;
  };
  for (const Bad& b :
       {Bad{"tenant = 3", "tenant", 0}, Bad{"price < 3 AND colour = 2", "colour", 14}, Bad{"price HAS 3", "price", 0},
        Bad{"tags = 3", "tags", 0}, Bad{"tenant_id = 1.5 OR tags < 2", "tags", 19}}) {
    auto f = Filter::Parse(b.text);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    SearchParams p = p_;
    p.filter = &*f;
    std::vector<SearchResult> out;
    const Status s = index->Search(b_->queries.row(0), p, &out, nullptr);
    ASSERT_FALSE(s.ok()) << b.text;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.ToString().find(std::string("'") + b.column + "'"), std::string::npos) << s.ToString();
    EXPECT_NE(s.ToString().find("character " + std::to_string(b.at + 1)), std::string::npos) << s.ToString();
  }
}

TEST_P(FilterTest, AnIndexWithoutAttributesRefusesFilters) {
  BuildOptions o = DeterministicOptions(GetParam().type);
  o.metric = GetParam().metric;
  const std::string dir = b_->dir / "plain";
  ASSERT_TRUE(BuildIndex(b_->dir / "base.fbin", dir, o).ok());
  auto index = Index::Open(dir, IndexOptions{});
  ASSERT_TRUE(index.ok());
  EXPECT_TRUE((*index)->info().attributes.empty());
  auto f = Filter::Parse("tenant_id = 3");
  SearchParams p = p_;
  p.filter = &*f;
  std::vector<SearchResult> out;
  const Status s = (*index)->Search(b_->queries.row(0), p, &out, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.ToString().find("no attributes"), std::string::npos) << s.ToString();
}

TEST_P(FilterTest, AttributesThatDoNotFitTheBaseAreRefused) {
  BuildOptions o = o_;
  o.attributes.columns[1].ints.pop_back();
  Status s = BuildIndex(b_->dir / "base.fbin", b_->dir / "short", o);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.ToString().find("created_at"), std::string::npos) << s.ToString();
  o = o_;
  for (auto& c : o.attributes.columns) {
    c.ints.resize(c.ints.empty() ? 0 : kRows - 1);
    c.floats.resize(c.floats.empty() ? 0 : kRows - 1);
    if (!c.offsets.empty()) {
      c.offsets.resize(kRows);
      c.labels.resize(c.offsets.back());
    }
  }
  s = BuildIndex(b_->dir / "base.fbin", b_->dir / "short", o);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.ToString().find(std::to_string(kRows - 1)), std::string::npos) << s.ToString();
  o = o_;
  o.attributes.columns[2].floats[5] = std::nan("");
  s = BuildIndex(b_->dir / "base.fbin", b_->dir / "short", o);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.ToString().find("price"), std::string::npos) << s.ToString();
  o = o_;
  o.attributes.columns[3].name = "tenant_id";
  s = BuildIndex(b_->dir / "base.fbin", b_->dir / "short", o);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Index::Open(b_->dir / "short", IndexOptions{}).ok()) << "a refused build committed an index";
}

TEST_P(FilterTest, ADamagedAttrsFileFailsTheOpenNamingIt) {
  const std::string path = b_->file("attrs");
  ASSERT_TRUE(std::filesystem::exists(path));
  FlipByte(path, std::filesystem::file_size(path) / 2);
  auto index = Index::Open(b_->index(), IndexOptions{});
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.status().code(), StatusCode::kCorruption) << index.status().ToString();
  EXPECT_NE(index.status().ToString().find("attrs"), std::string::npos) << index.status().ToString();
}

// Well-formed attrs files with their checksums recorded, whose content is
// wrong: other columns than the manifest names, or label offsets that fall.
TEST_P(FilterTest, AttrsThatDisagreeWithTheManifestFailTheOpen) {
  const auto expect_corrupt = [&](const Attributes& a, const std::string& says) {
    auto bytes = AttrIndex::Serialize(a, {});
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    RewriteIndexFile(b_->index(), "attrs", *bytes);
    auto index = Index::Open(b_->index(), IndexOptions{});
    ASSERT_FALSE(index.ok()) << says;
    EXPECT_EQ(index.status().code(), StatusCode::kCorruption) << index.status().ToString();
    EXPECT_NE(index.status().ToString().find(says), std::string::npos) << index.status().ToString();
  };
  Attributes renamed = o_.attributes;
  renamed.columns[0].name = "tenant";
  expect_corrupt(renamed, "not the manifest's");
  Attributes fewer = o_.attributes;
  fewer.columns.pop_back();
  expect_corrupt(fewer, "not the manifest's");
  // Offsets that fall: written past Serialize's check by patching its bytes.
  Attributes one{{o_.attributes.columns[3]}};
  auto bytes = AttrIndex::Serialize(one, {});
  ASSERT_TRUE(bytes.ok());
  const size_t offsets_at = 4 + 4 + 8 + 4 + 4 + 4 + 4;  // header, name length, "tags", type
  const uint64_t big = 1'000'000;
  bytes->replace(offsets_at + 8 * 1, 8, reinterpret_cast<const char*>(&big), 8);  // row 0 ends past row 1
  RewriteIndexFile(b_->index(), "attrs", *bytes);
  auto index = Index::Open(b_->index(), IndexOptions{});
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.status().code(), StatusCode::kCorruption) << index.status().ToString();
  EXPECT_NE(index.status().ToString().find("attrs: attributes: column 'tags': offsets fall at row 1"),
            std::string::npos)
      << index.status().ToString();
}

TEST_P(FilterTest, ReindexKeepsTheLiveRowsAttributes) {
  std::set<uint64_t> deleted;
  {
    auto w = IndexWriter::Open(b_->index(), IndexOptions{});
    ASSERT_TRUE(w.ok());
    std::vector<int64_t> keys;
    for (uint64_t r = 0; r < kRows; r += 9) {
      deleted.insert(r);
      keys.push_back(KeyOf(r));
    }
    ASSERT_TRUE((*w)->Delete(keys.data(), keys.size()).ok());
  }
  ASSERT_TRUE(Reindex(b_->index(), BuildOptions{}).ok());
  auto index = Open();
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->info().count, kRows - deleted.size());
  EXPECT_EQ(index->info().attributes.size(), 4u);
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.text);
    EXPECT_GE(CheckAndRecall(*index, c, p_, nullptr, deleted), 0.9);
  }
  // Rows inserted with their attributes (the deleted ones again, under
  // their keys) keep them through a second reindex.
  {
    auto w = IndexWriter::Open(b_->index(), IndexOptions{});
    ASSERT_TRUE(w.ok());
    const std::vector<uint64_t> rows(deleted.begin(), deleted.end());
    ASSERT_TRUE(InsertRows(**w, rows, false).ok());
  }
  ASSERT_TRUE(Reindex(b_->index(), BuildOptions{}).ok());
  index = Open();
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->info().count, kRows);
  EXPECT_EQ(index->info().inserted, 0u);
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.text);
    EXPECT_GE(CheckAndRecall(*index, c, p_, nullptr), 0.9);
  }
}

// Rows inserted after the build carry attributes and match filters by
// them: every third row upserted (its built row deleted, the new one in
// the WAL, then in a rows segment) with the same vector and values gives
// exact filtered results over built and inserted rows alike, served by the
// writer, after a replay of the WAL and after a checkpoint.
TEST_P(FilterTest, InsertedRowsMatchByTheirAttributes) {
  std::vector<uint64_t> rows;
  for (uint64_t r = 0; r < kRows; r += 3) rows.push_back(r);
  // info: the writer's, current; a reader's is as of its open.
  const auto check_all = [&](const Index& index, const IndexInfo& info, const char* when) {
    SCOPED_TRACE(when);
    EXPECT_EQ(info.inserted, rows.size());
    for (const Case& c : Cases()) {
      SCOPED_TRACE(c.text);
      SearchStats stats;
      EXPECT_GE(CheckAndRecall(index, c, p_, &stats), 0.9);
      uint64_t matches = 0, inserted = 0;
      for (uint64_t r = 0; r < kRows; ++r) matches += c.match(r);
      for (uint64_t r : rows) inserted += c.match(r);
      EXPECT_EQ(stats.filter_rows, matches * b_->queries.rows);
      EXPECT_EQ(stats.delta_rows_scanned, inserted * b_->queries.rows) << "only matching inserted rows are scored";
    }
  };
  {
    auto w = IndexWriter::Open(b_->index(), IndexOptions{});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    // Two batches, the second crossing a chunk of the inserted rows.
    const std::vector<uint64_t> first(rows.begin(), rows.begin() + 700), rest(rows.begin() + 700, rows.end());
    ASSERT_TRUE(InsertRows(**w, first, true).ok());
    ASSERT_TRUE(InsertRows(**w, rest, true).ok());
    check_all((*w)->reader(), (*w)->info(), "writer");
  }
  auto replayed = Open();
  check_all(*replayed, replayed->info(), "replayed from the WAL");
  {
    auto w = IndexWriter::Open(b_->index(), IndexOptions{});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Checkpoint().ok());
  }
  auto index = Open();
  check_all(*index, index->info(), "from a rows segment");
  EXPECT_GE(index->info().write_bytes, rows.size() * (kDim * 4 + 3 * 8)) << "inserted attributes counted";
}

// An upsert's new values, not its old row's, decide what it matches: the
// one row of tenant 999 moves to tenant 5 and another row takes 999.
TEST_P(FilterTest, AnUpsertChangesWhatARowMatches) {
  auto w = IndexWriter::Open(b_->index(), IndexOptions{});
  ASSERT_TRUE(w.ok());
  Attributes a = MakeAttributes({17, 18});
  a.columns[0].ints = {5, 999};
  const int64_t keys[] = {KeyOf(17), KeyOf(18)};
  std::vector<float> v(&base_[17 * kDim], &base_[19 * kDim]);
  ASSERT_TRUE((*w)->Upsert(keys, v.data(), 2, a).ok());
  for (const Index* index : {&(*w)->reader(), static_cast<const Index*>(nullptr)}) {
    std::unique_ptr<Index> reopened;
    if (index == nullptr) {
      ASSERT_TRUE((*w)->Checkpoint().ok());
      reopened = Open();
      index = reopened.get();
    }
    const auto keys_of = [&](const char* text) {
      auto f = Filter::Parse(text);
      SearchParams p = p_;
      p.k = 1000;
      p.filter = &*f;
      std::vector<SearchResult> got;
      EXPECT_TRUE(index->Search(b_->queries.row(0), p, &got, nullptr).ok());
      std::set<int64_t> out;
      for (const SearchResult& r : got) out.insert(r.key);
      return out;
    };
    EXPECT_EQ(keys_of("tenant_id = 999"), std::set<int64_t>{KeyOf(18)});
    const std::set<int64_t> five = keys_of("tenant_id = 5");
    EXPECT_TRUE(five.count(KeyOf(17)));
    EXPECT_FALSE(five.count(KeyOf(18)));
    uint64_t tenant5 = 0;
    for (uint64_t r = 0; r < kRows; ++r) tenant5 += Tenant(r) == 5;
    EXPECT_EQ(five.size(), 1 + tenant5);
  }
}

TEST_P(FilterTest, InsertsWithoutTheIndexsColumnsAreRefused) {
  auto w = IndexWriter::Open(b_->index(), IndexOptions{});
  ASSERT_TRUE(w.ok());
  const int64_t key = 42;
  const float* v = &base_[0];
  const auto expect_refused = [&](const Attributes& a, const std::string& says) {
    const Status s = (*w)->Insert(&key, v, 1, a);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << says;
    EXPECT_NE(s.ToString().find(says), std::string::npos) << s.ToString();
    EXPECT_NE(s.ToString().find("nothing of the batch was applied"), std::string::npos) << s.ToString();
  };
  expect_refused(Attributes(), "tenant_id:int,created_at:int,price:float,tags:labels");
  Attributes a = MakeAttributes({0});
  a.columns.erase(a.columns.begin() + 1);
  expect_refused(a, "'created_at' (int) is missing");
  a = MakeAttributes({0});
  a.columns[3].type = AttributeType::kInt;
  a.columns[3].ints = {1};
  expect_refused(a, "'tags' is int; the index's is labels");
  a = MakeAttributes({0});
  a.columns.push_back(AttributeColumn{"colour", AttributeType::kInt, {3}, {}, {}, {}});
  expect_refused(a, "'colour' is not one of the index's");
  a = MakeAttributes({0, 1});
  expect_refused(a, "2 rows for a batch of 1");
  a = MakeAttributes({0});
  a.columns[2].floats[0] = std::nan("");
  expect_refused(a, "price");
  EXPECT_FALSE((*w)->Contains(key));
  EXPECT_EQ((*w)->info().inserted, 0u);
  // Columns in another order, and an int column for the float one, are taken.
  a = MakeAttributes({0});
  std::reverse(a.columns.begin(), a.columns.end());
  a.columns[1] = AttributeColumn{"price", AttributeType::kInt, {7}, {}, {}, {}};
  ASSERT_TRUE((*w)->Insert(&key, v, 1, a).ok());
  auto f = Filter::Parse("price = 7 AND tenant_id = 0");
  SearchParams p = p_;
  p.filter = &*f;
  std::vector<SearchResult> got;
  ASSERT_TRUE((*w)->reader().Search(v, p, &got, nullptr).ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].key, key);
  // An index built without attributes takes none.
  BuildOptions o = DeterministicOptions(GetParam().type);
  const std::string dir = b_->dir / "plain";
  ASSERT_TRUE(BuildIndex(b_->dir / "base.fbin", dir, o).ok());
  auto plain = IndexWriter::Open(dir, IndexOptions{});
  ASSERT_TRUE(plain.ok());
  const int64_t fresh = 1'000'000'000;
  const Status s = (*plain)->Insert(&fresh, v, 1, MakeAttributes({0}));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.ToString().find("no attribute columns"), std::string::npos) << s.ToString();
}

TEST_P(FilterTest, ConcurrentFilteredSearchesAgreeWithSerial) {
  auto index = Open();
  ASSERT_NE(index, nullptr);
  for (const char* text : {"tenant_id = 3", "tags HAS 1 OR price < 5", "created_at >= 0"}) {
    auto f = Filter::Parse(text);
    SearchParams p = p_;
    p.filter = &*f;
    ExpectSame(SearchAll(*index, b_->queries, p), SearchAllConcurrently(*index, b_->queries, p, 4));
  }
}

// SearchBatch with a filter per query, on two threads: each query's
// results are what a search with its own filter returns.
TEST_P(FilterTest, ABatchTakesAFilterPerQuery) {
  auto index = Open();
  ASSERT_NE(index, nullptr);
  const uint64_t n = b_->queries.rows;
  std::vector<Filter> filters;
  for (uint64_t q = 0; q < n; ++q) {
    auto f = Filter::Parse(q % 2 ? "tenant_id = " + std::to_string(q % 50) : "tags HAS " + std::to_string(q % 3));
    ASSERT_TRUE(f.ok());
    filters.push_back(std::move(*f));
  }
  std::vector<int64_t> keys(n * p_.k);
  std::vector<uint32_t> found(n);
  ASSERT_TRUE(
      index->SearchBatch(b_->queries.row(0), n, p_, 2, keys.data(), nullptr, found.data(), nullptr, filters).ok());
  for (uint64_t q = 0; q < n; ++q) {
    SearchParams p = p_;
    p.filter = &filters[q];
    std::vector<SearchResult> one;
    ASSERT_TRUE(index->Search(b_->queries.row(q), p, &one, nullptr).ok());
    ASSERT_EQ(found[q], one.size()) << "query " << q;
    for (size_t i = 0; i < one.size(); ++i) EXPECT_EQ(keys[q * p_.k + i], one[i].key) << "query " << q;
  }
  const Status s = index->SearchBatch(b_->queries.row(0), n, p_, 2, keys.data(), nullptr, nullptr, nullptr,
                                      std::span<const Filter>(filters).first(1));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.ToString().find("1 filters for " + std::to_string(n) + " queries"), std::string::npos) << s.ToString();
}

INSTANTIATE_TEST_SUITE_P(Types, FilterTest,
                         ::testing::Values(Param{IndexType::kHnsw, Metric::kL2}, Param{IndexType::kIvf, Metric::kL2},
                                           Param{IndexType::kHnsw, Metric::kCosine},
                                           Param{IndexType::kIvf, Metric::kCosine}),
                         [](const ::testing::TestParamInfo<Param>& i) {
                           return std::string(i.param.type == IndexType::kHnsw ? "Hnsw" : "Ivf") +
                                  (i.param.metric == Metric::kL2 ? "L2" : "Cosine");
                         });

}  // namespace
}  // namespace vx

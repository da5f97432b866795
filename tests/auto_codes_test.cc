// "auto" codes chosen by the serving budget (index/auto_codes.h): the pick
// fits the budget, as measured on the built index; it reaches the recall
// the choice states on the test data; named codes are not second-guessed.
#include "index/auto_codes.h"

#include <gtest/gtest.h>

#include "index_test_util.h"

namespace vx {
namespace {

class AutoCodesTest : public ::testing::TestWithParam<IndexType> {
 protected:
  void SetUp() override {
    o_ = DeterministicOptions(GetParam());
    o_.quant = "auto";
    b_ = BuildSyntheticIndex(o_);
  }
  // Bytes to serve 6000 rows of `quant` with the whole structure cached.
  uint64_t WholeBytes(const char* quant) const {
    auto q = Quantizer::Create(*ParseQuantSpec(quant), o_.metric, 32);
    const RowFootprint f = FootprintOf(GetParam(), o_.m, (*q)->code_size());
    return 6000 * (f.resident + f.structure);
  }
  // Builds with serving budget `budget` into a directory of its own; returns
  // its info and its recall@10 at the default search parameters.
  std::pair<IndexInfo, double> BuildWithBudget(uint64_t budget) {
    BuildOptions o = o_;
    o.serve_memory_bytes = budget;
    const std::string dir = b_->dir / ("budget-" + std::to_string(budget));
    const Status s = BuildIndex(b_->dir / "base.fbin", dir, o);
    EXPECT_TRUE(s.ok()) << s.ToString();
    auto index = Index::Open(dir, IndexOptions{});
    EXPECT_TRUE(index.ok());
    SearchParams p;
    p.probes = 3;  // IVF: 8 lists
    std::vector<std::vector<SearchResult>> got(b_->queries.rows);
    for (uint64_t i = 0; i < b_->queries.rows; ++i)
      EXPECT_TRUE((*index)->Search(b_->queries.row(i), p, &got[i], nullptr).ok());
    return {(*index)->info(), Recall(got, b_->gt, 10)};
  }
  // The recall the choice states ("... on a sample of N rows: 0.987").
  static double StatedRecall(const std::string& why) {
    const size_t at = why.find("rows: ");
    EXPECT_NE(at, std::string::npos) << why;
    return at == std::string::npos ? 0 : std::stod(why.substr(at + 6));
  }
  BuildOptions o_;
  std::unique_ptr<Built> b_;
};

// Plenty of memory: sq8, stated and reached.
TEST_P(AutoCodesTest, WithRoomToSpareItIsSq8) {
  const auto [info, recall] = BuildWithBudget(1ull << 30);
  EXPECT_EQ(info.quant, "sq8");
  EXPECT_NE(info.quant_choice.find("auto: sq8 ("), std::string::npos) << info.quant_choice;
  EXPECT_NE(info.quant_choice.find("the whole"), std::string::npos) << info.quant_choice;
  EXPECT_GE(StatedRecall(info.quant_choice), kAutoTargetRecall) << info.quant_choice;
  EXPECT_GE(recall, kAutoTargetRecall);
}

// Each budget between two rungs picks the lower rung, whose index then
// fits it: resident bytes plus the whole structure file, as built. The
// recall reached is within 0.05 of the recall the choice states.
TEST_P(AutoCodesTest, EachBudgetPicksTheMostAccurateCodesThatFit) {
  const struct {
    const char* above;  // the rung just too big
    const char* want;
  } cases[] = {{"sq8", "rabitq:4"}, {"rabitq:4", "rabitq:2"}, {"rabitq:2", "rabitq:1"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.want);
    // 0.9 of the budget is for the structure and codes: just short of `above`.
    const uint64_t budget = (WholeBytes(c.above) - 1) * 10 / 9;
    ASSERT_LT(WholeBytes(c.want), budget * 9 / 10);
    const auto [info, recall] = BuildWithBudget(budget);
    EXPECT_EQ(info.quant, ParseQuantSpec(c.want)->ToString()) << info.quant_choice;
    EXPECT_LE(info.resident_bytes + info.structure_bytes, budget) << info.quant_choice;
    EXPECT_GE(recall, StatedRecall(info.quant_choice) - 0.05) << info.quant_choice;
  }
}

// Attributes' RAM comes out of the budget: a budget sq8 fits alone picks
// smaller codes beside an int column, and the index, attributes counted,
// fits it.
TEST_P(AutoCodesTest, AttributesComeOutOfTheBudget) {
  const uint64_t budget = WholeBytes("sq8") * 10 / 9 + 4096;
  EXPECT_EQ(BuildWithBudget(budget).first.quant, "sq8");
  AttributeColumn a{"a", AttributeType::kInt, {}, {}, {}, {}};
  for (uint64_t r = 0; r < 6000; ++r) a.ints.push_back(int64_t(r * 7919 % 6000));
  o_.attributes.columns = {a};
  const auto [info, recall] = BuildWithBudget(budget);
  EXPECT_NE(info.quant, "sq8") << info.quant_choice;
  EXPECT_NE(info.quant_choice.find("of attributes"), std::string::npos) << info.quant_choice;
  EXPECT_GT(info.attribute_bytes, 6000u * 12);
  EXPECT_LE(info.resident_bytes + info.structure_bytes, budget) << info.quant_choice;
}

// Below every rung: the smallest codes, saying what serving needs.
TEST_P(AutoCodesTest, ABudgetNothingFitsGetsTheSmallestCodesAndSaysWhatItNeeds) {
  const auto [info, recall] = BuildWithBudget(10000);
  EXPECT_EQ(info.quant, "rabitq");  // rabitq:1
  EXPECT_NE(info.quant_choice.find("they do not fit the 1 MB serving budget: serving needs"), std::string::npos)
      << info.quant_choice;
}

// Named codes are used as named, with no choice recorded.
TEST_P(AutoCodesTest, NamedCodesAreNotChosen) {
  BuildOptions o = o_;
  o.quant = "pq:8";
  o.serve_memory_bytes = 1;
  ASSERT_TRUE(BuildIndex(b_->dir / "base.fbin", b_->dir / "named", o).ok());
  auto index = Index::Open(b_->dir / "named", IndexOptions{});
  ASSERT_TRUE(index.ok());
  EXPECT_EQ((*index)->info().quant, "pq:8");
  EXPECT_TRUE((*index)->info().quant_choice.empty());
}

INSTANTIATE_TEST_SUITE_P(BothTypes, AutoCodesTest, ::testing::Values(IndexType::kHnsw, IndexType::kIvf),
                         [](const auto& info) { return std::string(IndexTypeName(info.param)); });

}  // namespace
}  // namespace vx

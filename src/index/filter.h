// The parsed form of a Filter (vx/index.h): a tree of AND, OR and NOT over
// conditions on one column each. Parse (filter.cc) checks the syntax only;
// AttrIndex::Match (attrs.h) checks each column against the index's and
// evaluates the tree to the set of matching rows.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vx/index.h"

namespace vx {

// A number as written: an integer (exact, for int columns) or not.
struct FilterValue {
  bool is_int = true;
  int64_t i = 0;
  double f = 0;  // the value as a double, either way
};

struct Filter::Node {
  enum class Kind { kAnd, kOr, kNot, kCompare, kBetween, kIn, kHas };
  enum class Op { kEq, kNe, kLt, kLe, kGt, kGe };
  Kind kind = Kind::kCompare;
  // kAnd, kOr: two or more; kNot: one.
  std::vector<std::shared_ptr<const Node>> kids;
  // A condition: its column, where the column's name starts in the text
  // (0-based), and its operands (kCompare, kHas: one; kBetween: two, low
  // and high; kIn: one or more).
  std::string column;
  size_t at = 0;
  Op op = Op::kEq;
  bool negated = false;  // kIn: NOT IN
  std::vector<FilterValue> values;
};

}  // namespace vx

// Filter::Parse: a recursive-descent parser of the filter grammar
//   expr    = and { OR and }
//   and     = unary { AND unary }
//   unary   = NOT unary | primary
//   primary = "(" expr ")" | column cond
//   cond    = op number | BETWEEN number AND number | [NOT] IN "(" number {"," number} ")" | HAS number
//   op      = "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
// Errors point at the character (1-based, as an editor counts).
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "index/filter.h"

namespace vx {
namespace {

using Node = Filter::Node;
using NodePtr = std::shared_ptr<const Node>;

class Parser {
 public:
  explicit Parser(const std::string& text) : t_(text) {}

  Result<NodePtr> Parse() {
    VX_ASSIGN_OR_RETURN(NodePtr root, Expr(0));
    Skip();
    if (i_ < t_.size()) return Error("expected AND, OR or the end of the filter");
    return root;
  }

 private:
  // Nesting deeper than this is refused rather than exhausting the stack.
  static constexpr int kMaxDepth = 200;

  Status Error(const std::string& what) const {
    std::string near = i_ < t_.size() ? "'" + t_.substr(i_, 12) + "'" : "the end";
    // The text echoed whole unless long (a generated filter can be).
    const std::string text =
        t_.size() <= 240 ? t_ : t_.substr(0, 240) + "... (" + std::to_string(t_.size()) + " chars)";
    return Status::InvalidArgument("filter: at character " + std::to_string(i_ + 1) + " (" + near + "): " + what +
                                   ", in: " + text);
  }
  void Skip() {
    while (i_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[i_]))) ++i_;
  }
  static bool IdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
  static bool IdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
  // Consumes keyword `kw` (case-insensitive, whole word) if it is next.
  bool Keyword(const char* kw) {
    Skip();
    size_t n = 0;
    while (kw[n] != '\0') {
      if (i_ + n >= t_.size() || std::toupper(static_cast<unsigned char>(t_[i_ + n])) != kw[n]) return false;
      ++n;
    }
    if (i_ + n < t_.size() && IdentChar(t_[i_ + n])) return false;
    i_ += n;
    return true;
  }
  bool Symbol(const char* sym) {
    Skip();
    if (t_.compare(i_, std::char_traits<char>::length(sym), sym) != 0) return false;
    i_ += std::char_traits<char>::length(sym);
    return true;
  }

  Result<NodePtr> Expr(int depth) {
    if (depth > kMaxDepth) return Error("nested more than " + std::to_string(kMaxDepth) + " deep");
    return Chain(depth, "OR", Node::Kind::kOr);
  }
  // One level of AND (below OR) or OR (over AND).
  Result<NodePtr> Chain(int depth, const char* kw, Node::Kind kind) {
    const auto next = [&]() -> Result<NodePtr> {
      return kind == Node::Kind::kOr ? Chain(depth, "AND", Node::Kind::kAnd) : Unary(depth);
    };
    VX_ASSIGN_OR_RETURN(NodePtr first, next());
    if (!Keyword(kw)) return first;
    auto n = std::make_shared<Node>();
    n->kind = kind;
    n->kids.push_back(std::move(first));
    do {
      VX_ASSIGN_OR_RETURN(NodePtr kid, next());
      n->kids.push_back(std::move(kid));
    } while (Keyword(kw));
    return NodePtr(std::move(n));
  }
  Result<NodePtr> Unary(int depth) {
    if (Keyword("NOT")) {
      if (depth + 1 > kMaxDepth) return Error("nested more than " + std::to_string(kMaxDepth) + " deep");
      VX_ASSIGN_OR_RETURN(NodePtr kid, Unary(depth + 1));
      auto n = std::make_shared<Node>();
      n->kind = Node::Kind::kNot;
      n->kids.push_back(std::move(kid));
      return NodePtr(std::move(n));
    }
    if (Symbol("(")) {
      VX_ASSIGN_OR_RETURN(NodePtr inner, Expr(depth + 1));
      if (!Symbol(")")) return Error("expected ')'");
      return inner;
    }
    return Condition();
  }
  Result<NodePtr> Condition() {
    Skip();
    if (i_ >= t_.size() || !IdentStart(t_[i_])) return Error("expected a column name, NOT or '('");
    auto n = std::make_shared<Node>();
    n->at = i_;
    while (i_ < t_.size() && IdentChar(t_[i_])) n->column += t_[i_++];
    static constexpr std::pair<const char*, Node::Op> kOps[] = {
        {"<=", Node::Op::kLe}, {">=", Node::Op::kGe}, {"!=", Node::Op::kNe}, {"<>", Node::Op::kNe},
        {"=", Node::Op::kEq},  {"<", Node::Op::kLt},  {">", Node::Op::kGt}};
    for (const auto& [sym, op] : kOps) {
      if (!Symbol(sym)) continue;
      n->kind = Node::Kind::kCompare;
      n->op = op;
      return Operands(std::move(n), 1);
    }
    if (Keyword("BETWEEN")) {
      n->kind = Node::Kind::kBetween;
      VX_RETURN_IF_ERROR(Number(n.get()));
      if (!Keyword("AND")) return Error("expected AND (BETWEEN low AND high)");
      VX_RETURN_IF_ERROR(Number(n.get()));
      return NodePtr(std::move(n));
    }
    if (Keyword("HAS")) {
      n->kind = Node::Kind::kHas;
      return Operands(std::move(n), 1);
    }
    n->negated = Keyword("NOT");
    if (Keyword("IN")) {
      n->kind = Node::Kind::kIn;
      if (!Symbol("(")) return Error("expected '(' after IN");
      do {
        VX_RETURN_IF_ERROR(Number(n.get()));
      } while (Symbol(","));
      if (!Symbol(")")) return Error("expected ',' or ')' in the IN list");
      return NodePtr(std::move(n));
    }
    return Error(n->negated ? "expected IN after NOT"
                            : "expected an operator (=, !=, <, <=, >, >=, BETWEEN, IN, NOT IN, HAS) after column '" +
                                  n->column + "'");
  }
  Result<NodePtr> Operands(std::shared_ptr<Node> n, int count) {
    for (int j = 0; j < count; ++j) VX_RETURN_IF_ERROR(Number(n.get()));
    return NodePtr(std::move(n));
  }
  // A number: an integer (int64) or a decimal with a fraction or exponent.
  Status Number(Node* n) {
    Skip();
    const size_t start = i_;
    if (i_ < t_.size() && (t_[i_] == '-' || t_[i_] == '+')) ++i_;
    bool digits = false, is_int = true;
    while (i_ < t_.size()) {
      const char c = t_[i_];
      if (std::isdigit(static_cast<unsigned char>(c))) {
        digits = true;
      } else if (c == '.' || c == 'e' || c == 'E') {
        is_int = false;
        if ((c == 'e' || c == 'E') && i_ + 1 < t_.size() && (t_[i_ + 1] == '-' || t_[i_ + 1] == '+')) ++i_;
      } else {
        break;
      }
      ++i_;
    }
    const std::string word = t_.substr(start, i_ - start);
    if (!digits || (i_ < t_.size() && IdentChar(t_[i_]))) {
      i_ = start;
      return Error("expected a number");
    }
    FilterValue v;
    v.is_int = is_int;
    errno = 0;
    char* end = nullptr;
    if (is_int) {
      v.i = std::strtoll(word.c_str(), &end, 10);
      v.f = static_cast<double>(v.i);
    } else {
      v.f = std::strtod(word.c_str(), &end);
    }
    if (errno == ERANGE || end != word.c_str() + word.size() || !std::isfinite(v.f)) {
      i_ = start;
      return Error("'" + word + "' is not a number in range");
    }
    n->values.push_back(v);
    return Status::Ok();
  }

  const std::string& t_;
  size_t i_ = 0;
};

}  // namespace

Result<Filter> Filter::Parse(const std::string& text) {
  Filter f;
  f.text_ = text;
  VX_ASSIGN_OR_RETURN(f.root_, Parser(f.text_).Parse());
  return f;
}

}  // namespace vx

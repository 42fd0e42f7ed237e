// libFuzzer target: the issues plugin's op parser and validator, and what consumes their
// output (the board, queries, order keys, closing keywords). Beyond not crashing:
//  - an op parse_op accepts validates, and its canonical encoding parses back to the same op
//    (when it fits in an event) and is a fixed point of encode_op;
//  - applying it never throws, and a refusal names a reason;
//  - a key key_between returns is valid and strictly between its bounds.
// Input "@@" is replaced by the id of an issue the board already holds, so ops reach it.
// Input starting with 'K' is two order keys (split at the first '\n') for key_between.
#include <cstdint>
#include <string>
#include <string_view>

#include "board.hpp"
#include "commit_refs.hpp"
#include "limits.hpp"
#include "ops.hpp"
#include "order_key.hpp"
#include "query.hpp"

using namespace mesh::issues;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void fuzz_keys(std::string_view in) {
  auto nl = in.find('\n');
  std::string_view a = in.substr(0, nl);
  std::string_view b = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  std::uint64_t state = in.size();
  Random random = [&state] {
    return state = state * 6364136223846793005ull + 1442695040888963407ull;
  };
  auto k = key_between(a, b, random);
  if (!k) return;
  check(valid_order_key(*k));
  check(a.empty() || a < *k);
  check(b.empty() || *k < b);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  if (!in.empty() && in[0] == 'K') {
    fuzz_keys(std::string_view(in).substr(1));
    return 0;
  }
  Board board;
  const std::string origin = "mesh:fuzz";
  Op create;
  create.kind = Kind::create;
  create.repo = "my-app";
  create.num = 1;
  create.title = "t";
  create.order = "a0";
  board.apply(EventIn{origin, 1, 1, 1, encode_op(create)});
  const std::string id =
      board.repo_names().empty() ? std::string() : board.repo("my-app")->issues.begin()->first;
  for (std::size_t at; (at = in.find("@@")) != std::string::npos;) in.replace(at, 2, id);

  ParsedOp parsed = parse_op(in);
  if (parsed.op) {
    check(!validate(*parsed.op));
    std::string canonical = encode_op(*parsed.op);
    if (canonical.size() <= kMaxPayload) {
      ParsedOp again = parse_op(canonical);
      check(again.op.has_value());
      check(*again.op == *parsed.op);
      check(encode_op(*again.op) == canonical);
    }
  } else {
    check(!parsed.problem.reason.empty() && !parsed.problem.message.empty());
  }
  ApplyResult r = board.apply(EventIn{origin, 2, 2, 2, in});
  check(r.outcome != Outcome::duplicate && r.outcome != Outcome::deferred);
  check(r.outcome != Outcome::refused || !r.problem.reason.empty());
  // The read side over whatever the op did.
  for (const auto& v : list_issues(board, "my-app", ListFilter{StateFilter::all, {}})) {
    check(!v.ref.empty() && v.ref[0] == '#');
  }
  Resolved res = resolve(board, "my-app", std::string_view(in).substr(0, 80));
  check(res.issue || !res.problem.reason.empty());
  for (const auto& ref : closing_refs(in)) check(ref.ref.size() >= 2 && ref.ref[0] == '#');
  return 0;
}

// libFuzzer target: `ci` records from the network, and the run fold they feed. The input is a
// sequence of records, each "<origin byte><lamport byte><json>\n". Whatever decodes must encode
// back to itself; the fold must not crash or accept a state that breaks its invariants (a
// terminal run with an unfinished job, a running run without a claim).
#include <cstdint>
#include <string>
#include <string_view>

#include "records.hpp"
#include "run_book.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mesh::ci;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  RunBook book(16);
  std::uint64_t seq = 0;
  while (in.size() > 2) {
    char origin = static_cast<char>('a' + static_cast<unsigned char>(in[0]) % 4);
    std::uint64_t lamport = static_cast<unsigned char>(in[1]);
    in.remove_prefix(2);
    auto nl = in.find('\n');
    std::string_view json = in.substr(0, nl);
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
    auto rec = decode_record(json);
    if (!rec) continue;
    auto again = encode_record(*rec);
    check(again.ok());
    auto back = decode_record(*again);
    check(back.ok());
    check(*encode_record(*back) == *again);
    Envelope from{"mesh:" + std::string(52, origin), ++seq, lamport, 1'000'000 + seq * 1000};
    book.apply(*rec, from);
  }
  for (const RunState* s : book.runs()) {
    check(s->created);
    if (is_terminal(s->phase)) {
      for (const auto& j : s->jobs) check(is_terminal(j.phase));
    }
    if (s->phase == RunPhase::running) check(s->current() && s->current()->claimed);
    if (s->phase == RunPhase::queued) check(s->attempts.empty());
  }
  return 0;
}

// libFuzzer target: the pkt-line readers of the smart HTTP service, fed bytes straight from a
// client's request body (the receive-pack command sniffer) or from git's output (the sideband
// tracker), in pieces cut at arbitrary points. Beyond not crashing: every command the sniffer
// reports came from a well-formed line, piecewise feeding gives the same result as feeding at
// once, and the framing helpers round-trip.
#include <cstdint>
#include <string>
#include <string_view>

#include "pkt_line.hpp"
#include "receive_commands.hpp"
#include "sideband.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mesh::repl;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // The first byte picks how to cut the rest into pieces.
  std::size_t piece = size > 0 ? 1 + data[0] % 97 : 1;
  std::string_view body = size > 0 ? in.substr(1) : in;

  CommandSniffer whole, pieces;
  whole.feed(body);
  for (std::size_t i = 0; i < body.size(); i += piece) pieces.feed(body.substr(i, piece));
  check(whole.sideband() == pieces.sideband());
  check(whole.commands() == pieces.commands());
  check(whole.report_status() == pieces.report_status());
  check(whole.list().size() == pieces.list().size());
  check(whole.list().size() <= kMaxSniffedCommands);
  for (const auto& c : whole.list()) {
    check(c.old_oid.size() == 40 && c.new_oid.size() == 40);
    check(c.ref.size() <= kPktMaxData);
  }

  SidebandTracker t1, t2;
  t1.feed(body);
  for (std::size_t i = 0; i < body.size(); i += piece) t2.feed(body.substr(i, piece));
  check(t1.pack_on_sideband() == t2.pack_on_sideband());

  // Framing: what pkt_line makes, pkt_length reads back; sideband messages are well framed.
  if (auto p = pkt_line(body)) {
    check(p->size() == body.size() + 4);
    auto len = pkt_length(std::string_view(*p).substr(0, 4));
    check(len && *len == p->size());
  } else {
    check(body.size() > kPktMaxData);
  }
  for (int band : {1, 2}) {
    std::string msg = sideband_message(body.substr(0, 70000), band);
    std::string_view rest = msg;
    while (!rest.empty()) {
      auto len = pkt_length(rest.substr(0, 4));
      check(len && *len > 5 && *len <= rest.size());
      check(*len <= (band == 2 ? kPktMax : 1000));
      check(rest[4] == '\x02');
      rest.remove_prefix(*len);
    }
  }
  return 0;
}

// git's sideband framing on the server side: messages for the user ("remote: ...") on
// channel 2, inserted into receive-pack's and upload-pack's output before their final flush.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mesh::repl {

// One sideband channel 2 packet per line of `msg`, each within the negotiated packet size
// (sideband 2: side-band-64k, 1: side-band's 1000 bytes); long lines are cut.
std::string sideband_message(std::string_view msg, int sideband);

// Follows upload-pack's output as it streams past, packet by packet, to tell whether a
// message may go before its final flush: only once pack data went out on sideband channel 1
// (protocol v0/v1 with side-band, or a v2 "packfile" section). Anything else (a ref
// advertisement, ls-refs, a negotiation round without a pack, a pack without sideband) takes
// no message. Holds no data, only the framing state. Messages then go in 1000-byte packets,
// which every sideband client accepts.
class SidebandTracker {
 public:
  void feed(std::string_view d);
  bool pack_on_sideband() const { return pack_ && !broken_; }

 private:
  char header_[4] = {};
  std::size_t have_header_ = 0;
  std::size_t left_ = 0;  // payload bytes still to skip in the current packet
  bool at_payload_start_ = false;
  bool pack_ = false;
  bool broken_ = false;
};

}  // namespace mesh::repl

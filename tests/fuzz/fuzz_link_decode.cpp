// libFuzzer target: decode_link must never crash, and anything it accepts must re-encode to
// exactly the same bytes (canonical framing). Framed events go through the event decoder too.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "mesh/gossip/link_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto msg = mesh::gossip::decode_link(in);
  if (!msg) {
    (void)mesh::gossip::reject_reason(msg.error());
    return 0;
  }
  std::string again = mesh::gossip::encode_link(*msg);
  if (again != in) std::abort();
  if (auto* ev = std::get_if<mesh::gossip::EventsMsg>(&*msg)) {
    for (const auto& raw : ev->events) (void)mesh::gossip::decode(raw);
  } else if (auto* live = std::get_if<mesh::gossip::LiveMsg>(&*msg)) {
    (void)mesh::gossip::decode(live->event);
  }
  return 0;
}

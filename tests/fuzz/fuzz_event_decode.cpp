// libFuzzer target: decode must never crash, and anything it accepts must re-encode to exactly
// the same bytes (canonical encoding) and survive verify() without crashing.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "mesh/gossip/event.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto ev = mesh::gossip::decode({data, size});
  if (!ev) {
    (void)mesh::gossip::reject_reason(ev.error());
    return 0;
  }
  auto again = mesh::gossip::encode(*ev);
  if (again.size() != size || std::memcmp(again.data(), data, size) != 0) std::abort();
  (void)mesh::gossip::verify(*ev, 0, [](const mesh::identity::PublicKey&) { return true; });
  return 0;
}

// libFuzzer target: parse_token on arbitrary text, and on "mesh1." + base64url(arbitrary bytes)
// so the fuzzer reaches the binary parser instead of stopping at the prefix.
#include <cstdint>
#include <string>
#include <string_view>

#include "mesh/base/encoding.hpp"
#include "mesh/gossip/token.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)mesh::gossip::parse_token(text, 0);
  std::string wrapped = "mesh1." + mesh::to_base64url({data, size});
  auto t = mesh::gossip::parse_token(wrapped, 0);
  if (t) {
    // Only a correctly signed token gets here; the code must still be well-formed.
    auto code = mesh::gossip::confirmation_code(t->inviter, t->inviter, t->secret);
    if (code.size() != 6) __builtin_trap();
  }
  return 0;
}

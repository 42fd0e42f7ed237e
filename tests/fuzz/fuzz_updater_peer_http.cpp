// libFuzzer target: the HTTP client of `mesh update --from PEER` (peer_http.hpp) reading an
// arbitrary response from a member, split into reads at arbitrary points. Whatever it accepts
// stays within the body limit, and it never reads past what it was given.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "peer_http.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

class Bytes final : public mesh::updater::ByteStream {
 public:
  Bytes(std::string_view data, std::size_t step) : data_(data), step_(step) {}
  long read(char* buf, std::size_t cap) override {
    std::size_t n = std::min({cap, step_, data_.size()});
    std::copy_n(data_.data(), n, buf);
    data_.remove_prefix(n);
    return static_cast<long>(n);
  }
  bool write(std::string_view) override { return true; }

 private:
  std::string_view data_;
  std::size_t step_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The first byte picks the read size (1..256), the rest is the response.
  std::size_t step = static_cast<std::size_t>(data[0]) + 1;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  constexpr std::uint64_t kMax = 4096;
  Bytes stream(in, step);
  std::uint64_t body = 0;
  auto head = mesh::updater::http_get(stream, "/updater/v1/releases", std::nullopt, kMax, {},
                                      [&](std::string_view piece) {
                                        body += piece.size();
                                        return true;
                                      });
  check(body <= kMax);
  check(body <= in.size());
  if (head) check(head->status >= 100 && head->status <= 599);
  (void)mesh::updater::parse_response_head(in);
  return 0;
}
